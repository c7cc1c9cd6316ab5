"""Names a PyTorch tutorial uses with ``torch`` renamed to ``tinygrad_seq``: each is
checked against torch 2.13 (values, dtypes, gradients, reprs, errors)."""
import numpy as np
import pytest
from torch_ref import needs_torch, torch

import tinygrad_seq as ts
from tinygrad_seq import nn


def _both(fn):
    """fn(lib) run on torch and tinygrad_seq; the two results."""
    return fn(torch), fn(ts)


# ---------------------------------------------------------------- __format__

@needs_torch
@pytest.mark.parametrize("value, spec", [(1.5, ".4f"), (3, "5d"), (2.0, ""), (0.125, "e"),
                                         (True, "")])
def test_format_zero_dim_formats_the_item(value, spec):
    want = format(torch.tensor(value), spec)
    assert format(ts.tensor(value), spec) == want
    assert f"{ts.tensor(value):{spec}}" == want


@needs_torch
@pytest.mark.parametrize("data", [[1.5], [1.5, 2.0]])
def test_format_of_a_non_scalar_tensor(data):
    with pytest.raises(TypeError):
        format(torch.tensor(data), ".4f")
    with pytest.raises(TypeError):
        format(ts.tensor(data), ".4f")
    assert format(ts.tensor(data)) == str(ts.tensor(data))


def test_format_keeps_the_graph_alone():
    x = ts.tensor(2.0, requires_grad=True)
    loss = x * 3
    assert f"loss {loss:.3f}" == "loss 6.000"
    loss.backward()
    assert x.grad.item() == 3.0


# ---------------------------------------------------------------- Flatten / Unflatten

@needs_torch
@pytest.mark.parametrize("args", [(), (0,), (1, 2), (0, -2), (2, 3)])
def test_flatten_module(args):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    t, m = torch.nn.Flatten(*args), nn.Flatten(*args)
    assert repr(m) == repr(t)
    xt, xs = torch.tensor(x, requires_grad=True), ts.tensor(x, requires_grad=True)
    yt, ys = t(xt), m(xs)
    assert tuple(ys.shape) == tuple(yt.shape)
    np.testing.assert_array_equal(ys.numpy(), yt.detach().numpy())
    w = np.arange(yt.numel(), dtype=np.float32).reshape(tuple(yt.shape))
    (yt * torch.tensor(w)).sum().backward()
    (ys * ts.tensor(w)).sum().backward()
    np.testing.assert_array_equal(xs.grad.numpy(), xt.grad.numpy())


@needs_torch
@pytest.mark.parametrize("dim, sizes", [(1, (2, 6)), (-1, (3, -1)), (1, [4, 3]), (0, (1, 2))])
def test_unflatten_module(dim, sizes):
    x = np.arange(24, dtype=np.float32).reshape(2, 12)
    t, m = torch.nn.Unflatten(dim, sizes), nn.Unflatten(dim, sizes)
    assert repr(m) == repr(t)
    xt, xs = torch.tensor(x, requires_grad=True), ts.tensor(x, requires_grad=True)
    yt, ys = t(xt), m(xs)
    assert tuple(ys.shape) == tuple(yt.shape)
    np.testing.assert_array_equal(ys.numpy(), yt.detach().numpy())
    ys.sum().backward()
    np.testing.assert_array_equal(xs.grad.numpy(), np.ones_like(x))


@needs_torch
def test_flatten_in_a_sequential_repr():
    t = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2), torch.nn.Unflatten(1, (1, 2)))
    m = nn.Sequential(nn.Flatten(), nn.Linear(12, 2), nn.Unflatten(1, (1, 2)))
    assert repr(m) == repr(t)
    assert m.state_dict().keys() == t.state_dict().keys()


# ---------------------------------------------------------------- squeeze

@needs_torch
@pytest.mark.parametrize("shape, dim", [((2, 3), 0), ((2, 3), -1), ((2, 1, 3, 1), (0, 1, 3)),
                                        ((2, 3), (0, 1)), ((1, 3), 0), ((2, 1), None),
                                        ((1, 1), (0, -1)), ((), 0), ((), ())])
