"""The host array pool (backend/pool.py, ts.memory): its ownership rule, and that no
value a user can reach ever changes under reuse across training steps."""
import threading

import numpy as np
import pytest

import tinygrad_seq as ts
from tinygrad_seq import nn
from tinygrad_seq.backend import pool

BIG = (64, 1024)             # 256 KiB of float32: above pool.MIN_BYTES


@pytest.fixture(autouse=True)
def fresh_pool():
    old = pool.limit()
    pool.set_limit(1 << 30)
    pool.empty()
    yield
    pool.set_limit(old)
    pool.empty()


def test_an_unshared_array_is_kept_and_taken_back():
    pool.give(np.empty(BIG, np.float32))
    assert pool.stats()["arrays"] == 1
    hits, misses = pool.stats()["hits"], pool.stats()["misses"]
    a = pool.take(np, BIG, np.float32)
    assert pool.stats()["arrays"] == 0 and pool.stats()["hits"] == hits + 1
    assert a.shape == BIG and a.dtype == np.float32
    b = pool.take(np, BIG, np.float32)          # empty again: a new array
    assert b is not a and pool.stats()["misses"] == misses + 1


def test_an_array_someone_holds_is_refused():
    refused = pool.stats()["refused"]
    held = np.empty(BIG, np.float32)
    pool.give(held)                               # the caller's variable holds it
    view_base = np.empty(BIG, np.float32)
    view = view_base[1:]
    pool.give(view_base)
    tensor_array = np.empty(BIG, np.float32)
    t = ts.from_numpy(tensor_array)           # shares the array
    assert t.array is tensor_array
    pool.give(tensor_array)
    assert pool.stats()["arrays"] == 0 and pool.stats()["refused"] == refused + 3
    del view, t


def test_the_pool_keeps_only_what_its_rules_allow():
    pool.give(np.empty(8, np.float32))                        # too small
    pool.give(np.empty(BIG, np.float32)[:, ::2])              # a view: never
    pool.give(np.empty(BIG, np.float32).T)                    # not C-contiguous
    assert pool.stats()["arrays"] == 0
    for _ in range(pool.PER_SHAPE + 2):
        pool.give(np.empty(BIG, np.float32))
    assert pool.stats()["arrays"] == pool.PER_SHAPE
    pool.set_limit(BIG[0] * BIG[1] * 4)                       # room for one
    pool.empty()
    pool.give(np.empty(BIG, np.float32))
    pool.give(np.empty(BIG, np.float32))          # no room, and no other shape to free
    assert pool.stats()["arrays"] == 1
    pool.set_limit(0)                                         # off: nothing kept, nothing taken
    assert pool.stats()["arrays"] == 0
    pool.give(np.empty(BIG, np.float32))
    assert pool.stats()["arrays"] == 0


def test_the_pool_is_per_thread():
    pool.give(np.empty(BIG, np.float32))
    seen = {}

    def other():
        seen["arrays"] = pool.stats()["arrays"]
        seen["taken_from_pool"] = pool.take(np, BIG, np.float32) is not None and \
            pool.stats()["hits"]
    th = threading.Thread(target=other)
    th.start()
    th.join()
    assert seen == {"arrays": 0, "taken_from_pool": 0}
    assert pool.stats()["arrays"] == 1


def test_memory_api_checks_its_arguments():
    with pytest.raises(ValueError, match="-1"):
        ts.memory.set_pool_limit(-1)
    with pytest.raises(ValueError, match="1.5"):
        ts.memory.set_pool_limit(1.5)
    with pytest.raises(TypeError, match="'yes'"):
        ts.memory.retain_freed_memory("yes")
    ts.memory.set_pool_limit(1 << 20)
    assert ts.memory.pool_limit() == 1 << 20
    ts.memory.empty_cache()
    assert ts.memory.pool_stats()["bytes"] == 0


def test_retain_freed_memory_applies_and_restores():
    applied = ts.memory.retain_freed_memory(True)
    assert ts.memory.retain_freed_memory(False) == applied
    assert isinstance(applied, bool)


# ---------------------------------------------------------------- across training steps

