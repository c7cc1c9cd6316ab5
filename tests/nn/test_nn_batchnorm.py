"""nn.BatchNorm1d and F.batch_norm against torch 2.13: outputs and the gradients of the
input, weight and bias in train and eval mode ((N, C) and (N, C, L), float32 and
float64, every option), the running statistics (unbiased variance, momentum=None's
cumulative average), num_batches_tracked, state_dict keys, repr, gradchecks, errors."""
import numpy as np
import pytest
from torch_ref import needs_torch, torch

import tinygrad_seq as ts
import tinygrad_seq.functional as F
from tinygrad_seq import nn

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
OPTIONS = [{}, {"momentum": None}, {"momentum": 0.3, "eps": 1e-3}, {"affine": False},
           {"bias": False}, {"track_running_stats": False},
           {"affine": False, "track_running_stats": False, "momentum": None}]
IDS = [",".join(f"{k}={v}" for k, v in o.items()) or "defaults" for o in OPTIONS]


def _pair(kwargs, dtype, features=3):
    theirs = torch.nn.BatchNorm1d(features, **kwargs).to(getattr(torch, np.dtype(dtype).name))
    mine = nn.BatchNorm1d(features, **kwargs).to(getattr(ts, np.dtype(dtype).name))
    rng = np.random.default_rng(11)
    with torch.no_grad():        # non-trivial affine parameters, the same in both
        if theirs.weight is not None:
            theirs.weight.copy_(torch.tensor(rng.uniform(0.5, 2.0, features)))
        if theirs.bias is not None:
            theirs.bias.copy_(torch.tensor(rng.standard_normal(features)))
    mine.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return mine, theirs


def _step(mine, theirs, x, dtype):
    """One forward/backward in both; compare outputs and every gradient."""
    xs, xt = ts.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = mine(xs), theirs(xt)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), **TOL[dtype])
    seed = np.random.default_rng(x.size).standard_normal(x.shape).astype(dtype)
    (out * ts.tensor(seed)).sum().backward()
    (tout * torch.tensor(seed)).sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), **TOL[dtype])
    for name in ("weight", "bias"):
        p, q = getattr(mine, name), getattr(theirs, name)
        assert (p is None) == (q is None)
        if p is not None:
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), **TOL[dtype], err_msg=name)
            p.grad, q.grad = None, None


def _same_buffers(mine, theirs, dtype):
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        b, tb = getattr(mine, name), getattr(theirs, name)
        assert (b is None) == (tb is None), name
        if b is not None:
            np.testing.assert_allclose(b.numpy(), tb.numpy(), **TOL[dtype], err_msg=name)
            assert b.dtype == getattr(ts, str(tb.dtype).split(".")[1])


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)])
@pytest.mark.parametrize("kwargs", OPTIONS, ids=IDS)
def test_train_then_eval_matches_torch(kwargs, shape, dtype):
    mine, theirs = _pair(kwargs, dtype)
    rng = np.random.default_rng(0)
    for step in range(4):          # training steps move the running statistics
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
        _step(mine, theirs, x, dtype)
        _same_buffers(mine, theirs, dtype)
    mine.eval()
    theirs.eval()
    x = (3 * rng.standard_normal(shape) - 1).astype(dtype)
    _step(mine, theirs, x, dtype)
    _same_buffers(mine, theirs, dtype)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    assert repr(mine) == repr(theirs)


@needs_torch
def test_cumulative_average_and_unbiased_variance_by_formula():
    m = nn.BatchNorm1d(2, momentum=None).double()
    batches = [np.random.default_rng(s).standard_normal((5, 2, 3)) * (s + 1) for s in range(3)]
    for x in batches:
        m(ts.tensor(x))
    stacked = np.stack(batches)
    np.testing.assert_allclose(m.running_mean.numpy(), stacked.mean(axis=(1, 3)).mean(0), rtol=1e-12)
    unbiased = np.stack([b.transpose(1, 0, 2).reshape(2, -1).var(axis=1, ddof=1) for b in batches])
    np.testing.assert_allclose(m.running_var.numpy(), unbiased.mean(0), rtol=1e-12)
    assert m.num_batches_tracked.item() == 3 and m.num_batches_tracked.dtype == ts.int64


