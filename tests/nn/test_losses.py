"""Losses against their formulas in NumPy and against PyTorch (values and gradients, every
reduction and option), finite-difference gradchecks in float64 (first and second
order), stability for extreme inputs, and the errors."""
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_seq as ts
import tinygrad_seq.functional as F

from strategies import arrays, shapes
from torch_ref import needs_torch, torch

REDUCTIONS = ["mean", "sum", "none"]


def _torch():
    return pytest.importorskip("torch")


def reduce_np(loss, reduction):
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def log_softmax_np(x, axis):
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


def both(fn_ts, fn_torch, arrays_in, grad_of=(0,), dtype=np.float64):
    """Value and gradients (w.r.t. arrays_in[i] for i in grad_of) of a loss in both."""
    torch = _torch()
    mine = [ts.tensor(a.astype(dtype), requires_grad=i in grad_of) if a.dtype.kind == "f"
            else ts.tensor(a) for i, a in enumerate(arrays_in)]
    theirs = [torch.tensor(a.astype(dtype), requires_grad=i in grad_of) if a.dtype.kind == "f"
              else torch.from_numpy(a) for i, a in enumerate(arrays_in)]
    out, tout = fn_ts(*mine), fn_torch(*theirs)
    seed = np.random.default_rng(5).standard_normal(out.shape).astype(dtype)
    out.backward(ts.tensor(seed))
    tout.backward(torch.from_numpy(seed))
    grads = [mine[i].grad.numpy() for i in grad_of]
    tgrads = [theirs[i].grad.numpy() for i in grad_of]
    return out.numpy(), tout.detach().numpy(), grads, tgrads


def assert_close(a, b, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# ---------------------------------------------------------------- mse_loss

@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_formula_and_torch(reduction):
    torch = _torch()
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    got = F.mse_loss(ts.tensor(x), ts.tensor(y), reduction=reduction)
    assert_close(got.numpy(), reduce_np((x - y) ** 2, reduction))
    v, tv, g, tg = both(lambda a, b: F.mse_loss(a, b, reduction=reduction),
                        lambda a, b: torch.nn.functional.mse_loss(a, b, reduction=reduction),
                        [x, y], grad_of=(0, 1))
    assert_close(v, tv)
    for a, b in zip(g, tg):
        assert_close(a, b)
    assert F.mse_loss(ts.zeros(3), np.ones(3)).item() == 1.0          # array target
    assert F.mse_loss(ts.zeros(3), ts.ones(3)).dtype == ts.float32


# ---------------------------------------------------------------- binary_cross_entropy

def bce_np(p, y, w=None):
    loss = -(y * np.maximum(np.log(p), -100) + (1 - y) * np.maximum(np.log(1 - p), -100))
    return loss if w is None else loss * w


@pytest.mark.parametrize("reduction, weighted", list(itertools.product(REDUCTIONS, (False, True))))
def test_binary_cross_entropy_formula_and_torch(reduction, weighted):
    torch = _torch()
    rng = np.random.default_rng(1)
    p = rng.uniform(0.02, 0.98, (5, 3))
    y = rng.uniform(0, 1, (5, 3))
    w = rng.uniform(0.5, 2, (3,)) if weighted else None
    with np.errstate(divide="ignore"):
        want = reduce_np(bce_np(p, y, w), reduction)
    kw = {} if w is None else {"weight": ts.tensor(w)}
    assert_close(F.binary_cross_entropy(ts.tensor(p), ts.tensor(y), reduction=reduction, **kw).numpy(), want)
    tkw = {} if w is None else {"weight": torch.from_numpy(w)}
    v, tv, g, tg = both(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction, **kw),
                        lambda a, b: torch.nn.functional.binary_cross_entropy(a, b, reduction=reduction, **tkw),
                        [p, y], grad_of=(0, 1))
    assert_close(v, tv)
    for a, b in zip(g, tg):
        assert_close(a, b)


