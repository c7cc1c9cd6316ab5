"""A node keeps what its backward rule reads and nothing else: the input Tensors (and
their arrays) only for primitives that read input values (``reads_inputs``); the others
keep their parents, where each gradient goes (``edges``) and the shapes/dtypes they
need. Composed models then hold about what a hand-written NumPy step holds."""
import gc
import sys
import tracemalloc
import weakref

import numpy as np
import pytest

import tinygrad_seq as ts
import tinygrad_seq.functional as F
from tinygrad_seq import nn, reference_engine

from paths import BENCHMARKS as _BENCHMARKS  # noqa: E402

BENCHMARKS = str(_BENCHMARKS)


def _alive(t):
    """A weak reference to t's array (NumPy arrays take weak references)."""
    return weakref.ref(t.array)


@pytest.mark.parametrize("op", [
    lambda h: (h + 1.0).tanh(),
    lambda h: (h - 1.0).sigmoid(),
    lambda h: h.reshape(-1).exp(),
    lambda h: h.permute(1, 0).tanh(),
    lambda h: h.relu().exp(),
    lambda h: ts.maximum(h, ts.zeros(3, 4)).exp(),
    lambda h: ts.cat([h, h], axis=0).tanh(),
    lambda h: ts.where(h > 0, h, ts.ones(3, 4)).exp(),
])
def test_an_intermediate_read_by_no_rule_is_freed_before_backward(op):
    x = ts.randn(3, 4, requires_grad=True, device="cpu")
    h = x * 2.0                      # Mul keeps x (a leaf), not h
    ref = _alive(h)
    y = op(h).sum()
    del h
    gc.collect()
    assert ref() is None             # nothing in the graph holds h's array
    y.backward()
    x2 = ts.tensor(x.numpy(), requires_grad=True)
    op(x2 * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), x2.grad.numpy(), rtol=1e-6)


def test_an_input_whose_values_the_rule_reads_is_kept():
    x = ts.randn(3, 4, requires_grad=True, device="cpu")
    h = x + 1.0
    ref = _alive(h)
    y = (h * h).sum()                # Mul reads both inputs
    del h
    gc.collect()
    assert ref() is not None
    y.backward()
    gc.collect()
    del y
    gc.collect()
    assert ref() is None


def test_gradients_route_to_the_right_output_of_a_multi_output_parent():
    x = ts.randn(6, 3, requires_grad=True, dtype=ts.float64)
    a, b, c = x.split(2, dim=0)
    y = (b + 2.0 * c).tanh() + a.exp() * 0.0 + (c - a)      # Add/Sub/Tanh: edges as indices
    y.sum().backward()
    xs = x.detach().numpy()
    a0, b0, c0 = xs[:2], xs[2:4], xs[4:]
    t = 1 - np.tanh(b0 + 2 * c0) ** 2
    want = np.concatenate([-np.ones_like(a0), t, 2 * t + 1])
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12)
    # the reference engine follows the same edges (on a graph not yet freed)
    a, b, c = x.split(2, dim=0)
    (got,) = reference_engine.grad(((b + 2.0 * c).tanh() + (c - a)).sum(), [x])
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


def test_hooks_retain_grad_and_grad_on_tensors_the_graph_does_not_keep():
    x = ts.randn(3, 4, requires_grad=True, dtype=ts.float64)
    h = x * 3.0
    h.retain_grad()
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    want = 1 - np.tanh(x.detach().numpy() * 3.0 + 1.0) ** 2
    z = (h + 1.0).reshape(12)         # neither Add nor Reshape keeps h
    (gh,) = ts.grad(z.tanh().sum(), [h], retain_graph=True)
    np.testing.assert_allclose(gh.numpy(), want.reshape(12).reshape(3, 4), rtol=1e-12)
    h.grad, seen[:] = None, []
    loss = (h + 1.0).reshape(12).tanh().sum()
    loss.backward()
    np.testing.assert_allclose(h.grad.numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(seen[-1], want, rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), 3 * want, rtol=1e-12)


