"""1-D convolution: the three primitives of ops/conv.py (Conv1d and its two adjoints)
against plain NumPy loops and finite differences (their property tests, used by the
registries of test_primitives_grad.py and test_primitives_forward.py), F.conv1d and
nn.Conv1d against torch with the same weights (outputs and every gradient, all
options, float32 and float64, first and second order), and the errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_seq as ts
import tinygrad_seq.functional as F
from tinygrad_seq import nn
from tinygrad_seq.ops.conv import Conv1d, Conv1dInputGrad, Conv1dWeightGrad

from branch_check import check_branches
from strategies import arrays, ops_in_graph
from torch_ref import needs_torch, torch


# ---------------------------------------------------------------- plain NumPy references

def out_len(length, k, stride, pads, dilation):
    return (length + pads[0] + pads[1] - dilation * (k - 1) - 1) // stride + 1


def conv_np(x, w, stride, pads, dilation, groups):
    """y[n, o, l] = sum_{c, k} w[o, c, k] x_pad[n, group(o) * Cg + c, l * stride + k * dilation]"""
    n, _, length = x.shape
    o, cg, k = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), pads))
    lo = out_len(length, k, stride, pads, dilation)
    y = np.zeros((n, o, lo), dtype=x.dtype)
    for oc in range(o):
        g = oc // (o // groups)
        for pos in range(lo):
            for tap in range(k):
                y[:, oc, pos] += xp[:, g * cg:(g + 1) * cg, pos * stride + tap * dilation] @ w[oc, :, tap]
    return y


def conv_input_grad_np(gy, w, length, stride, pads, dilation, groups):
    """The adjoint in x: dx_pad[n, group(o) * Cg + c, l * stride + k * dilation] += w[o, c, k] gy[n, o, l]."""
    n, o, lo = gy.shape
    _, cg, k = w.shape
    dxp = np.zeros((n, cg * groups, length + pads[0] + pads[1]), dtype=gy.dtype)
    for oc in range(o):
        g = oc // (o // groups)
        for pos in range(lo):
            for tap in range(k):
                dxp[:, g * cg:(g + 1) * cg, pos * stride + tap * dilation] += \
                    gy[:, oc, pos][:, None] * w[oc, :, tap][None, :]
    return dxp[:, :, pads[0]:pads[0] + length]


def conv_weight_grad_np(x, gy, k, stride, pads, dilation, groups):
    """The adjoint in w:
    dw[o, c, k] = sum_{n, l} gy[n, o, l] x_pad[n, group(o) * Cg + c, l * stride + k * dilation]."""
    n, o, lo = gy.shape
    cg = x.shape[1] // groups
    xp = np.pad(x, ((0, 0), (0, 0), pads))
    dw = np.zeros((o, cg, k), dtype=x.dtype)
    for oc in range(o):
        g = oc // (o // groups)
        for pos in range(lo):
            for tap in range(k):
                dw[oc, :, tap] += gy[:, oc, pos] @ xp[:, g * cg:(g + 1) * cg, pos * stride + tap * dilation]
    return dw


# ---------------------------------------------------------------- random settings

@st.composite
def conv_settings(draw, max_groups=2):
    """Shapes and options of one convolution: (x shape, w shape, params) with
    asymmetric zero padding allowed (the primitive's (left, right))."""
    groups = draw(st.integers(1, max_groups))
    cg, og = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    k, stride, dilation = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    pads = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    n = draw(st.integers(1, 2))
    shortest = max(1, dilation * (k - 1) + 1 - pads[0] - pads[1])
    length = draw(st.integers(shortest, shortest + 4))
    params = dict(stride=stride, padding=pads, dilation=dilation, groups=groups)
    return (n, cg * groups, length), (og * groups, cg, k), params


def _leaf(a):
    return ts.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


PRIMITIVES = [Conv1d, Conv1dInputGrad, Conv1dWeightGrad]


def _operands(primitive, draw, x_shape, w_shape, params, elements=None):
    """The two operands of `primitive` and its keyword arguments, as NumPy arrays."""
    kw = {} if elements is None else dict(elements=elements)
    x = draw(arrays(x_shape, **kw), label="x")
    w = draw(arrays(w_shape, **kw), label="w")
    lo = out_len(x_shape[2], w_shape[2], params["stride"], params["padding"], params["dilation"])
    g = draw(arrays((x_shape[0], w_shape[0], lo), **kw), label="g")
    if primitive is Conv1d:
        return (x, w), dict(params)
    if primitive is Conv1dInputGrad:
        return (g, w), dict(params, length=x_shape[2])
    return (x, g), dict(params, kernel_size=w_shape[2])


def _reference(primitive, a, b, kw):
    p = (kw["stride"], kw["padding"], kw["dilation"], kw["groups"])
    if primitive is Conv1d:
        return conv_np(a, b, *p)
    if primitive is Conv1dInputGrad:
        return conv_input_grad_np(a, b, kw["length"], *p)
    return conv_weight_grad_np(a, b, kw["kernel_size"], *p)


@pytest.mark.parametrize("primitive", PRIMITIVES, ids=lambda c: c.__name__)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_conv1d_gradients(primitive, data):
    """Each primitive's gradient and gradient of the gradient against finite
    differences (float64), in both operands; for Conv1d through F.conv1d (with a bias
    and unbatched input sometimes), the other two called directly; the backward of each
    is made of the other primitives of the triple."""
    x_shape, w_shape, params = data.draw(conv_settings(), label="settings")
    (a, b), kw = _operands(primitive, data.draw, x_shape, w_shape, params)
    ta, tb = _leaf(a), _leaf(b)
    if primitive is Conv1d and params["padding"][0] == params["padding"][1]:
        bias = _leaf(data.draw(arrays((w_shape[0],)), label="bias"))
        unbatched = x_shape[0] == 1 and data.draw(st.booleans(), label="unbatched")
        if unbatched:
            ta = _leaf(a[0])
        p = dict(params, padding=params["padding"][0])
        fn = lambda x, w, c: F.conv1d(x, w, c, **p)  # noqa: E731
        inputs = (ta, tb, bias)
    else:
        fn = lambda u, v: primitive.apply(u, v, **kw)  # noqa: E731
        inputs = (ta, tb)
    out = fn(*inputs)
    assert primitive in ops_in_graph(out)
    g = ts.grad(out.sum(), [ta, tb], create_graph=True)
    assert set(PRIMITIVES) - {primitive} <= ops_in_graph(*g)
    assert ts.gradcheck(fn, inputs)
    assert ts.gradgradcheck(fn, inputs)
    assert check_branches(fn, inputs)


# the grid k / 4 keeps every product and sum exact in float32
EXACT = st.integers(-8, 8).map(lambda k: k / 4)


def forward_case(primitive):
    """FORWARD table case: the primitive against the NumPy loops above."""
    def case(draw, dtype):
        x_shape, w_shape, params = draw(conv_settings())
        (a, b), kw = _operands(primitive, draw, x_shape, w_shape, params, EXACT)
        a, b = a.astype(dtype), b.astype(dtype)
        ta = ts.tensor(a, requires_grad=True)
        tb = ts.tensor(b, requires_grad=True)
        return primitive.apply(ta, tb, **kw), _reference(primitive, a, b, kw), [ta, tb]
    return case


@pytest.mark.parametrize("primitive", PRIMITIVES, ids=lambda c: c.__name__)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_adjoint_identities(primitive, data):
    """<g, conv(x, w)> = <conv^T(g, w), x> = <corr(x, g), w>: the three primitives are one
    bilinear form read three ways, whichever one is computed."""
    x_shape, w_shape, params = data.draw(conv_settings(), label="settings")
    (x, w), _ = _operands(Conv1d, data.draw, x_shape, w_shape, params)
    lo = out_len(x_shape[2], w_shape[2], params["stride"], params["padding"], params["dilation"])
    g = data.draw(arrays((x_shape[0], w_shape[0], lo)), label="g")
    T = ts.tensor
    y = Conv1d.apply(T(x), T(w), **params).numpy()
    dx = Conv1dInputGrad.apply(T(g), T(w), length=x_shape[2], **params).numpy()
    dw = Conv1dWeightGrad.apply(T(x), T(g), kernel_size=w_shape[2], **params).numpy()
    form = (g * y).sum()
    np.testing.assert_allclose((dx * x).sum(), form, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose((dw * w).sum(), form, rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------- nn.Conv1d / F.conv1d against torch

MODULE_OPTIONS = [
    dict(),
    dict(stride=2),
    dict(padding=1),
    dict(padding=(2,), stride=3, dilation=2),
    dict(padding="same"),
    dict(padding="same", dilation=2, kernel_size=4),        # an odd total: the extra pad on the right
    dict(padding="valid", dilation=3),
    dict(groups=2),
    dict(groups=4, out_channels=8, padding=1),              # depthwise
    dict(bias=False, stride=2, padding=2),
    dict(padding=2, padding_mode="reflect"),
    dict(padding=3, padding_mode="replicate", stride=2),
    dict(padding=2, padding_mode="circular", groups=2),
    dict(padding="same", padding_mode="reflect", kernel_size=4),
    dict(kernel_size=1),
]

OPTION_IDS = [",".join(f"{k}={v}" for k, v in o.items()) or "default" for o in MODULE_OPTIONS]


def _pair(opts, dtype):
    opts = dict(opts)
    in_c, out_c, k = 4, opts.pop("out_channels", 6), opts.pop("kernel_size", 3)
    m = nn.Conv1d(in_c, out_c, k, dtype=dtype, **opts)
    tm = torch.nn.Conv1d(in_c, out_c, k, **opts).to(getattr(torch, np.dtype(dtype).name))
    tm.load_state_dict({name: torch.from_numpy(p.numpy()) for name, p in m.state_dict().items()})
    return m, tm


@needs_torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("opts", MODULE_OPTIONS, ids=OPTION_IDS)
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
def test_module_matches_torch_outputs_and_gradients(opts, dtype, batched):
    m, tm = _pair(opts, dtype)
    assert repr(m) == repr(tm)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 11) if batched else (4, 11)).astype(dtype)
    X, TX = ts.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = m(X), tm(TX)
    assert tuple(y.shape) == tuple(ty.shape) and y.dtype == dtype
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **tol)
    gy = rng.standard_normal(y.shape).astype(dtype)
    y.backward(ts.tensor(gy))
    ty.backward(torch.from_numpy(gy))
    np.testing.assert_allclose(X.grad.numpy(), TX.grad.numpy(), **tol)
    for name, p in m.named_parameters():
        tp = dict(tm.named_parameters())[name]
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), **tol, err_msg=name)