def test_squeeze_leaves_dims_that_are_not_one(shape, dim):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    xt, xs = torch.tensor(x, requires_grad=True), ts.tensor(x, requires_grad=True)
    args = () if dim is None else (dim,)
    yt, ys = xt.squeeze(*args), xs.squeeze(*args)
    assert tuple(ys.shape) == tuple(yt.shape)
    assert tuple(ts.squeeze(xs, *args).shape) == tuple(torch.squeeze(xt, *args).shape)
    np.testing.assert_array_equal(ys.detach().numpy(), yt.detach().numpy())
    (ys * 2).sum().backward()
    (yt * 2).sum().backward()
    np.testing.assert_array_equal(xs.grad.numpy(), xt.grad.numpy())
    zs = ts.tensor(x)
    assert tuple(zs.squeeze_(*args).shape) == tuple(torch.tensor(x).squeeze_(*args).shape)


@needs_torch
def test_squeeze_out_of_range_still_raises():
    with pytest.raises(IndexError):
        torch.ones(2, 3).squeeze(2)
    with pytest.raises(IndexError, match="squeeze"):
        ts.ones(2, 3).squeeze(2)


# ---------------------------------------------------------------- schedulers take reals

def _scheduled_lrs(lib, make, steps=7):
    opt = lib.optim.SGD([lib.zeros(1, requires_grad=True)], lr=1.0)
    sched, lrs = make(lib.optim.lr_scheduler, opt), []
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    return lrs


@needs_torch
@pytest.mark.parametrize("make", [
    lambda L, o: L.StepLR(o, 1.0, gamma=0.95),          # the official tutorial's call
    lambda L, o: L.StepLR(o, 2.5),
    lambda L, o: L.StepLR(o, np.float64(2.0), gamma=0.5),
    lambda L, o: L.LinearLR(o, total_iters=3.0),
    lambda L, o: L.LinearLR(o, start_factor=0.5, total_iters=2.5),
    lambda L, o: L.CosineAnnealingLR(o, 2.0),
], ids=["StepLR-1.0", "StepLR-2.5", "StepLR-np", "LinearLR-3.0", "LinearLR-2.5", "Cosine-2.0"])
def test_schedulers_take_real_numbers_as_torch(make):
    want, got = _both(lambda lib: _scheduled_lrs(lib, make))
    np.testing.assert_allclose(got, want, rtol=1e-12)


# ---------------------------------------------------------------- ts.autograd's names

AUTOGRAD_NAMES = ["Function", "set_detect_anomaly", "detect_anomaly", "grad", "backward",
                  "gradcheck", "gradgradcheck", "no_grad", "enable_grad", "set_grad_enabled",
                  "inference_mode"]


@needs_torch
@pytest.mark.parametrize("name", AUTOGRAD_NAMES)
def test_autograd_names(name):
    assert hasattr(torch.autograd, name)
    assert callable(getattr(ts.autograd, name))


def test_autograd_names_are_the_top_level_ones():
    import tinygrad_seq.autograd as engine
    assert engine is ts.autograd
    assert ts.autograd.Function is ts.Function and ts.autograd.gradcheck is ts.gradcheck
    assert ts.autograd.grad is ts.grad and ts.autograd.detect_anomaly is ts.detect_anomaly