def test_create_graph_through_rules_that_saved_shapes_only():
    x = ts.tensor([[0.5, -1.0, 2.0]], dtype=ts.float64, requires_grad=True)
    b = ts.tensor([[1.0], [2.0]], dtype=ts.float64, requires_grad=True)
    y = ((x + b) * (x - b)).sum()                 # broadcast (1, 3) with (2, 1)
    (gx,) = ts.grad(y, [x], create_graph=True)    # dy/dx = sum over rows of 2 x = 4 x
    np.testing.assert_allclose(gx.numpy(), 4 * x.detach().numpy())
    (gxx,) = ts.grad(gx.sum(), [x])
    np.testing.assert_allclose(gxx.numpy(), np.full((1, 3), 4.0))


def test_a_kept_input_changed_in_place_is_still_caught():
    x = ts.randn(3, requires_grad=True)
    h = x + 1.0
    y = (h * h).sum()                 # Mul keeps h and checks its version
    with ts.no_grad():
        h.add_(1.0)
    with pytest.raises(ts.AutogradError, match="in-place"):
        y.backward()


def test_an_input_not_read_may_change_in_place_without_error():
    x = ts.randn(3, requires_grad=True, dtype=ts.float64)
    h = x * 2.0
    y = (h + 1.0).sum()               # Add does not read h
    with ts.no_grad():
        h.mul_(10.0)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 2.0))


def _peak(step):
    step()
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        step()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_composed_lstm_step_holds_near_the_floor():
    if BENCHMARKS not in sys.path:
        sys.path.insert(0, BENCHMARKS)
    import numpy_rnn
    T, N, I, H = 20, 32, 64, 128
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, N, I)).astype(np.float32)
    y = rng.standard_normal((T, N, H)).astype(np.float32)
    m = nn.LSTM(I, H, fused=False).to("cpu")
    w = [p.detach().numpy() for p in (m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0)]
    xt, yt = ts.tensor(x, device="cpu"), ts.tensor(y, device="cpu")
    zeros = np.zeros((N, H), np.float32)

    def ours():
        m.zero_grad()
        out, _ = m(xt)
        F.mse_loss(out, yt).backward()

    def floor():
        out, cache = numpy_rnn.lstm_forward(x, zeros, zeros, *w)
        d = (out - y) * (2.0 / out.size)
        numpy_rnn.lstm_backward(d, cache)

    assert _peak(ours) <= 1.3 * _peak(floor)


def test_memory_stays_flat_over_2000_composed_lstm_training_steps():
    ts.manual_seed(0)
    m = nn.LSTM(3, 4, fused=False).to("cpu")
    opt = ts.optim.SGD(m.parameters(), lr=0.01)
    x = ts.randn(2, 2, 3, device="cpu")
    y = ts.randn(2, 2, 4, device="cpu")

    def step():
        opt.zero_grad()
        out, _ = m(x)
        ((out - y) ** 2).mean().backward()
        opt.step()

    for _ in range(20):
        step()
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(2000):
            step()
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert growth < 50_000, growth


@pytest.mark.skipif(ts.backend.default_device != "cpu", reason="tracemalloc sees host memory")
def test_the_notes_lstm_cell_from_primitives_holds_near_its_floor():
    if BENCHMARKS not in sys.path:
        sys.path.insert(0, BENCHMARKS)
    import notes_lstm
    params, x, y = notes_lstm.problem(n_x=64, n_a=128, m=32, T=10)
    ours = notes_lstm.ts_runner(params, x, y)
    floor = notes_lstm.numpy_runner(params, x, y)
    for g, w in zip(ours(), floor()):
        np.testing.assert_allclose(g, w, rtol=2e-3, atol=2e-4 * np.abs(w).max())
    assert _peak(ours) <= 1.3 * _peak(floor)
