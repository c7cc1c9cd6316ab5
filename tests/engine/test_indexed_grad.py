"""Gradients of index reads are summed lazily (tinygrad_seq/indexed_grad.py): the values
must be what summing dense scatter arrays gives, in every way they meet other
gradients (dense, sparse, each other, hooks, ts.grad, anomaly mode), and a loop over
x[:, t] must cost one pass over x in backward, not T."""
import numpy as np
import pytest

import tinygrad_seq as ts
from tinygrad_seq import nn
from tinygrad_seq import functional as F
from tinygrad_seq.indexed_grad import IndexedGrad


def torch_or_skip():
    return pytest.importorskip("torch")


def rnn_loop(x, w, reverse=False):
    """A hand-written tanh RNN reading x[:, t] step by step (the pattern of the notes)."""
    N, T, _ = x.shape
    h = ts.zeros(N, w.shape[1], dtype=x.dtype) if isinstance(x, ts.Tensor) else None
    steps = range(T - 1, -1, -1) if reverse else range(T)
    out = 0
    for t in steps:
        xt = x[:, t]
        h = (xt @ w + (0 if h is None else h)).tanh()
        out = out + (h * h).sum()
    return out


@pytest.mark.parametrize("leaf", [True, False])
def test_step_by_step_reads_give_the_dense_gradient(leaf):
    rng = np.random.default_rng(0)
    xa, wa = rng.normal(size=(3, 7, 4)), rng.normal(size=(4, 5)) * 0.5
    x0 = ts.tensor(xa, requires_grad=True)
    w = ts.tensor(wa, requires_grad=True)
    x = x0 if leaf else x0 * 2.0
    rnn_loop(x, w).backward()
    # the same model with each read's gradient made dense at once (create_graph keeps
    # the eager IndexAdd path), as the reference
    x1 = ts.tensor(xa, requires_grad=True)
    w1 = ts.tensor(wa, requires_grad=True)
    gx, gw = ts.grad(rnn_loop(x1 if leaf else x1 * 2.0, w1), [x1, w1], create_graph=True)
    np.testing.assert_allclose(x0.grad.numpy(), gx.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), gw.numpy(), rtol=1e-12, atol=1e-12)


def test_matches_torch_for_a_loop_over_time():
    torch = torch_or_skip()
    rng = np.random.default_rng(1)
    xa, wa = rng.normal(size=(2, 6, 3)), rng.normal(size=(3, 3))
    x, w = ts.tensor(xa, requires_grad=True), ts.tensor(wa, requires_grad=True)
    rnn_loop(x, w, reverse=True).backward()
    tx = torch.tensor(xa, requires_grad=True)
    tw = torch.tensor(wa, requires_grad=True)
    h, out = torch.zeros(2, 3, dtype=torch.float64), 0
    for t in range(5, -1, -1):
        h = torch.tanh(tx[:, t] @ tw + h)
        out = out + (h * h).sum()
    out.backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12)


def test_reads_mixed_with_dense_uses_repeated_advanced_indices_and_dtypes():
    x = ts.tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    y = (x * 3).sum()                           # a dense gradient of 3 everywhere
    y = y + x[1].sum() + x[[0, 0, 2]].sum()     # basic, then repeated rows
    y = y + (x[2:, 1] * x[2:, 1]).sum()         # reads whose values depend on x
    y = y + x[x > 9].sum()                      # a boolean mask
    y = y + x[..., None, 0].astype(ts.float32).sum().astype(ts.float64)   # float32 part
    y.backward()
    want = np.full((4, 3), 3.0)
    want[1] += 1
    want[0] += 2
    want[2] += 1
    want[2:, 1] += 2 * np.arange(12.0).reshape(4, 3)[2:, 1]
    want[np.arange(12.0).reshape(4, 3) > 9] += 1
    want[:, 0] += 1
    assert x.grad.dtype == ts.float64
    np.testing.assert_array_equal(x.grad.numpy(), want)