def test_binary_cross_entropy_at_0_and_1_is_finite_as_torch():
    """log is clamped at -100, and the gradient is (p - y) / max(p (1 - p), 1e-12)."""
    torch = _torch()
    p = np.array([0.0, 1.0, 0.0, 1.0, 1e-30, 0.5])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.5])
    v, tv, g, tg = both(lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
                        lambda a, b: torch.nn.functional.binary_cross_entropy(a, b, reduction="none"),
                        [p, y], grad_of=(0, 1))
    assert_close(v, tv)
    assert v.tolist()[:4] == [100.0, 100.0, 0.0, 0.0]
    assert_close(g[0], tg[0])
    # d/dy is the derivative of the clamped loss: finite where PyTorch's (unclamped
    # logs) is +-inf, equal elsewhere
    finite = np.isfinite(tg[1])
    assert_close(g[1][finite], tg[1][finite])
    seed = np.random.default_rng(5).standard_normal(6)
    with np.errstate(divide="ignore"):
        want = seed * (np.maximum(np.log(1 - p), -100) - np.maximum(np.log(p), -100))
    assert_close(g[1], want)
    assert np.all(np.isfinite(g[0])) and np.all(np.isfinite(g[1]))
    f32 = F.binary_cross_entropy(ts.tensor([0.0, 1.0]), ts.tensor([1.0, 1.0]))
    assert f32.dtype == ts.float32 and f32.item() == 50.0


@given(shape=shapes(0, 3, max_size=8), data=st.data())
def test_binary_cross_entropy_gradcheck(shape, data):
    p = data.draw(arrays(shape, st.floats(0.05, 0.95)))
    y = data.draw(arrays(shape, st.floats(0, 1)))
    tp, ty = ts.tensor(p, requires_grad=True), ts.tensor(y, requires_grad=True)
    fn = lambda a, b: F.binary_cross_entropy(a, b, reduction="none")  # noqa: E731
    assert ts.gradcheck(fn, (tp, ty))
    assert ts.gradgradcheck(fn, (tp, ty))


BROADCAST_WARNING = ("Using a target size \\(.*\\[{t}\\]\\)\\) that is different to the input size "
                     "\\(.*\\[{i}\\]\\)\\). This will likely lead to incorrect results due to "
                     "broadcasting. Please ensure they have the same size.")


@pytest.mark.parametrize("input_shape, target_shape", [((4, 1), (4,)), ((3,), ()), ((3, 1), (3, 2))])
def test_mse_loss_warns_when_target_broadcasts(input_shape, target_shape):
    message = BROADCAST_WARNING.format(i=", ".join(map(str, input_shape)),
                                       t=", ".join(map(str, target_shape)))
    with pytest.warns(UserWarning, match=message) as record:
        loss = F.mse_loss(ts.zeros(*input_shape), ts.ones(*target_shape))
    assert record[0].filename == __file__               # points at the caller
    assert loss.item() == 1.0                           # still computed, broadcast (torch)


@needs_torch
def test_mse_loss_broadcast_warning_is_torchs():
    with pytest.warns(UserWarning) as ours:
        F.mse_loss(ts.zeros(4, 1), ts.zeros(4))
    with pytest.warns(UserWarning) as theirs:
        torch.nn.functional.mse_loss(torch.zeros(4, 1), torch.zeros(4))
    assert str(ours[0].message).replace("tinygrad_seq.Size", "torch.Size") == str(theirs[0].message)


def test_same_shape_losses_do_not_warn():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.mse_loss(ts.zeros(4, 1), ts.zeros(4, 1))
        F.mse_loss(ts.zeros(4, 1), np.zeros((4, 1)))


# ---------------------------------------------------------------- binary_cross_entropy_with_logits

def bce_logits_np(x, y, w=None, pw=None):
    lw = 1 if pw is None else 1 + (pw - 1) * y
    loss = (1 - y) * x + lw * np.logaddexp(0, -x)
    return loss if w is None else loss * w


@pytest.mark.parametrize("reduction, weighted, pos", list(itertools.product(REDUCTIONS, (False, True),
                                                                              (False, True))))