def _snapshot(values):
    return [np.array(v, copy=True) for v in values]


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM", "LSTM_proj"])
def test_values_users_hold_never_change_under_reuse(kind):
    """Training steps of a fused recurrent layer (the pool's users), with a user who
    keeps every output, state, gradient and hooked gradient of every step, retains
    one step's graph and backpropagates it again later, and reads a node's saved
    arrays: none of what they hold may change as later steps reuse pool arrays."""
    ts.manual_seed(0)
    T, N, I, H = 12, 16, 24, 96                      # buffers of 72-288 KiB: pooled
    if kind == "LSTM_proj":
        layer = nn.LSTM(I, H, proj_size=48)
    else:
        layer = getattr(nn, kind)(I, H)
    x = ts.randn(T, N, I, requires_grad=True)
    kept, hooked = [], []
    retained = None
    for step in range(6):
        layer.zero_grad()
        x.grad = None
        out, state = layer(x * (1.0 + 0.1 * step))
        states = state if isinstance(state, tuple) else (state,)
        out.register_hook(lambda g: hooked.append((g.array, g.array.copy())))
        loss = (out * out).sum()
        retain = step == 2
        loss.backward(retain_graph=retain)
        if retain:
            retained = (loss, [p.grad.array.copy() for p in layer.parameters()])
        held = [out.array, x.grad.array] + [s.array for s in states] + \
            [p.grad.array for p in layer.parameters()]
        kept.append((held, _snapshot(held)))
    assert ts.memory.pool_stats()["hits"] > 0       # the pool was used
    for held, copies in kept:
        for a, c in zip(held, copies):
            np.testing.assert_array_equal(a, c)
    for a, c in hooked:
        np.testing.assert_array_equal(a, c)
    # the retained graph still gives the same gradients
    loss, grads = retained
    layer.zero_grad()
    loss.backward()
    for p, g in zip(layer.parameters(), grads):
        np.testing.assert_allclose(p.grad.array, g, rtol=1e-5, atol=1e-6)


def test_a_node_whose_saved_arrays_a_user_reads_keeps_them():
    """out.grad_fn's workspaces read by the user before backward: kept out of the pool."""
    layer = nn.LSTM(24, 96)
    x = ts.randn(12, 16, 24)
    out, _ = layer(x)
    node = out.grad_fn
    gates = node.A                                   # a user's reference into the node
    copy = gates.copy()
    out.sum().backward()
    for _ in range(3):
        layer.zero_grad()
        o, _ = layer(x * 2.0)
        o.sum().backward()
    np.testing.assert_array_equal(gates, copy)


def test_steps_give_the_same_gradients_with_and_without_the_pool():
    def run():
        ts.manual_seed(1)
        layer = nn.GRU(24, 96)
        x = ts.randn(12, 16, 24)
        grads = []
        for step in range(4):
            layer.zero_grad()
            out, _ = layer(x + step)
            (out * out).sum().backward()
            grads.append([p.grad.array.copy() for p in layer.parameters()])
        return grads
    with_pool = run()
    pool.set_limit(0)
    without = run()
    for a, b in zip(with_pool, without):
        for g, h in zip(a, b):
            np.testing.assert_array_equal(g, h)


def test_a_full_pool_frees_the_least_recently_given_shape():
    pool.set_limit(4 * BIG[0] * BIG[1] * 4)
    pool.give(np.empty(BIG, np.float32))
    pool.give(np.empty((BIG[0] + 1, BIG[1]), np.float32))
    pool.give(np.empty(BIG, np.float32))          # BIG is now the most recent shape
    pool.give(np.empty((BIG[0] + 2, BIG[1]), np.float32))   # no room: (65, .) goes
    assert pool.stats()["arrays"] == 3
    hits = pool.stats()["hits"]
    assert pool.take(np, (BIG[0] + 1, BIG[1]), np.float32) is not None
    assert pool.stats()["hits"] == hits           # it was evicted
    pool.take(np, BIG, np.float32)
    pool.take(np, BIG, np.float32)
    assert pool.stats()["hits"] == hits + 2


def test_memory_stays_flat_over_training_steps_of_varying_length():
    """The pool stays within its limit and Python's memory does not grow, with batches
    of a different sequence length every step (shapes that may never come back)."""
    import gc
    import tracemalloc
    pool.set_limit(8 << 20)
    layer = nn.LSTM(8, 64)
    opt = ts.optim.SGD(layer.parameters(), lr=0.01)

    def step(T):
        opt.zero_grad()
        out, _ = layer(ts.randn(T, 32, 8))
        (out * out).mean().backward()
        opt.step()

    for T in range(20, 40):
        step(T)
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for k in range(120):
            step(20 + k % 37)
            assert pool.stats()["bytes"] <= 8 << 20
        pool.empty()                  # what the pool held is bounded above; the rest must go
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert growth < 100_000, growth