def test_autograd_import_in_a_fresh_interpreter_has_no_cycle():
    import subprocess
    import sys
    code = ("import tinygrad_seq.autograd as A; from tinygrad_seq.autograd import Function, "
            "backward, gradcheck, set_detect_anomaly; print(A.Function.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Function"


def _custom_cube(lib):
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x * x
    x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
    y = Cube.apply(x)
    y.sum().backward()
    ok = lib.autograd.gradcheck(Cube.apply, (lib.tensor([0.3, 1.2], dtype=lib.float64,
                                                        requires_grad=True),))
    return y.detach().numpy(), x.grad.numpy(), ok


@needs_torch
def test_autograd_function_and_gradcheck():
    (yt, gt, okt), (ys, gs, oks) = _both(_custom_cube)
    np.testing.assert_allclose(ys, yt)
    np.testing.assert_allclose(gs, gt)
    assert okt is True and oks is True


def _backward_of_two_roots(lib, **kw):
    a = lib.tensor([1.0, 2.0], requires_grad=True)
    b = lib.tensor([3.0, -1.0], requires_grad=True)
    roots = [(a * b).sum(), (a * a)]
    lib.autograd.backward(roots, [None, lib.tensor([1.0, 0.5])], **kw)
    return [None if t.grad is None else t.grad.numpy() for t in (a, b)]


@needs_torch
@pytest.mark.parametrize("kw", [{}, {"retain_graph": True}, {"inputs": "b"}])
def test_autograd_backward(kw):
    def run(lib):
        if kw.get("inputs") == "b":
            a = lib.tensor([1.0, 2.0], requires_grad=True)
            b = lib.tensor([3.0, -1.0], requires_grad=True)
            lib.autograd.backward([(a * b).sum()], inputs=[b])
            return [None if t.grad is None else t.grad.numpy() for t in (a, b)]
        return _backward_of_two_roots(lib, **kw)
    want, got = _both(run)
    for w, g in zip(want, got):
        assert (w is None) == (g is None)
        if w is not None:
            np.testing.assert_allclose(g, w)


@needs_torch
@pytest.mark.filterwarnings("ignore:Anomaly Detection")
def test_autograd_grad_and_anomaly_switches():
    for lib in (torch, ts):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (g,) = lib.autograd.grad((x ** 2).sum(), x)
        np.testing.assert_allclose(g.numpy(), [2.0, 4.0])
        lib.autograd.set_detect_anomaly(True)
        try:
            assert lib.is_anomaly_enabled()
        finally:
            lib.autograd.set_detect_anomaly(False)
        assert not lib.is_anomaly_enabled()
        with lib.autograd.detect_anomaly():
            (x * 3).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


# ---------------------------------------------------------------- forward hooks

def _hooked(lib, replace):
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.ReLU(), lib.nn.Linear(4, 2))
    seen = []

    def pre(module, args):
        seen.append(("pre", type(module).__name__, len(args), tuple(args[0].shape)))
        return args[0] * 2 if replace else None

    def post(module, args, output):
        seen.append(("post", type(module).__name__, tuple(output.shape)))
        return output + 1 if replace else None

    h1 = model[0].register_forward_pre_hook(pre)
    h2 = model[2].register_forward_hook(post)
    x = lib.tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3))
    y1 = model(x)
    h1.remove()
    h2.remove()
    y2 = model(x)
    return seen, y1.detach().numpy(), y2.detach().numpy()


@needs_torch
@pytest.mark.parametrize("replace", [False, True])
def test_forward_hooks_as_torch(replace):
    (seen_t, y1t, y2t), (seen_s, y1s, y2s) = _both(lambda lib: _hooked(lib, replace))
    assert seen_s == seen_t
    # the weights differ (two generators); compare each run with its own unhooked output
    if replace:
        assert not np.allclose(y1s, y2s) and not np.allclose(y1t, y2t)
    else:
        np.testing.assert_array_equal(y1s, y2s)


def test_forward_hook_replacements_and_gradients():
    lin = nn.Linear(2, 2)
    x = ts.tensor([[1.0, -2.0]], requires_grad=True)
    plain = lin(x)
    h = lin.register_forward_pre_hook(lambda m, args: (args[0] * 3,))
    g = lin.register_forward_hook(lambda m, args, out: out * 2)
    y = lin(x)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    np.testing.assert_allclose(y.detach().numpy(), 2 * (3 * x.detach().numpy() @ w.T + b),
                               rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * w.sum(0, keepdims=True), rtol=1e-6)
    h.remove()
    g.remove()
    h.remove()                                    # twice is fine, as torch
    np.testing.assert_array_equal(lin(x).detach().numpy(), plain.detach().numpy())


@needs_torch
def test_forward_hooks_with_kwargs_and_prepend():
    def run(lib):
        order = []
        m = lib.nn.Identity()
        m.register_forward_hook(lambda mod, a, out: order.append("first"))
        m.register_forward_hook(lambda mod, a, out: order.append("prepended"), prepend=True)
        m.register_forward_pre_hook(lambda mod, a, kw: ((a[0] + 1,), kw), with_kwargs=True)
        m.register_forward_hook(lambda mod, a, kw, out: out * 10, with_kwargs=True)
        with m.register_forward_hook(lambda mod, a, out: out - 1):
            inside = m(lib.tensor([1.0])).item()
        return order, inside, m(lib.tensor([1.0])).item()
    want, got = _both(run)
    assert got == want


# ---------------------------------------------------------------- top-level and Tensor names

from hypothesis import given, strategies as st  # noqa: E402

from strategies import arrays, shapes  # noqa: E402
from test_tensor_ops_torch import _tracked, check, compare, dtype_name  # noqa: E402
from tinygrad_seq.ops.special import Log1p, Rounding, XLogY  # noqa: E402


@given(x=arrays(shapes(), st.floats(-0.9, 5)))
def test_log1p_gradients(x):
    check(Log1p, lambda t: t.log1p(), ts.tensor(x, requires_grad=True))


