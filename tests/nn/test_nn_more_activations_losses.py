"""F.silu/mish/leaky_relu/elu/hardtanh, F.normalize and F.l1_loss/smooth_l1_loss/
huber_loss with their modules: values and gradients against torch 2.13 (float32 and
float64, several shapes, the tie points where a gradient is defined by convention),
finite-difference gradchecks of the compositions, reprs, and the argument errors."""
import warnings

import numpy as np
import pytest
from torch_ref import needs_torch, torch

import tinygrad_seq as ts
import tinygrad_seq.functional as F
from tinygrad_seq import nn

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-6, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}
SHAPES = [(7,), (3, 4), (2, 3, 5)]
# tie points (0, +-1, +-0.5, the hardtanh bounds -2, 3) and a spread of values
SPECIAL = np.array([0.0, 1.0, -1.0, 0.5, -0.5, -2.0, 3.0, 25.0, -25.0])


def _data(shape, dtype, seed=0):
    x = 3 * np.random.default_rng(seed).standard_normal(shape)
    flat = x.reshape(-1)
    k = min(flat.size, SPECIAL.size)
    flat[:k] = SPECIAL[:k]
    return x.astype(dtype)


def _compare(fn_ts, fn_torch, inputs, dtype, grad_of=(0,)):
    """Values of fn on both frameworks, and the gradients of (out * seed).sum()."""
    mine = [ts.tensor(a, requires_grad=i in grad_of) for i, a in enumerate(inputs)]
    theirs = [torch.tensor(a, requires_grad=i in grad_of) for i, a in enumerate(inputs)]
    out, tout = fn_ts(*mine), fn_torch(*theirs)
    assert out.dtype == getattr(ts, np.dtype(dtype).name) and tuple(out.shape) == tuple(tout.shape)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), **TOL[dtype])
    seed = np.random.default_rng(5).standard_normal(tuple(tout.shape)).astype(dtype)
    (out * ts.tensor(seed)).sum().backward()
    (tout * torch.tensor(seed)).sum().backward()
    for i in grad_of:
        np.testing.assert_allclose(mine[i].grad.numpy(), theirs[i].grad.numpy(), **TOL[dtype],
                                   err_msg=f"gradient of input {i}")


# ---------------------------------------------------------------- activations

ACTIVATIONS = {
    "silu": ({}, "SiLU", ()), "mish": ({}, "Mish", ()),
    "leaky_relu": ({"negative_slope": 0.2}, "LeakyReLU", (0.2,)),
    "leaky_relu-default": ({}, "LeakyReLU", ()),
    "elu": ({"alpha": 1.5}, "ELU", (1.5,)), "elu-default": ({}, "ELU", ()),
    "hardtanh": ({"min_val": -2.0, "max_val": 3.0}, "Hardtanh", (-2.0, 3.0)),
    "hardtanh-default": ({}, "Hardtanh", ()),
}


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("case", list(ACTIVATIONS))
def test_activation_values_and_gradients_match_torch(case, shape, dtype):
    kwargs, module, args = ACTIVATIONS[case]
    name = case.split("-")[0]
    x = _data(shape, dtype)
    _compare(lambda a: getattr(F, name)(a, **kwargs),
             lambda a: getattr(torch.nn.functional, name)(a, **kwargs), [x], dtype)
    _compare(getattr(nn, module)(*args), getattr(torch.nn, module)(*args), [x], dtype)


@needs_torch
@pytest.mark.parametrize("case", list(ACTIVATIONS))
def test_activation_inplace_writes_into_the_input(case):
    kwargs, module, args = ACTIVATIONS[case]
    name = case.split("-")[0]
    x = _data((3, 4), np.float64)
    mine, theirs = ts.tensor(x), torch.tensor(x)
    out = getattr(F, name)(mine, **kwargs, inplace=True)
    tout = getattr(torch.nn.functional, name)(theirs, **kwargs, inplace=True)
    assert out is mine
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-14)
    m = getattr(nn, module)(*args, inplace=True)
    y = ts.tensor(x)
    assert m(y) is y
    np.testing.assert_allclose(y.numpy(), tout.numpy(), rtol=1e-12, atol=1e-14)
    # through a computed (non-leaf) tensor the in-place result is still differentiable
    a, ta = ts.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    getattr(F, name)(a * 2, **kwargs, inplace=True).sum().backward()
    getattr(torch.nn.functional, name)(ta * 2, **kwargs, inplace=True).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("case", list(ACTIVATIONS))
