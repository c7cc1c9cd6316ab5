"""Grad mode is per thread and anomaly mode process-wide, as in PyTorch; the engine and
the optimizers can run in several threads on separate graphs (shared scratch buffers
are per thread)."""
import threading

import numpy as np

import tinygrad_seq as ts
from tinygrad_seq import nn, optim


def _in_thread(fn):
    result, errors = {}, []

    def run():
        try:
            result["value"] = fn()
        except BaseException as e:        # re-raised in the test's thread
            errors.append(e)
    t = threading.Thread(target=run)
    t.start()
    return t, result, errors


def test_no_grad_in_one_thread_does_not_stop_recording_in_another():
    inside, release = threading.Event(), threading.Event()

    def hold_no_grad():
        with ts.no_grad():
            inside.set()
            release.wait(10)
            return ts.is_grad_enabled()
    t, result, errors = _in_thread(hold_no_grad)
    assert inside.wait(10)
    x = ts.ones(2, requires_grad=True)
    y = (x * 3).sum()                         # recorded here while the other thread is in no_grad
    assert ts.is_grad_enabled() and y.requires_grad
    y.backward()
    assert x.grad.tolist() == [3.0, 3.0]
    release.set()
    t.join()
    assert not errors and result["value"] is False


def test_overlapping_no_grad_blocks_in_two_threads_restore_each_threads_mode():
    steps = [threading.Event() for _ in range(4)]

    def a():
        with ts.no_grad():
            steps[0].set()
            steps[1].wait(10)                 # b entered
        steps[2].set()                        # a left first
        return ts.is_grad_enabled()

    def b():
        steps[0].wait(10)
        with ts.no_grad():
            steps[1].set()
            steps[2].wait(10)
        return ts.is_grad_enabled()
    ta, ra, ea = _in_thread(a)
    tb, rb, eb = _in_thread(b)
    ta.join()
    tb.join()
    assert not ea and not eb
    assert ra["value"] is True and rb["value"] is True and ts.is_grad_enabled()


def test_one_mode_object_entered_by_two_threads():
    mode = ts.no_grad()
    entered, release = threading.Barrier(2), threading.Event()

    def use():
        with mode:
            entered.wait(10)
            release.wait(10)
        return ts.is_grad_enabled()
    threads = [_in_thread(use) for _ in range(2)]
    release.set()
    for t, _, errors in threads:
        t.join()
        assert not errors
    assert all(r["value"] is True for _, r, _ in threads)


def test_anomaly_mode_is_process_wide():
    with ts.detect_anomaly():
        t, result, errors = _in_thread(ts.is_anomaly_enabled)
        t.join()
    assert result["value"] is True and not ts.is_anomaly_enabled()


def _train(seed, steps, evaluate, sparse):
    """A small model trained with SGD; with `evaluate`, every step also runs a forward
    pass under no_grad (as a validation loop would). Returns the final weights."""
    rng = np.random.default_rng(seed)     # not ts.manual_seed: one generator for all threads
    emb = nn.Embedding(20, 4, sparse=sparse)
    lin = nn.Linear(4, 1)
    with ts.no_grad():
        emb.weight.copy_(ts.tensor(rng.standard_normal((20, 4)).astype(np.float32)))
        lin.weight.copy_(ts.tensor(rng.standard_normal((1, 4)).astype(np.float32)))
        lin.bias.zero_()
    opt = optim.SGD(list(emb.parameters()) + list(lin.parameters()), lr=0.05)
    data = rng.integers(0, 20, (steps, 8))
    targets = rng.standard_normal((steps, 8, 1)).astype(np.float32)
    for i in range(steps):
        if evaluate:
            with ts.no_grad():
                lin(emb(ts.tensor(data[i]))).sum()
        loss = ((lin(emb(ts.tensor(data[i]))) - ts.tensor(targets[i])) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return emb.weight.detach().numpy(), lin.weight.detach().numpy()


def test_two_free_running_training_loops_give_the_single_threaded_results():
    want = [_train(1, 150, False, True), _train(2, 150, True, True),
            _train(3, 150, True, False)]
    runs = [_in_thread(lambda s=s, e=e, sp=sp: _train(s, 150, e, sp))
            for s, e, sp in ((1, False, True), (2, True, True), (3, True, False))]
    for (t, result, errors), expected in zip(runs, want):
        t.join()
        assert not errors, errors
        for got, ref in zip(result["value"], expected):
            np.testing.assert_array_equal(got, ref)