@needs_torch
@pytest.mark.parametrize("opts", [dict(stride=2, padding=1, dilation=2), dict(groups=2, padding="same"),
                                  dict(padding=1, padding_mode="reflect")],
                         ids=["strided", "grouped-same", "reflect"])
def test_second_order_gradients_match_torch(opts):
    """The gradient of a function of the first gradients (create_graph), both operands."""
    m, tm = _pair(opts, np.float64)
    x = np.random.default_rng(1).standard_normal((2, 4, 9))
    X, TX = ts.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = m(X), tm(TX)
    gx, gw = ts.grad((y.tanh() ** 2).sum(), [X, m.weight], create_graph=True)
    tgx, tgw = torch.autograd.grad((ty.tanh() ** 2).sum(), [TX, tm.weight], create_graph=True)
    ((gx ** 2).sum() + (gw * gw.tanh()).sum()).backward()
    ((tgx ** 2).sum() + (tgw * tgw.tanh()).sum()).backward()
    np.testing.assert_allclose(X.grad.numpy(), TX.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, p in m.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), dict(tm.named_parameters())[name].grad.numpy(),
                                   rtol=1e-10, atol=1e-12, err_msg=name)


@needs_torch
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_functional_matches_torch_on_random_settings(data):
    x_shape, w_shape, params = data.draw(conv_settings(max_groups=3), label="settings")
    pad = data.draw(st.sampled_from([params["padding"][0], "valid"]
                                    + (["same"] if params["stride"] == 1 else [])), label="padding")
    if pad == "valid" and x_shape[2] < params["dilation"] * (w_shape[2] - 1) + 1:
        pad = params["padding"][0]
    if isinstance(pad, int) and x_shape[2] + 2 * pad < params["dilation"] * (w_shape[2] - 1) + 1:
        pad = "same" if params["stride"] == 1 else x_shape[2]
    x, w = data.draw(arrays(x_shape), label="x"), data.draw(arrays(w_shape), label="w")
    b = data.draw(st.none() | arrays((w_shape[0],)), label="bias")
    kw = dict(stride=params["stride"], padding=pad, dilation=params["dilation"], groups=params["groups"])
    y = F.conv1d(ts.tensor(x), ts.tensor(w), None if b is None else ts.tensor(b), **kw)
    ty = torch.nn.functional.conv1d(torch.from_numpy(x), torch.from_numpy(w),
                                    None if b is None else torch.from_numpy(b), **kw)
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-12, atol=1e-12)