def test_bce_with_logits_formula_and_torch(reduction, weighted, pos):
    torch = _torch()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 3)) * 3
    y = rng.uniform(0, 1, (5, 3))
    w = rng.uniform(0.5, 2, (5, 1)) if weighted else None
    pw = rng.uniform(0.5, 3, (3,)) if pos else None
    kw = {k: ts.tensor(v) for k, v in (("weight", w), ("pos_weight", pw)) if v is not None}
    tkw = {k: torch.from_numpy(v) for k, v in (("weight", w), ("pos_weight", pw)) if v is not None}
    assert_close(F.binary_cross_entropy_with_logits(ts.tensor(x), ts.tensor(y), reduction=reduction, **kw).numpy(),
                 reduce_np(bce_logits_np(x, y, w, pw), reduction))
    v, tv, g, tg = both(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction, **kw),
                        lambda a, b: torch.nn.functional.binary_cross_entropy_with_logits(
                            a, b, reduction=reduction, **tkw),
                        [x, y], grad_of=(0, 1))
    assert_close(v, tv)
    for a, b in zip(g, tg):
        assert_close(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_is_stable_for_huge_logits(dtype):
    torch = _torch()
    x = np.array([1e4, -1e4, 1e4, -1e4, 0.0, 88.0, -88.0, 3e38 if dtype == np.float32 else 1e300])
    y = np.array([0.0, 1.0, 1.0, 0.0, 0.3, 0.0, 1.0, 0.0])
    v, tv, g, tg = both(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none"),
                        lambda a, b: torch.nn.functional.binary_cross_entropy_with_logits(a, b, reduction="none"),
                        [x, y], grad_of=(0,), dtype=dtype)
    assert np.all(np.isfinite(v)) and np.all(np.isfinite(g[0]))
    np.testing.assert_allclose(v, tv, rtol=1e-6)
    np.testing.assert_allclose(g[0], tg[0], rtol=1e-6, atol=1e-7)
    assert v[0] == 1e4 and v[2] == 0.0


def test_bce_with_logits_gradient_at_zero_is_exact():
    x = ts.tensor([0.0, 0.0], requires_grad=True)
    F.binary_cross_entropy_with_logits(x, ts.tensor([0.0, 1.0]), reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.5, -0.5], rtol=1e-7)
    x = ts.tensor([0.0], dtype=ts.float64, requires_grad=True)
    (g,) = ts.grad(F.binary_cross_entropy_with_logits(x, ts.tensor([1.0], dtype=ts.float64), reduction="sum"),
                   [x], create_graph=True)
    (h,) = ts.grad(g.sum(), [x])
    np.testing.assert_allclose(h.numpy(), [0.25], rtol=1e-12)      # sigmoid'(0)


# torch 2.13 at infinite logits: gradient (1 - y) - l sigmoid(-x), l = 1 + (pw - 1) y,
# so -pw y at -inf and 1 - y at +inf; the loss is nan or inf there (inf - inf, 0 inf)
INFINITE_LOGIT_GRADIENTS = [  # (logit, target, pos_weight, torch's gradient)
    (-np.inf, 0.0, None, 0.0), (-np.inf, 1.0, None, -1.0), (-np.inf, 0.5, None, -0.5),
    (np.inf, 0.0, None, 1.0), (np.inf, 1.0, None, 0.0), (np.inf, 0.5, None, 0.5),
    (-np.inf, 1.0, 3.0, -3.0), (-np.inf, 0.5, 3.0, -1.5), (np.inf, 0.0, 3.0, 1.0),
    (np.inf, 1.0, 3.0, 0.0)]


@pytest.mark.parametrize("x, y, pos_weight, expected", INFINITE_LOGIT_GRADIENTS)
def test_bce_with_logits_gradient_is_finite_at_infinite_logits(x, y, pos_weight, expected):
    logit = ts.tensor([x], requires_grad=True)
    kw = {} if pos_weight is None else {"pos_weight": ts.tensor([pos_weight])}
    with np.errstate(invalid="ignore"):
        F.binary_cross_entropy_with_logits(logit, ts.tensor([y]), **kw).backward()
    assert logit.grad.numpy()[0] == expected


