"""LayerNorm, Dropout, PositionalEncoding and GELU (with its erf): against the formulas in
plain NumPy, against PyTorch with the same weights, and with finite differences."""
import math

import numpy as np
import pytest

import tinygrad_seq as ts
import tinygrad_seq.functional as F
from tinygrad_seq import nn
from tinygrad_seq.ops.activations import erf

RNG = np.random.default_rng(0)


def leaf(a):
    return ts.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


# ---------------------------------------------------------------- LayerNorm

def layer_norm_np(x, n_axes, w=None, b=None, eps=1e-5):
    axes = tuple(range(x.ndim - n_axes, x.ndim))
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)     # biased, as the paper
    y = (x - mu) / np.sqrt(var + eps)
    return y * (1 if w is None else w) + (0 if b is None else b)


@pytest.mark.parametrize("shape", [5, (3, 5)])
def test_layer_norm_is_the_formula(shape):
    m = nn.LayerNorm(shape).double()
    n_axes = 1 if isinstance(shape, int) else len(shape)
    with ts.no_grad():
        m.weight.copy_(RNG.standard_normal(m.weight.shape))
        m.bias.copy_(RNG.standard_normal(m.bias.shape))
    x = RNG.standard_normal((2, 4, 3, 5))
    got = m(ts.tensor(x))
    np.testing.assert_allclose(got.numpy(), layer_norm_np(x, n_axes, m.weight.numpy(), m.bias.numpy()),
                               rtol=1e-12, atol=1e-12)


def test_layer_norm_parameters_and_options():
    m = nn.LayerNorm(6)
    assert [(n, p.shape) for n, p in m.named_parameters()] == [("weight", (6,)), ("bias", (6,))]
    np.testing.assert_array_equal(m.weight.numpy(), 1)
    np.testing.assert_array_equal(m.bias.numpy(), 0)
    assert [n for n, _ in nn.LayerNorm(6, bias=False).named_parameters()] == ["weight"]
    plain = nn.LayerNorm((2, 3), elementwise_affine=False, eps=0.1)
    assert list(plain.parameters()) == [] and plain.weight is None
    x = RNG.standard_normal((4, 2, 3))
    np.testing.assert_allclose(plain(ts.tensor(x)).numpy(), layer_norm_np(x, 2, eps=0.1),
                               rtol=1e-6, atol=1e-6)
    with pytest.raises(ts.ShapeError, match=r"layer_norm: input of shape \(4, 2, 3\) does not end "
                                            r"with normalized_shape \(6,\)"):
        m(ts.tensor(x))


def test_layer_norm_matches_torch_with_gradients():
    torch = pytest.importorskip("torch")
    for shape, kw in ((8, {}), ((3, 8), {}), (8, dict(bias=False)), (8, dict(elementwise_affine=False))):
        tm = torch.nn.LayerNorm(shape, eps=1e-6, **kw).double()
        with torch.no_grad():
            for p in tm.parameters():
                p.copy_(torch.randn(p.shape, dtype=torch.float64))
        m = nn.LayerNorm(shape, eps=1e-6, **kw).double()
        m.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
        x = RNG.standard_normal((5, 3, 8)) * 3 + 1
        g = RNG.standard_normal((5, 3, 8))
        tx, ox = torch.tensor(x, requires_grad=True), leaf(x)
        want, got = tm(tx), m(ox)
        want.backward(torch.tensor(g))
        got.backward(ts.tensor(g))
        np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ox.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-11)
        theirs = dict(tm.named_parameters())
        for name, p in m.named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), theirs[name].grad.numpy(), rtol=1e-9, atol=1e-11)