def _as_function(m):
    """The module's computation as a function of (x, weight[, bias])."""
    def fn(x, w, b=None):
        if m.padding_mode != "zeros":
            x = F.pad(x, m._pads, mode=m.padding_mode)
            padding = 0
        else:
            padding = m.padding if isinstance(m.padding, str) else m.padding[0]
        return F.conv1d(x, w, b, m.stride[0], padding, m.dilation[0], m.groups)
    return fn


@pytest.mark.parametrize("opts", MODULE_OPTIONS, ids=OPTION_IDS)
def test_gradcheck_and_gradgradcheck_with_every_module_option(opts):
    opts = dict(opts)
    out_c, k = opts.pop("out_channels", 6), opts.pop("kernel_size", 3)
    m = nn.Conv1d(4, out_c, k, dtype=ts.float64, **opts)
    x = _leaf(np.random.default_rng(2).standard_normal((2, 4, 7)))
    inputs = (x, *[_leaf(p.numpy()) for p in m.parameters()])
    fn = _as_function(m)
    np.testing.assert_allclose(fn(x, m.weight, m.bias).numpy(), m(x).numpy(), rtol=1e-15)
    assert ts.gradcheck(fn, inputs)
    assert ts.gradgradcheck(fn, inputs)


def test_parameters_names_shapes_and_init_bounds():
    ts.manual_seed(0)
    m = nn.Conv1d(6, 8, 5, groups=2)
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert tuple(m.weight.shape) == (8, 3, 5) and tuple(m.bias.shape) == (8,)
    bound = 1 / np.sqrt(3 * 5)
    big = nn.Conv1d(60, 80, 5, groups=20)     # fan_in 15 too, many draws
    for p in (m.weight, m.bias, big.weight):
        a = p.numpy()
        assert np.abs(a).max() <= bound
    assert np.abs(big.weight.numpy()).max() > 0.9 * bound and abs(big.weight.numpy().mean()) < 0.02
    m = nn.Conv1d(4, 4, 3, bias=False, dtype=ts.float64)
    assert m.bias is None and m.weight.dtype == np.float64
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    assert m.kernel_size == (3,) and m.stride == (1,) and m.padding == (0,) and m.dilation == (1,)
    assert nn.Conv1d(4, 4, 3, padding="same").padding == "same"