@needs_torch
@pytest.mark.parametrize("x, y, pos_weight, expected", INFINITE_LOGIT_GRADIENTS)
def test_bce_with_logits_at_infinite_logits_matches_torch(x, y, pos_weight, expected):
    kw = {} if pos_weight is None else {"pos_weight": torch.tensor([pos_weight])}
    logit = torch.tensor([x], requires_grad=True)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, torch.tensor([y]), **kw)
    loss.backward()
    assert logit.grad.item() == expected
    ours = F.binary_cross_entropy_with_logits(
        ts.tensor([x]), ts.tensor([y]),
        **({} if pos_weight is None else {"pos_weight": ts.tensor([pos_weight])}))
    np.testing.assert_equal(ours.item(), loss.item())       # the same nan or inf


@given(shape=shapes(0, 3, max_size=8), data=st.data(), pos=st.booleans())
def test_bce_with_logits_gradcheck(shape, data, pos):
    x = data.draw(arrays(shape, st.floats(-4, 4)))
    y = data.draw(arrays(shape, st.floats(0, 1)))
    pw = ts.tensor(np.full(shape[-1:], 2.5)) if pos else None
    tx, ty = ts.tensor(x, requires_grad=True), ts.tensor(y, requires_grad=True)
    fn = lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none", pos_weight=pw)  # noqa: E731
    assert ts.gradcheck(fn, (tx, ty))
    assert ts.gradgradcheck(fn, (tx, ty))