def test_eval_mode_leaves_the_buffers_alone_and_uses_them():
    m = nn.BatchNorm1d(3).double()
    m.running_mean.copy_(ts.tensor([1.0, 2.0, 3.0], dtype=ts.float64))
    m.running_var.copy_(ts.tensor([4.0, 1.0, 0.25], dtype=ts.float64))
    m.eval()
    x = np.random.default_rng(1).standard_normal((4, 3))
    y = m(ts.tensor(x)).numpy()
    np.testing.assert_allclose(y, (x - [1, 2, 3]) / np.sqrt(np.array([4, 1, 0.25]) + 1e-5), rtol=1e-12)
    assert m.num_batches_tracked.item() == 0
    np.testing.assert_array_equal(m.running_mean.numpy(), [1, 2, 3])


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(6, 3), (3, 3, 4)])
def test_batch_norm_gradcheck(shape, training):
    rng = np.random.default_rng(2)
    x = ts.tensor(rng.standard_normal(shape), requires_grad=True)
    w = ts.tensor(rng.uniform(0.5, 2, 3), requires_grad=True)
    b = ts.tensor(rng.standard_normal(3), requires_grad=True)
    rm, rv = ts.tensor(rng.standard_normal(3)), ts.tensor(rng.uniform(0.5, 2, 3))
    fn = lambda a, c, d: F.batch_norm(a, rm, rv, c, d, training=training)  # noqa: E731
    assert ts.gradcheck(fn, (x, w, b))


def test_state_dict_keys_and_parameters():
    assert list(nn.BatchNorm1d(4).state_dict()) == ["weight", "bias", "running_mean",
                                                      "running_var", "num_batches_tracked"]
    assert list(nn.BatchNorm1d(4, affine=False).state_dict()) == [
        "running_mean", "running_var", "num_batches_tracked"]
    assert list(nn.BatchNorm1d(4, track_running_stats=False).state_dict()) == ["weight", "bias"]
    assert [n for n, _ in nn.BatchNorm1d(4, bias=False).named_parameters()] == ["weight"]
    m = nn.BatchNorm1d(4)
    m.double()
    assert m.running_var.dtype == ts.float64 and m.num_batches_tracked.dtype == ts.int64
    m(ts.randn(3, 4).double())
    m.reset_parameters()
    assert m.num_batches_tracked.item() == 0 and m.running_var.numpy().tolist() == [1.0] * 4


@needs_torch
def test_torch_state_dict_loads():
    theirs = torch.nn.BatchNorm1d(3)
    for _ in range(2):
        theirs(torch.randn(5, 3))
    mine = nn.BatchNorm1d(3)
    mine.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    mine.eval()
    theirs.eval()
    x = np.random.default_rng(3).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(mine(ts.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    assert mine.num_batches_tracked.item() == 2


def test_errors():
    m = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        m(ts.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        m(ts.randn(3))
    with pytest.raises(ValueError, match="more than 1 value per channel when training"):
        m(ts.randn(1, 3))
    m.eval()
    assert tuple(m(ts.randn(1, 3)).shape) == (1, 3)          # eval: one sample is fine
    with pytest.raises(ValueError, match=r"running_mean must have shape \(4,\)"):
        nn.BatchNorm1d(3)(ts.randn(5, 4))
    with pytest.raises(ValueError, match="BatchNorm1d: eps"):
        nn.BatchNorm1d(3, eps=-1.0)
    with pytest.raises(TypeError, match="BatchNorm1d: num_features"):
        nn.BatchNorm1d(2.5)
    with pytest.raises(ValueError, match="running_mean and running_var must be given"):
        F.batch_norm(ts.randn(4, 3), None, None)