def test_layer_norm_gradcheck_and_float32_stability():
    x, w, b = leaf(RNG.standard_normal((3, 2, 4))), leaf(RNG.standard_normal(4)), leaf(RNG.standard_normal(4))
    assert ts.gradcheck(lambda x, w, b: F.layer_norm(x, 4, w, b), (x, w, b))
    assert ts.gradgradcheck(lambda x, w, b: F.layer_norm(x, (2, 4), None, None), (x, w, b))
    big = (RNG.standard_normal((4, 16)) + 1e4).astype(np.float32)   # a large mean
    got = F.layer_norm(ts.tensor(big), 16).numpy()
    np.testing.assert_allclose(got, layer_norm_np(big.astype(np.float64), 1), rtol=2e-2, atol=2e-2)
    assert got.dtype == np.float32


# ---------------------------------------------------------------- Dropout

def test_dropout_module_train_and_eval():
    d = nn.Dropout(0.25)
    x = ts.ones(200, 50)
    ts.manual_seed(0)
    y = d(x).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    ts.manual_seed(0)
    np.testing.assert_array_equal(d(x).numpy(), y)         # seeded: the same mask
    d.eval()
    assert d(x) is x                                       # the identity in eval mode
    assert nn.Dropout(0.0)(x) is x
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).numpy(), 0)
    with pytest.raises(ValueError, match=r"Dropout: p must be a probability in \[0, 1\], got 1.5"):
        nn.Dropout(1.5)
    assert list(d.parameters()) == [] and repr(d) == "Dropout(p=0.25, inplace=False)"


def test_dropout_module_gradient_uses_the_same_mask():
    x = leaf(RNG.standard_normal((4, 6)))
    ts.manual_seed(2)
    y = nn.Dropout(0.5)(x)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.where(y.numpy() != 0, 2.0, 0.0))


# ---------------------------------------------------------------- PositionalEncoding

@pytest.mark.parametrize("d_model", [6, 7])
def test_positional_encoding_table_and_forward(d_model):
    pe = nn.PositionalEncoding(d_model, max_len=50)
    want = np.zeros((50, d_model))
    for pos in range(50):
        for j in range(d_model):
            i2 = j - j % 2                                 # 2i for both columns of a pair
            angle = pos / 10000 ** (i2 / d_model)
            want[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    np.testing.assert_allclose(pe.pe.numpy(), want, rtol=1e-6, atol=1e-7)
    x = RNG.standard_normal((3, 9, d_model)).astype(np.float32)
    y = pe(ts.tensor(x))
    assert y.dtype == ts.float32 and y.shape == (3, 9, d_model)
    np.testing.assert_allclose(y.numpy(), x + want[:9], rtol=1e-6, atol=1e-6)


def test_positional_encoding_buffer_is_not_persistent_and_checks_length():
    pe = nn.PositionalEncoding(4, max_len=10)
    assert "pe" in dict(pe.named_buffers())
    assert "pe" not in pe.state_dict() and list(pe.parameters()) == []
    pe.load_state_dict({})                                # nothing to load
    assert pe.double().pe.dtype == ts.float64              # moved with the module
    with pytest.raises(ts.ShapeError, match="sequence length 11 exceeds max_len 10"):
        pe(ts.zeros(1, 11, 4))
    with pytest.raises(ts.ShapeError, match=r"expected input \(N, T, 4\)"):
        pe(ts.zeros(11, 4))
    x = leaf(RNG.standard_normal((2, 3, 4)))
    pe(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 1.0)
    drop = nn.PositionalEncoding(4, dropout=0.5)
    ts.manual_seed(0)
    assert (drop(ts.ones(2, 8, 4)).numpy() == 0).any()
    drop.eval()
    assert not (drop(ts.ones(2, 8, 4)).numpy() == 0).any()


# ---------------------------------------------------------------- GELU and erf

def test_erf_against_math_erf():
    x = np.concatenate([np.linspace(-7, 7, 200_001), [0.0, -0.0, 1.0, -1.0, 3.0, 6.0, -6.0, 5.999999],
                        np.geomspace(1e-300, 1, 2000), -np.geomspace(1e-300, 7, 2000)])
    want = np.array([math.erf(v) for v in x])
    got = erf(x)
    rel = np.abs(got - want) / np.abs(want).clip(1e-300)
    assert rel.max() < 1e-14                                # the issue asks for < 1e-7
    assert np.signbit(erf(np.array([-0.0]))[0])
    np.testing.assert_array_equal(erf(np.array([np.inf, -np.inf, 40.0])), [1, -1, 1])
    assert np.isnan(erf(np.array([np.nan]))[0])
    got32 = erf(x.astype(np.float32))
    assert got32.dtype == np.float32
    assert (np.abs(got32 - want) <= 3e-7 * np.abs(want) + 1e-38).all()


def test_gelu_matches_torch_exact_and_tanh():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((4, 50)) * 3
    for approximate in ("none", "tanh"):
        tx, ox = torch.tensor(x, requires_grad=True), leaf(x)
        want = torch.nn.functional.gelu(tx, approximate=approximate)
        got = F.gelu(ox, approximate=approximate)
        want.sum().backward()
        got.sum().backward()
        np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ox.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-14)
    assert ts.gradcheck(lambda t: F.gelu(t, approximate="tanh"), leaf(x[:2, :5]))
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        F.gelu(ts.tensor(x), approximate="erf")