def test_binary_loss_errors():
    with pytest.raises(ts.ShapeError, match="binary_cross_entropy: target of shape \\(3,\\) and input of shape \\(2,\\)"):
        F.binary_cross_entropy(ts.tensor([0.5, 0.5]), ts.tensor([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\], got values from -0.5 to 0.5"):
        F.binary_cross_entropy(ts.tensor([-0.5, 0.5]), ts.tensor([1.0, 0.0]))
    with pytest.raises(ts.ShapeError, match="binary_cross_entropy_with_logits: target"):
        F.binary_cross_entropy_with_logits(ts.zeros(2), ts.zeros(2, 1))
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        F.mse_loss(ts.zeros(2), ts.zeros(2), reduction="avg")
    with pytest.raises(ts.ShapeError, match="weight of shape \\(3,\\) does not broadcast"):
        F.binary_cross_entropy(ts.tensor([0.5, 0.5]), ts.tensor([1.0, 0.0]), weight=ts.ones(3))
    with pytest.raises(TypeError, match="input must be a Tensor or an array, got str"):
        F.binary_cross_entropy_with_logits("logits", ts.zeros(2))
    # DESIGN: wherever a Tensor is expected, a NumPy array is accepted too
    assert F.binary_cross_entropy_with_logits(np.zeros(2), np.ones(2)).item() == pytest.approx(np.log(2))


# ---------------------------------------------------------------- nll_loss / cross_entropy

def ce_np(x, t, w=None, ignore_index=-100, reduction="mean", eps=0.0):
    """PyTorch's cross-entropy with class indices, written out in NumPy (class axis 1)."""
    axis = 1 if x.ndim >= 2 else 0
    logp = log_softmax_np(x, axis)
    lp = np.moveaxis(logp, axis, -1)                   # (..., C)
    C = lp.shape[-1]
    w = np.ones(C) if w is None else w
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    picked = np.take_along_axis(lp, safe[..., None], -1)[..., 0]
    wt = w[safe] * valid
    nll = -picked * wt
    smooth = -(lp * w).sum(-1) * valid
    if reduction == "none":
        return (1 - eps) * nll + eps / C * smooth
    if reduction == "sum":
        return (1 - eps) * nll.sum() + eps / C * smooth.sum()
    with np.errstate(invalid="ignore"):     # every target ignored: nan, as PyTorch
        return ((1 - eps) * nll.sum() + eps / C * smooth.sum()) / wt.sum()


CE_SHAPES = [((6, 4), (6,)), ((3, 4, 2, 2), (3, 2, 2)), ((5,), ())]
CE_OPTIONS = [dict(), dict(weight=True), dict(ignore_index=1), dict(label_smoothing=0.2),
              dict(weight=True, ignore_index=2, label_smoothing=0.1)]


@pytest.mark.parametrize("shapes_, options, reduction",
                         list(itertools.product(CE_SHAPES, CE_OPTIONS, REDUCTIONS)),
                         ids=lambda v: str(v).replace(" ", ""))
def test_cross_entropy_with_class_indices_formula_and_torch(shapes_, options, reduction):
    torch = _torch()
    x_shape, t_shape = shapes_
    rng = np.random.default_rng(3)
    C = x_shape[1] if len(x_shape) > 1 else x_shape[0]
    x = rng.standard_normal(x_shape)
    t = rng.integers(0, C, size=t_shape)
    kw = dict(options, reduction=reduction)
    if options.get("weight"):
        kw["weight"] = rng.uniform(0.5, 2, C)
    if "ignore_index" in options and t.ndim:
        t.reshape(-1)[0] = options["ignore_index"]
    assert_close(F.cross_entropy(ts.tensor(x), ts.tensor(t), **{k: ts.tensor(v) if k == "weight" else v
                                                               for k, v in kw.items()}).numpy(),
                 ce_np(x, t, kw.get("weight"), kw.get("ignore_index", -100), reduction,
                       kw.get("label_smoothing", 0.0)))
    tkw = {k: torch.from_numpy(v) if k == "weight" else v for k, v in kw.items()}
    mkw = {k: ts.tensor(v) if k == "weight" else v for k, v in kw.items()}
    v, tv, g, tg = both(lambda a, b: F.cross_entropy(a, b, **mkw),
                        lambda a, b: torch.nn.functional.cross_entropy(a, b, **tkw), [x, t])
    assert_close(v, tv)
    assert_close(g[0], tg[0])
    # nll_loss on log-probabilities is cross_entropy without the log_softmax
    if not options.get("label_smoothing"):
        nkw = {k: v for k, v in mkw.items() if k != "label_smoothing"}
        ntkw = {k: v for k, v in tkw.items() if k != "label_smoothing"}
        axis = 1 if x.ndim >= 2 else 0
        v, tv, g, tg = both(lambda a, b: F.nll_loss(F.log_softmax(a, axis=axis), b, **nkw),
                            lambda a, b: torch.nn.functional.nll_loss(
                                torch.nn.functional.log_softmax(a, dim=axis), b, **ntkw), [x, t])
        assert_close(v, tv)
        assert_close(g[0], tg[0])


@pytest.mark.parametrize("options, reduction", list(itertools.product(
    [dict(), dict(weight=True), dict(label_smoothing=0.3), dict(weight=True, label_smoothing=0.1)],
    REDUCTIONS)))
def test_cross_entropy_with_class_probabilities_matches_torch(options, reduction):
    torch = _torch()
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 5, 3))
    p = rng.uniform(0, 1, (4, 5, 3))
    p /= p.sum(1, keepdims=True)
    w = rng.uniform(0.5, 2, 5) if options.get("weight") else None
    kw = dict(options, reduction=reduction)
    if w is not None:
        kw["weight"] = w
    mkw = {k: ts.tensor(v) if k == "weight" else v for k, v in kw.items()}
    tkw = {k: torch.from_numpy(v) if k == "weight" else v for k, v in kw.items()}
    v, tv, g, tg = both(lambda a, b: F.cross_entropy(a, b, **mkw),
                        lambda a, b: torch.nn.functional.cross_entropy(a, b, **tkw), [x, p],
                        grad_of=(0, 1))
    assert_close(v, tv)
    for a, b in zip(g, tg):
        assert_close(a, b)
    eps = options.get("label_smoothing", 0.0)
    q = p * (1 - eps) + eps / 5
    per = -(log_softmax_np(x, 1) * q * (1 if w is None else w[None, :, None])).sum(1)
    assert_close(F.cross_entropy(ts.tensor(x), ts.tensor(p), **mkw).numpy(), reduce_np(per, reduction))