def test_activation_gradcheck(case):
    kwargs, _, _ = ACTIVATIONS[case]
    name = case.split("-")[0]
    # away from the kinks (finite differences straddle them)
    x = np.random.default_rng(1).uniform(-4, 4, (3, 5))
    x[np.abs(x) < 0.05] += 0.2
    x[np.abs(x + 2) < 0.05] += 0.2
    x[np.abs(x - 3) < 0.05] += 0.2
    x[np.abs(np.abs(x) - 1) < 0.05] += 0.2
    assert ts.gradcheck(lambda a: getattr(F, name)(a, **kwargs), (ts.tensor(x, requires_grad=True),))


def test_activations_have_no_nan_gradient_for_large_inputs():
    x = ts.tensor([-1000.0, -50.0, 50.0, 1000.0], dtype=ts.float64, requires_grad=True)
    for fn in (F.elu, F.silu, F.mish, F.leaky_relu, F.hardtanh):
        x.grad = None
        y = fn(x)
        y.sum().backward()
        assert np.isfinite(y.numpy()).all() and np.isfinite(x.grad.numpy()).all(), fn.__name__


@needs_torch
@pytest.mark.parametrize("module, args, kwargs", [
    ("SiLU", (), {}), ("SiLU", (True,), {}), ("Mish", (), {"inplace": True}),
    ("LeakyReLU", (), {}), ("LeakyReLU", (0.2, True), {}), ("ELU", (), {}),
    ("ELU", (2.0,), {"inplace": True}), ("Hardtanh", (), {}), ("Hardtanh", (-2, 3, True), {}),
    ("Hardtanh", (-0.5,), {"max_val": 0.5}),
    ("L1Loss", (), {}), ("SmoothL1Loss", (), {"beta": 0.5}), ("HuberLoss", (), {"delta": 2.0}),
    ("HuberLoss", ("sum", 0.5), {}),
])
def test_module_reprs_and_no_parameters(module, args, kwargs):
    mine = getattr(nn, module)(*args, **kwargs)
    assert repr(mine) == repr(getattr(torch.nn, module)(*args, **kwargs))
    assert mine.num_parameters() == 0 and mine.state_dict() == {}


@needs_torch
def test_sequential_repr_with_the_new_activations():
    def build(lib):
        return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.SiLU(), lib.nn.LeakyReLU(0.1),
                                 lib.nn.ELU(), lib.nn.Hardtanh(-2.0, 2.0), lib.nn.Mish())
    assert repr(build(ts)) == repr(build(torch))


def test_hardtanh_deprecated_keywords_warn_as_torch():
    with pytest.warns(FutureWarning, match="min_value"):
        m = nn.Hardtanh(min_value=-3.0)
    assert m.min_val == -3.0


def test_activation_errors():
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(ts.ones(2), 1.0, 0.0)
    with pytest.raises(ValueError, match=r"max_val \(0.0\) must be greater than min_val \(1.0\)"):
        nn.Hardtanh(1.0, 0.0)
    for fn in (F.silu, F.elu, F.leaky_relu, F.hardtanh, F.mish):
        with pytest.raises(TypeError, match=fn.__name__):
            fn(ts.tensor([1, 2]))
        with pytest.raises(TypeError, match=fn.__name__):
            fn("x")


# ---------------------------------------------------------------- normalize

NORMALIZE = [((3, 4), {}), ((3, 4), {"dim": 0}), ((2, 3, 5), {"p": 1.0, "dim": -1}),
             ((2, 3, 5), {"p": 3.0, "dim": 2}), ((2, 3, 5), {"p": float("inf")}),
             ((6,), {"dim": 0}), ((4, 3), {"eps": 0.5})]


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kwargs", NORMALIZE)
def test_normalize_matches_torch(shape, kwargs, dtype):
    x = np.random.default_rng(2).standard_normal(shape).astype(dtype)
    _compare(lambda a: F.normalize(a, **kwargs),
             lambda a: torch.nn.functional.normalize(a, **kwargs), [x], dtype)


@needs_torch
def test_normalize_of_a_zero_row_is_zero_with_finite_gradients():
    x = np.array([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0]])
    _compare(F.normalize, torch.nn.functional.normalize, [x], np.float64)
    np.testing.assert_array_equal(F.normalize(ts.tensor(x)).numpy()[0], [0, 0, 0])