@given(x=arrays(shapes(), st.integers(-20, 20)), mode=st.sampled_from(["floor", "ceil", "round"]))
def test_rounding_gradients(x, mode):
    x = np.floor(x) + 0.25                        # away from the steps and the halves
    check(Rounding, lambda t: getattr(t, mode)(), ts.tensor(x, requires_grad=True))


XLOGY_X = st.one_of(st.just(0.0), st.floats(-3, 3))     # exact zeros: the 0 log y = 0 rule
XLOGY_Y = st.floats(0.1, 5)


@given(data=st.data())
def test_xlogy_gradients(data):
    shape = data.draw(shapes(), label="shape")
    x = data.draw(arrays(shape, XLOGY_X), label="x")
    y = data.draw(arrays(shape[-1:] if data.draw(st.booleans()) else shape, XLOGY_Y), label="y")
    check(XLogY, lambda a, b: a.xlogy(b), ts.tensor(x, requires_grad=True),
          ts.tensor(y, requires_grad=True))


def xlogy_case(draw, dtype):
    shape = draw(shapes())
    x = draw(arrays(shape, XLOGY_X)).astype(dtype)
    y = draw(arrays(shape, XLOGY_Y)).astype(dtype)
    tx, ty = _tracked(x, dtype), _tracked(y, dtype)
    return tx.xlogy(ty), np.where(x == 0, 0, x * np.log(y)), [tx, ty]


def log1p_case(draw, dtype):
    x = draw(arrays(shapes(), st.floats(-0.9, 5))).astype(dtype)
    t = _tracked(x, dtype)
    return t.log1p(), np.log1p(x), [t]


def rounding_case(draw, dtype):
    x = draw(arrays(shapes(), st.floats(-50, 50))).astype(dtype)
    mode = draw(st.sampled_from(["floor", "ceil", "round"]))
    t = _tracked(x, dtype)
    return getattr(t, mode)(), getattr(np, mode)(x), [t]


FORWARD_CASES = {Log1p: log1p_case, Rounding: rounding_case, XLogY: xlogy_case}

X = np.array([[0.5, -2.5, 1e-9], [1.5, 3.25, -0.75]])


@needs_torch
@pytest.mark.parametrize("name", ["log1p", "floor", "ceil", "round", "clone"])
def test_elementwise_names_against_torch(name):
    x = np.abs(X) if name == "log1p" else X
    compare(lambda t: getattr(ts, name)(t), lambda t: getattr(torch, name)(t), x)
    compare(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), x.astype(np.float32),
            rtol=1e-6)


@needs_torch
def test_round_decimals_and_integer_rounding():
    compare(lambda t: ts.round(t, decimals=1), lambda t: torch.round(t, decimals=1), X * 3.3)
    compare(lambda t: t.floor(), lambda t: t.floor(), np.array([3, -2]), grad=False)


@needs_torch
@pytest.mark.parametrize("args, kwargs", [((), {}), ((0,), {}), ((1,), {"keepdim": True}),
                                          ((1,), {"unbiased": False}),
                                          ((), {"dim": 0, "correction": 0})])
@pytest.mark.parametrize("name", ["std", "var"])
def test_std_var_top_level(name, args, kwargs):
    compare(lambda t: getattr(ts, name)(t, *args, **kwargs),
            lambda t: getattr(torch, name)(t, *args, **kwargs), X)


@needs_torch
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_unbind(dim):
    compare(lambda t: ts.unbind(t, dim), lambda t: torch.unbind(t, dim), X)
    compare(lambda t: t.unbind(dim), lambda t: t.unbind(dim), X)


@needs_torch
def test_pow_top_level():
    compare(lambda t: ts.pow(t, 2), lambda t: torch.pow(t, 2), X)
    compare(lambda t: ts.pow(2.0, t), lambda t: torch.pow(2.0, t), X)
    compare(lambda a, b: ts.pow(a, b), lambda a, b: torch.pow(a, b), np.abs(X) + 0.1, X)


@needs_torch
@pytest.mark.parametrize("kw", [{}, {"rtol": 0.1}, {"atol": 1.0}, {"equal_nan": True}])
def test_isclose(kw):
    a = np.array([1.0, 1.05, np.nan, 2.0, np.inf])
    b = np.array([1.0, 1.0, np.nan, 3.0, np.inf])
    compare(lambda x, y: ts.isclose(x, y, **kw), lambda x, y: torch.isclose(x, y, **kw), a, b,
            grad=False)
    compare(lambda x, y: x.isclose(y, **kw), lambda x, y: x.isclose(y, **kw), a, b, grad=False)