def test_hooks_and_ts_grad_see_dense_gradients():
    x = ts.tensor(np.ones((2, 3)), requires_grad=True)
    h = x * 1.0
    seen = []
    h.register_hook(lambda g: seen.append(type(g)))
    x.register_hook(lambda g: seen.append(type(g)))
    y = h[0].sum() + h[1].sum() * 2 + x[:, 1].sum()
    (gh,) = ts.grad(y, [h], retain_graph=True)
    assert type(gh) is ts.Tensor
    np.testing.assert_array_equal(gh.numpy(), [[1, 1, 1], [2, 2, 2]])
    y.backward()
    assert seen and all(t is ts.Tensor for t in seen)
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 2, 1], [2, 3, 2]])


def test_gradient_accumulates_over_two_backward_calls():
    x = ts.tensor(np.ones(4), requires_grad=True)
    (x[1:3] * 2).sum().backward()
    (x[0] + x[0]).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2, 2, 0])


def test_index_reads_of_a_table_also_used_sparse():
    w = nn.Parameter(ts.tensor(np.ones((5, 2))))
    y = F.embedding([1, 1, 3], w, sparse=True).sum() + w[1].sum() * 10 + w[4:].sum()
    y.backward()
    np.testing.assert_array_equal(ts.backend.to_numpy(w.grad.to_dense().array)
                                  if getattr(w.grad, "is_sparse", False) else w.grad.numpy(),
                                  [[0, 0], [12, 12], [0, 0], [1, 1], [1, 1]])


def test_anomaly_mode_checks_index_gradients():
    x = ts.tensor(np.array([1.0, 0.0]), requires_grad=True)
    with ts.detect_anomaly():
        ok = ts.tensor([1.0, 2.0], requires_grad=True)
        (ok[0] * 3).backward()
        np.testing.assert_array_equal(ok.grad.numpy(), [3, 0])
        with pytest.raises(ts.AutogradError, match="nan or inf"):
            (x[1].sqrt() + x[0]).backward()     # d sqrt(0) = inf reaches GetItem's input


def test_second_order_through_a_loop_of_reads():
    rng = np.random.default_rng(2)
    x = ts.tensor(rng.normal(size=(2, 4, 3)), requires_grad=True)
    w = ts.tensor(rng.normal(size=(3, 3)) * 0.5, requires_grad=True)
    assert ts.gradcheck(lambda a, b: rnn_loop(a, b), (x, w))
    assert ts.gradgradcheck(lambda a, b: rnn_loop(a, b), (x, w))


def test_indexed_grad_sums_without_changing_what_it_was_given():
    shared = np.ones((2, 3))
    a = IndexedGrad((2, 3), np.dtype("float64"), [((0,), np.full(3, 5.0), True)])
    b = IndexedGrad((2, 3), np.dtype("float32"), [((np.array([1, 1]),), np.ones((2, 3), np.float32), False)])
    total = shared + (a + b)                       # ndarray on the left defers to __radd__
    assert type(total) is IndexedGrad and total.dtype == np.float64
    np.testing.assert_array_equal(total.dense_array(), [[6, 6, 6], [3, 3, 3]])
    np.testing.assert_array_equal(shared, np.ones((2, 3)))   # the shared array is untouched


def test_a_loop_of_reads_is_made_dense_once(monkeypatch):
    """Backward of T reads of x builds x's gradient array once, from T parts (one pass
    over x), where adding T dense scatters would pass over x T times."""
    T, N, D = 50, 4, 8
    x = ts.randn(T, N, D, requires_grad=True, device="cpu", dtype=ts.float64)
    h = x * 1.0                                  # a non-leaf too: made dense before Mul's backward
    y = sum((x[t] * h[t]).sum() for t in range(T))
    calls = []
    real = IndexedGrad.dense_array
    monkeypatch.setattr(IndexedGrad, "dense_array", lambda self: (calls.append(len(self.parts)), real(self))[1])
    y.backward()
    assert sorted(calls) == [T, T]               # h's slot, then x's (with Mul's base)
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy())