@pytest.mark.parametrize("kwargs", [{}, {"p": 1.0, "dim": 0}, {"p": 3.0, "dim": -1}])
def test_normalize_gradcheck(kwargs):
    x = np.random.default_rng(3).uniform(0.2, 2.0, (3, 4)) * np.sign(
        np.random.default_rng(4).standard_normal((3, 4)))
    assert ts.gradcheck(lambda a: F.normalize(a, **kwargs), (ts.tensor(x, requires_grad=True),))


def test_normalize_rows_have_unit_norm():
    y = F.normalize(ts.randn(5, 7))
    np.testing.assert_allclose(np.linalg.norm(y.numpy(), axis=1), np.ones(5), rtol=1e-6)


# ---------------------------------------------------------------- regression losses

REDUCTIONS = ["mean", "sum", "none"]
LOSSES = {
    "l1_loss": ({}, "L1Loss"), "smooth_l1_loss": ({}, "SmoothL1Loss"),
    "smooth_l1_loss-beta": ({"beta": 0.5}, "SmoothL1Loss"),
    "smooth_l1_loss-beta0": ({"beta": 0.0}, "SmoothL1Loss"),
    "huber_loss": ({}, "HuberLoss"), "huber_loss-delta": ({"delta": 0.3}, "HuberLoss"),
    "huber_loss-delta-big": ({"delta": 4.0}, "HuberLoss"),
}
LOSS_SHAPES = [((7,), (7,)), ((3, 4), (3, 4)), ((2, 3, 5), (2, 3, 5))]


def _loss_data(shape, tshape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = 2 * rng.standard_normal(shape)
    y = 2 * rng.standard_normal(tshape)
    # ties: d = 0, |d| = 0.5 and |d| = 1 (the beta and delta used above)
    flat_x, flat_y = x.reshape(-1), np.broadcast_to(y, x.shape).copy().reshape(-1)
    flat_x[:3] = flat_y[:3] + np.array([0.0, 0.5, -1.0])[:min(3, flat_x.size)]
    y = flat_y.reshape(x.shape) if tshape == shape else y
    return x.reshape(shape).astype(dtype), y.astype(dtype)


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape, tshape", LOSS_SHAPES)
@pytest.mark.parametrize("case", list(LOSSES))
def test_loss_values_and_gradients_match_torch(case, shape, tshape, reduction, dtype):
    kwargs, module = LOSSES[case]
    name = case.split("-")[0]
    x, y = _loss_data(shape, tshape, dtype)
    _compare(lambda a, b: getattr(F, name)(a, b, reduction=reduction, **kwargs),
             lambda a, b: getattr(torch.nn.functional, name)(a, b, reduction=reduction, **kwargs),
             [x, y], dtype, grad_of=(0, 1))
    _compare(getattr(nn, module)(reduction=reduction, **kwargs),
             getattr(torch.nn, module)(reduction=reduction, **kwargs), [x, y], dtype,
             grad_of=(0, 1))


@needs_torch
@pytest.mark.parametrize("case", list(LOSSES))
def test_loss_broadcasting_warns_and_matches_torch(case):
    kwargs, _ = LOSSES[case]
    name = case.split("-")[0]
    x, y = _loss_data((4, 3), (3,), np.float64)
    for reduction in REDUCTIONS:
        with pytest.warns(UserWarning, match="different to the input size"):
            _compare(lambda a, b: getattr(F, name)(a, b, reduction=reduction, **kwargs),
                     lambda a, b: getattr(torch.nn.functional, name)(a, b, reduction=reduction,
                                                                     **kwargs),
                     [x, y], np.float64, grad_of=(0, 1))


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, kwargs", [("l1_loss", {}), ("huber_loss", {"delta": 0.7})])
def test_weighted_losses_match_torch(name, kwargs, reduction, dtype):
    x, y = _loss_data((3, 4), (3, 4), dtype)
    w = np.random.default_rng(6).uniform(0.1, 2.0, (3, 4)).astype(dtype)
    _compare(lambda a, b, c: getattr(F, name)(a, b, reduction=reduction, weight=c, **kwargs),
             lambda a, b, c: getattr(torch.nn.functional, name)(a, b, reduction=reduction,
                                                                weight=c, **kwargs),
             [x, y, w], dtype, grad_of=(0, 1, 2))


@pytest.mark.parametrize("case", list(LOSSES))
def test_loss_gradcheck(case):
    kwargs, _ = LOSSES[case]
    name = case.split("-")[0]
    rng = np.random.default_rng(8)
    x, y = rng.uniform(-3, 3, (3, 4)), rng.uniform(-3, 3, (3, 4))
    d = x - y
    for kink in (0.0, 0.5, 0.3, 4.0, 1.0):     # keep |d| away from the kinks
        d[np.abs(np.abs(d) - kink) < 0.05] += 0.2
    x = y + d
    for reduction in REDUCTIONS:
        fn = lambda a, b: getattr(F, name)(a, b, reduction=reduction, **kwargs)  # noqa: E731
        assert ts.gradcheck(fn, (ts.tensor(x, requires_grad=True), ts.tensor(y, requires_grad=True)))


def test_losses_follow_their_formulas_in_numpy():
    x, y = _loss_data((5, 2), (5, 2), np.float64, seed=4)
    d = x - y
    a = np.abs(d)
    np.testing.assert_allclose(F.l1_loss(ts.tensor(x), ts.tensor(y)).item(), a.mean())
    beta, delta = 0.6, 1.7
    smooth = np.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta)
    huber = np.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))
    np.testing.assert_allclose(F.smooth_l1_loss(ts.tensor(x), ts.tensor(y), beta=beta,
                                                reduction="sum").item(), smooth.sum())
    np.testing.assert_allclose(F.huber_loss(ts.tensor(x), ts.tensor(y), "none", delta).numpy(), huber)
    np.testing.assert_allclose(F.huber_loss(ts.tensor(x), ts.tensor(y), delta=beta).numpy(),
                               beta * F.smooth_l1_loss(ts.tensor(x), ts.tensor(y), beta=beta).numpy())