@needs_torch
def test_one_argument_where():
    c = np.array([[True, False], [False, True]])
    got, want = ts.where(ts.tensor(c)), torch.where(torch.tensor(c))
    assert isinstance(got, tuple) and len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == ts.int64
        np.testing.assert_array_equal(g.numpy(), w.numpy())
    with pytest.raises(TypeError):
        ts.where(ts.tensor(c), ts.ones(2, 2))


@needs_torch
def test_multinomial_method():
    w = ts.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    s = w.multinomial(1)
    assert s.dtype == ts.int64 and tuple(s.shape) == (2, 1)
    np.testing.assert_array_equal(s.numpy(), [[1], [2]])
    r = ts.tensor([0.2, 0.8]).multinomial(5, replacement=True)
    assert tuple(r.shape) == tuple(torch.tensor([0.2, 0.8]).multinomial(5, True).shape)


@needs_torch
def test_is_cuda_and_small_int_dtypes():
    assert ts.ones(2).is_cuda is torch.ones(2).is_cuda is False
    for name in ["uint8", "int8", "int16"]:
        data = [1, 2, 200] if name == "uint8" else [1, -2, 100]
        got = ts.tensor(data, dtype=getattr(ts, name))
        want = torch.tensor(data, dtype=getattr(torch, name))
        assert str(got.dtype) == str(want.dtype).replace("torch.", "")
        np.testing.assert_array_equal(got.numpy(), want.numpy())


@needs_torch
@pytest.mark.parametrize("data, dtype", [([1.5], "float32"), ([1], "int64"), ([1.0], "float64"),
                                         ([True], "bool"), ([1], "int32"), ([1], "uint8"),
                                         ([1], "int8"), ([1], "int16"), ([1.0], "float16")])
def test_type_string(data, dtype):
    want = torch.tensor(data, dtype=getattr(torch, dtype)).type()
    got = ts.tensor(data, dtype=getattr(ts, dtype)).type()
    assert got == want.replace("torch.", "tinygrad_seq."), (got, want)


@needs_torch
@pytest.mark.parametrize("target", ["LongTensor", "FloatTensor", "DoubleTensor", "IntTensor",
                                    "ByteTensor", "BoolTensor"])
def test_type_casts_to_a_legacy_constructor(target):
    x = np.array([1.5, -0.5, 2.0])
    want = torch.tensor(x).type(getattr(torch, target))
    for arg in (getattr(ts, target), f"tinygrad_seq.{target}", f"torch.{target}"):
        got = ts.tensor(x).type(arg)
        assert str(got.dtype) == str(want.dtype).replace("torch.", ""), arg
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert ts.tensor(x).type(ts.int32).dtype == ts.int32


def test_legacy_constructor_of_the_new_types():
    assert ts.ByteTensor([1, 2]).dtype == ts.uint8 and ts.ShortTensor(2, 3).shape == (2, 3)
    assert ts.CharTensor([-1]).dtype == ts.int8


# ---------------------------------------------------------------- xlogy and kl_div

XLOGY_EDGES = (np.array([0.0, 0.0, 0.0, 0.0, 1.0, 2.0, -1.0, 3.0, 0.5]),
               np.array([0.0, -1.0, np.nan, np.inf, 0.0, 3.0, 2.0, np.inf, -2.0]))


@needs_torch
def test_xlogy_edges_match_torch_silently():
    """0 log 0 = 0, 0 log(-1) = 0, 0 log nan = nan, 1 log 0 = -inf, log of a negative
    nan: values, both gradients and the gradient of dx under create_graph as torch, with
    no NumPy warning."""
    import warnings
    x, y = XLOGY_EDGES
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        results = []
        for lib in (ts, torch):
            a = lib.tensor(x, requires_grad=True)
            b = lib.tensor(y, requires_grad=True)
            z = lib.xlogy(a, b)                 # (no sums: inf - inf warns in NumPy)
            da, db = lib.autograd.grad(z, (a, b), lib.ones_like(z), create_graph=True)
            (dda,) = lib.autograd.grad(da, (b,), lib.ones_like(da) * 1.5)
            results.append([t.detach().numpy() for t in (z, da, db, dda)])
    for got, want in zip(*results):
        np.testing.assert_array_equal(got, want)