def test_cross_entropy_all_ignored_mean_is_nan_as_torch_and_float32_stays():
    torch = _torch()
    x, t = np.zeros((2, 3), np.float32), np.array([-100, -100])
    got = F.cross_entropy(ts.tensor(x), ts.tensor(t))
    want = torch.nn.functional.cross_entropy(torch.from_numpy(x), torch.from_numpy(t))
    assert np.isnan(got.item()) and np.isnan(want.item())
    assert F.cross_entropy(ts.tensor(x), ts.tensor(t), reduction="sum").item() == 0.0
    assert F.cross_entropy(ts.randn(4, 3), ts.tensor([0, 1, 2, 0])).dtype == ts.float32


def test_cross_entropy_is_stable_for_huge_logits():
    x = ts.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 3e4]], requires_grad=True)
    loss = F.cross_entropy(x, ts.tensor([0, 1]), reduction="none")
    np.testing.assert_allclose(loss.numpy(), [0.0, 2e4])
    loss.sum().backward()
    assert np.all(np.isfinite(x.grad.numpy()))
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0, 0], [0, -1, 1]], atol=1e-6)


@given(data=st.data(), smoothing=st.sampled_from([0.0, 0.25]), weighted=st.booleans())
def test_cross_entropy_gradcheck(data, smoothing, weighted):
    x_shape = data.draw(st.sampled_from([(3, 4), (2, 3, 2), (4,)]))
    C = x_shape[1] if len(x_shape) > 1 else x_shape[0]
    x = data.draw(arrays(x_shape))
    t_shape = x_shape[:1] + x_shape[2:] if len(x_shape) > 1 else ()
    t = data.draw(hnp.arrays(np.int64, t_shape, elements=st.integers(0, C - 1)))
    w = ts.tensor(np.linspace(0.5, 2, C)) if weighted else None
    tx = ts.tensor(x, requires_grad=True)
    fn = lambda a: F.cross_entropy(a, ts.tensor(t), weight=w, label_smoothing=smoothing)  # noqa: E731
    assert ts.gradcheck(fn, (tx,))
    assert ts.gradgradcheck(fn, (tx,))
    p = ts.tensor(np.full(x_shape, 1.0 / C), requires_grad=True)
    fn2 = lambda a, b: F.cross_entropy(a, b, weight=w, label_smoothing=smoothing, reduction="none")  # noqa: E731
    assert ts.gradcheck(fn2, (tx, p))
    assert ts.gradgradcheck(fn2, (tx, p))


def test_classification_loss_errors():
    x = ts.zeros(3, 4)
    with pytest.raises(IndexError, match="cross_entropy: target 4 is out of bounds for 4 classes"):
        F.cross_entropy(x, ts.tensor([0, 4, 1]))
    with pytest.raises(ts.ShapeError, match="out of bounds"):
        F.nll_loss(x, ts.tensor([0, -1, 1]))
    with pytest.raises(ts.ShapeError, match="nll_loss: target of shape \\(2,\\) does not fit an input of "
                                            "shape \\(3, 4\\) \\(expected \\(3,\\)\\)"):
        F.nll_loss(x, ts.tensor([0, 1]))
    with pytest.raises(ts.DTypeError, match="class-index targets must be integers"):
        F.nll_loss(x, ts.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ts.ShapeError, match="weight must have shape \\(4,\\)"):
        F.cross_entropy(x, ts.tensor([0, 1, 2]), weight=ts.ones(3))
    with pytest.raises(ValueError, match="label_smoothing must be in \\[0, 1\\]"):
        F.cross_entropy(x, ts.tensor([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(ts.ShapeError, match="same shape"):
        F.cross_entropy(x, ts.zeros(3, 5))
    with pytest.raises(ts.ShapeError, match="class axis"):
        F.cross_entropy(ts.tensor(1.0), ts.tensor(0))