def test_integer_targets_take_the_input_dtype():
    x = ts.tensor([0.5, 2.0], dtype=ts.float32)
    for fn in (F.l1_loss, F.smooth_l1_loss, F.huber_loss):
        out = fn(x, ts.tensor([0, 1]))
        assert out.dtype == ts.float32


def test_loss_errors():
    x, y = ts.ones(3), ts.zeros(3)
    for fn in (F.l1_loss, F.smooth_l1_loss, F.huber_loss):
        with pytest.raises(ValueError, match="reduction must be"):
            fn(x, y, reduction="avg")
    with pytest.raises(ValueError, match="beta must be >= 0, got -1"):
        F.smooth_l1_loss(x, y, beta=-1)
    with pytest.raises(ValueError, match="delta must be > 0, got 0"):
        F.huber_loss(x, y, delta=0)
    with pytest.raises(ValueError, match="weights and input must have the same size"):
        F.l1_loss(x, y, weight=ts.ones(2))
    with pytest.raises(ValueError, match="weights and input must have the same size"):
        F.huber_loss(x, y, weight=ts.ones(1))
    with pytest.raises(TypeError):           # torch's third positional is size_average
        F.l1_loss(x, y, "sum")
    with pytest.raises(TypeError):
        nn.L1Loss("sum")
    with pytest.raises(ValueError, match="SmoothL1Loss: beta"):
        nn.SmoothL1Loss(beta=-0.5)
    with pytest.raises(ValueError, match="HuberLoss: delta"):
        nn.HuberLoss(delta=0.0)
    with pytest.raises(ValueError, match="HuberLoss: reduction"):
        nn.HuberLoss("avg")
    with pytest.raises(TypeError, match="l1_loss: target"):
        F.l1_loss(x, "y")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.l1_loss(x, y)             # same shapes: no warning


TARGET = ts.tensor([[0.1, -0.2, 0.3], [0.0, 0.5, -0.1]])


@pytest.mark.parametrize("fn", [F.silu, F.mish, F.elu, lambda a: F.leaky_relu(a, 0.2),
                                F.hardtanh, F.normalize,
                                lambda a: F.smooth_l1_loss(a, TARGET, beta=0.5, reduction="none"),
                                lambda a: F.huber_loss(a, TARGET, "none", delta=0.7)],
                         ids=["silu", "mish", "elu", "leaky_relu", "hardtanh", "normalize",
                              "smooth_l1", "huber"])
def test_second_derivatives_gradgradcheck(fn):
    # away from the kinks: |x| not near 1 (hardtanh), |x - TARGET| not near 0.5 or 0.7
    x = np.array([[0.3, -2.2, 1.6], [2.4, -0.45, 0.8]])
    assert ts.gradgradcheck(fn, (ts.tensor(x, requires_grad=True),))