@needs_torch
def test_xlogy_names_scalars_and_dtypes_match_torch():
    x = np.array([[0.0, 1.5, 2.0], [3.0, 0.0, 0.25]])
    y = np.array([0.5, 2.0, 4.0])
    compare(lambda a, b: ts.xlogy(a, b), lambda a, b: torch.xlogy(a, b), x, y)
    compare(lambda a, b: a.xlogy(b), lambda a, b: a.xlogy(b), x.astype(np.float32),
            y.astype(np.float32), rtol=1e-6)
    for fn in (lambda lib, t: lib.xlogy(2, t), lambda lib, t: lib.xlogy(t, 3.0),
               lambda lib, t: t.xlogy(0.0)):
        got, want = fn(ts, ts.tensor([1, 0, 4])), fn(torch, torch.tensor([1, 0, 4]))
        assert dtype_name(got) == dtype_name(want)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


KL_INPUT = np.log(np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]))
KL_TARGET = np.array([[0.0, 0.4, 0.6], [0.25, 0.25, 0.5]])


@needs_torch
@pytest.mark.parametrize("reduction", ["sum", "batchmean", "none", "mean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(reduction, log_target):
    import warnings
    target = np.log(KL_TARGET + 0.05) if log_target else KL_TARGET
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compare(lambda i, t: ts.nn.functional.kl_div(i, t, reduction=reduction,
                                                     log_target=log_target),
                lambda i, t: torch.nn.functional.kl_div(i, t, reduction=reduction,
                                                        log_target=log_target),
                KL_INPUT, target)
    # 'mean' warns that it is not the divergence: torch and ours, the same UserWarning
    messages = [(w.category, str(w.message)) for w in caught]
    assert len(messages) == (2 if reduction == "mean" else 0), messages
    assert len(set(messages)) <= 1 and all(c is UserWarning for c, _ in messages)


@needs_torch
def test_kl_div_module_broadcasting_and_errors_match_torch():
    loss = ts.nn.KLDivLoss(reduction="batchmean")
    assert repr(loss) == repr(torch.nn.KLDivLoss(reduction="batchmean")) == "KLDivLoss()"
    assert loss.reduction == "batchmean" and loss.log_target is False
    i, t = ts.tensor(KL_INPUT), ts.tensor(KL_TARGET[0])     # broadcast over the batch
    want = torch.nn.KLDivLoss(reduction="batchmean")(torch.tensor(KL_INPUT),
                                                      torch.tensor(KL_TARGET[0]))
    np.testing.assert_allclose(loss(i, t).item(), want.item(), rtol=1e-12)
    one = ts.nn.functional.kl_div(ts.tensor(-1.0), ts.tensor(0.5), reduction="batchmean")
    np.testing.assert_allclose(one.item(), torch.nn.functional.kl_div(
        torch.tensor(-1.0), torch.tensor(0.5), reduction="batchmean").item())
    with pytest.raises(ValueError, match="batchmean"):
        ts.nn.KLDivLoss(reduction="average")
    with pytest.raises(ts.DTypeError, match="kl_div: target must be a float"):
        ts.nn.functional.kl_div(i, ts.tensor([1, 0, 0]), reduction="sum")
    half = ts.nn.functional.kl_div(i.half(), t.half(), reduction="sum")
    assert half.dtype == ts.float16


def test_label_smoothing_with_kl_div_trains_a_classifier():
    """The Annotated Transformer's loss: KLDivLoss(reduction="sum") between log_softmax
    outputs and a smoothed one-hot target (confidence 0.9, the rest spread, zero at the
    padding class) lowers the loss and fits the labels."""
    gen = np.random.default_rng(0)
    x = ts.tensor(gen.standard_normal((64, 8)), dtype=ts.float32)
    labels = gen.integers(1, 5, 64)
    model = nn.Linear(8, 5)
    x = x + ts.tensor(np.eye(8)[labels], dtype=ts.float32) * 3.0
    smooth = np.full((64, 5), 0.1 / 3, dtype=np.float32)
    smooth[np.arange(64), labels] = 0.9
    smooth[:, 0] = 0.0                                       # the padding class
    criterion = nn.KLDivLoss(reduction="sum")
    opt = ts.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = criterion(model(x).log_softmax(dim=-1), ts.tensor(smooth))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert (model(x).argmax(dim=-1).numpy() == labels).mean() == 1.0