# ---------------------------------------------------------------- LazyLinear
# (found by tests/conformance: d2l's Bahdanau decoder and AdditiveAttention use it)

def test_lazy_linear_materializes_on_the_first_input_and_becomes_a_linear():
    import tinygrad_seq as ts
    from tinygrad_seq import nn
    ts.manual_seed(0)
    m = nn.LazyLinear(3)
    assert isinstance(m.weight, nn.UninitializedParameter) and m.in_features == 0
    x = ts.randn(4, 2, 5, requires_grad=True)
    y = m(x)
    assert type(m) is nn.Linear and type(m.weight) is nn.Parameter
    assert m.in_features == 5 and m.weight.shape == (3, 5) and m.bias.shape == (3,)
    assert float(m.weight.abs().max()) <= 5 ** -0.5 and float(m.bias.abs().max()) <= 5 ** -0.5
    assert y.shape == (4, 2, 3)
    y.sum().backward()
    assert m.weight.grad.shape == (3, 5) and x.grad.shape == x.shape
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    no_bias = nn.LazyLinear(2, bias=False)
    no_bias(ts.zeros(1, 4))
    assert no_bias.bias is None and no_bias.weight.shape == (2, 4)


def test_lazy_linear_matches_torch_after_loading_its_weights():
    torch = pytest.importorskip("torch")
    import tinygrad_seq as ts
    from tinygrad_seq import nn
    tm, m = torch.nn.LazyLinear(4).double(), nn.LazyLinear(4, dtype=ts.float64)
    x = np.random.default_rng(0).standard_normal((3, 6))
    tm(torch.tensor(x))
    m(ts.tensor(x))
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    assert type(m).__name__ == type(tm).__name__ == "Linear"
    np.testing.assert_allclose(m(ts.tensor(x)).numpy(), tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12)


def test_lazy_linear_takes_its_shape_from_a_state_dict_as_torch():
    torch = pytest.importorskip("torch")
    import tinygrad_seq as ts
    from tinygrad_seq import nn
    tm = torch.nn.Linear(6, 4).double()
    m = nn.Sequential(nn.LazyLinear(4, dtype=ts.float64))
    tlazy = torch.nn.Sequential(torch.nn.LazyLinear(4).double())
    state = {"0." + k: v.detach().numpy() for k, v in tm.state_dict().items()}
    tlazy.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    m.load_state_dict(state)
    assert m[0].weight.shape == (4, 6) and type(m[0].weight) is nn.Parameter
    x = np.random.default_rng(0).standard_normal((3, 6))
    np.testing.assert_allclose(m(ts.tensor(x)).numpy(), tlazy(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(m(ts.tensor(x)).numpy(), tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12)
    assert type(m[0]) is nn.Linear and m[0].in_features == 6