@needs_torch
def test_state_dict_moves_to_torch_and_back():
    m = nn.Conv1d(4, 6, 3, groups=2)
    tm = torch.nn.Conv1d(4, 6, 3, groups=2)
    tm.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in m.state_dict().items()})
    m2 = nn.Conv1d(4, 6, 3, groups=2)
    m2.load_state_dict({k: ts.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    np.testing.assert_array_equal(m2.weight.numpy(), m.weight.numpy())


def test_constructor_errors():
    with pytest.raises(ValueError, match="groups must be a positive integer"):
        nn.Conv1d(4, 4, 3, groups=0)
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv1d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.Conv1d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match="invalid padding string 'full'"):
        nn.Conv1d(4, 4, 3, padding="full")
    with pytest.raises(ValueError, match="'same' is not supported for strided"):
        nn.Conv1d(4, 4, 3, padding="same", stride=2)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv1d(4, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        nn.Conv1d(4, 4, 0)
    with pytest.raises(TypeError, match="kernel_size must be an int"):
        nn.Conv1d(4, 4, 2.5)
    with pytest.raises(ValueError, match="kernel_size must be an int or a 1-tuple"):
        nn.Conv1d(4, 4, (3, 3))
    with pytest.raises(TypeError, match="in_channels must be an int"):
        nn.Conv1d("4", 4, 3)


def test_call_errors():
    x, w = ts.randn(2, 4, 10), ts.randn(6, 2, 3)
    cases = [
        (dict(padding="same", stride=2), "'same' is not supported for strided"),
        (dict(groups=3), "expected input\\[2, 4, 10\\] to have 6 channels"),
        (dict(groups=2, padding="foo"), "invalid padding string"),
        (dict(groups=2, padding=-1), "negative padding"),
        (dict(groups=2, stride=0), "non-positive stride"),
        (dict(groups=2, dilation=0), "non-positive dilation"),
        (dict(groups=0), "non-positive groups"),
        (dict(groups=2, stride=(1, 1)), "list of 1 values"),
    ]
    for kw, msg in cases:
        with pytest.raises(RuntimeError, match=msg):   # ShapeError: a RuntimeError, as torch's
            F.conv1d(x, w, **kw)
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
        F.conv1d(x[:, :, :1], w, groups=2)
    with pytest.raises(RuntimeError, match="2D \\(unbatched\\) or 3D \\(batched\\)"):
        F.conv1d(x[0, 0], w, groups=2)
    with pytest.raises(RuntimeError, match="same dtype"):
        F.conv1d(x, w.double(), groups=2)
    with pytest.raises(RuntimeError, match="bias to be 1-dimensional with 6 elements"):
        F.conv1d(x, w, bias=ts.zeros(5), groups=2)
    with pytest.raises(TypeError, match="groups must be an int"):
        F.conv1d(x, w, groups=2.0)
    m = nn.Conv1d(4, 6, 3)
    with pytest.raises(RuntimeError, match="expected input"):
        m(ts.randn(2, 5, 10))
    with pytest.raises(RuntimeError, match="Padding size should be less than the corresponding input dimension"):
        nn.Conv1d(4, 6, 3, padding=4, padding_mode="reflect")(ts.randn(2, 4, 4))


def test_zero_batch_and_no_grad():
    m = nn.Conv1d(4, 6, 3)
    y = m(ts.randn(0, 4, 5))
    assert tuple(y.shape) == (0, 6, 3)
    with ts.no_grad():
        y = m(ts.randn(2, 4, 5))
    assert y.grad_fn is None


def test_trains_a_small_model():
    """A conv layer learns a planted filter (the loss drops by orders of magnitude)."""
    rng = np.random.default_rng(0)
    true_w = rng.standard_normal((2, 3, 3))
    x = rng.standard_normal((16, 3, 20))
    target = ts.tensor(conv_np(x, true_w, 1, (1, 1), 1, 1))
    ts.manual_seed(0)
    m = nn.Conv1d(3, 2, 3, padding=1, bias=False, dtype=ts.float64)
    from tinygrad_seq import optim
    opt = optim.Adam(m.parameters(), lr=0.05)
    losses = []
    for _ in range(200):
        opt.zero_grad()
        loss = ((m(ts.tensor(x)) - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 1e-3 * losses[0]
