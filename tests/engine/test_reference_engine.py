"""The study engine (tinygrad_seq/reference_engine.py): small, and the real engine's
gradients. Its agreement over every primitive is checked in the property tests
(branch_check.check_reference_engine, on a sample of examples; all of them under the
thorough profile); here: the API, a whole model, higher order, its size."""
import inspect

import numpy as np
import pytest

import tinygrad_seq as ts
import tinygrad_seq.functional as F
from tinygrad_seq import nn, reference_engine


def test_backward_accumulates_like_the_real_engine():
    ts.manual_seed(0)
    w1, w2 = ts.randn(3, 4, requires_grad=True), ts.randn(3, 4, requires_grad=True)
    for w in (w1, w2):
        w.grad = None
    x = ts.randn(4, 2)
    with ts.no_grad():
        w2.copy_(w1)
    (w1 @ x).tanh().sum().backward()
    (w1 @ x).tanh().sum().backward()
    reference_engine.backward((w2 @ x).tanh().sum())
    reference_engine.backward((w2 @ x).tanh().sum())
    np.testing.assert_allclose(w2.grad.numpy(), w1.grad.numpy(), rtol=1e-6)


def test_an_lstm_and_a_loss_give_the_real_gradients():
    ts.manual_seed(1)
    lstm, head = nn.LSTM(3, 5, batch_first=True), nn.Linear(5, 4)
    x, y = ts.randn(2, 6, 3), ts.tensor([1, 3])
    params = list(lstm.parameters()) + list(head.parameters())
    loss = F.cross_entropy(head(lstm(x)[0][:, -1]), y)
    real = ts.grad(loss, params, retain_graph=True)
    ref = reference_engine.grad(loss, params)
    for a, b in zip(real, ref):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-7)


def test_gradients_are_graphs_second_order_and_non_leaf_inputs():
    x = ts.tensor([0.3, -1.2, 2.0], dtype=ts.float64, requires_grad=True)
    h = x * x
    y = (h.tanh() * x).sum()
    (gx, gh) = reference_engine.grad(y, [x, h])
    real_gx, real_gh = ts.grad(y, [x, h], create_graph=True)
    np.testing.assert_allclose(gx.numpy(), real_gx.numpy())
    np.testing.assert_allclose(gh.numpy(), real_gh.numpy())
    assert reference_engine.grad(y, [x, ts.ones(1, requires_grad=True)])[1] is None
    (ggx,) = reference_engine.grad(gx.sum(), x)
    (real_ggx,) = ts.grad(real_gx.sum(), x)
    np.testing.assert_allclose(ggx.numpy(), real_ggx.numpy())


def test_once_differentiable_and_freed_graphs_are_refused():
    x = ts.tensor(np.random.default_rng(0).standard_normal((5, 1, 4)), requires_grad=True)
    loss = F.ctc_loss(F.log_softmax(x, dim=2), [[1, 2]], [5], [2])
    with pytest.raises(ts.AutogradError, match="differentiable once"):
        reference_engine.grad(loss, x)
    y = (x * 2).sum()
    y.backward()
    with pytest.raises(ts.AutogradError, match="freed"):
        reference_engine.grad(y, x)


def test_it_stays_small():
    source = inspect.getsource(reference_engine)
    code = [line for line in source.splitlines() if line.strip()]
    assert len(source.splitlines()) <= 150, "the study engine should fit a sitting"
    assert "import indexed_grad" not in source and "sparse import" not in source
    assert len(code) < 130
