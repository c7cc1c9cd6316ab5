"""nn.init (torch.nn.init's names and formulas) and nn.Linear's default initialisation
and parity with torch.nn.Linear. Statistics are checked on large tensors, seeded, with
tolerances several standard errors wide."""
import math

import numpy as np
import pytest

import tinygrad_seq as ts
from tinygrad_seq import nn
from tinygrad_seq.nn import init

BIG = (500, 400)     # 200,000 samples: the std of a std estimate is ~0.16%


@pytest.fixture(autouse=True)
def _seed():
    ts.manual_seed(1234)


def _std_ok(values, std, rtol=0.02):
    assert abs(values.std() - std) <= rtol * std, (values.std(), std)
    assert abs(values.mean()) <= 0.02 * std, values.mean()


def test_calculate_gain_matches_torch():
    torch = pytest.importorskip("torch")
    for name in ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                 "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]:
        assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", 0.2))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="unknown nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape", [(3, 5), (4, 3, 5, 5), (6, 2, 7)])
def test_fans_match_torch(shape):
    torch = pytest.importorskip("torch")
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init._fans(ts.empty(shape), "probe") == expected


def test_uniform_and_normal():
    t = init.uniform_(ts.empty(*BIG), -2.0, 3.0)
    a = t.numpy()
    assert a.min() >= -2.0 and a.max() < 3.0
    assert a.min() < -1.99 and a.max() > 2.99                   # fills the whole range
    assert abs(a.mean() - 0.5) < 0.01
    assert abs(a.std() - 5 / math.sqrt(12)) < 0.01
    n = init.normal_(ts.empty(*BIG), 1.5, 0.5).numpy()
    assert abs(n.mean() - 1.5) < 0.01 and abs(n.std() - 0.5) < 0.01
    with pytest.raises(ValueError, match="std must be >= 0"):
        init.normal_(ts.empty(2), 0.0, -1.0)
    with pytest.raises(ValueError, match="a <= b"):
        init.uniform_(ts.empty(2), 1.0, 0.0)


def test_constant_zeros_ones():
    assert init.constant_(ts.empty(2, 2), 0.25).numpy().tolist() == [[0.25, 0.25], [0.25, 0.25]]
    assert not init.zeros_(ts.ones(3)).numpy().any()
    assert init.ones_(ts.zeros(3, dtype=ts.float64)).numpy().tolist() == [1.0, 1.0, 1.0]
    assert init.zeros_(ts.arange(3)).numpy().tolist() == [0, 0, 0]     # any dtype


@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_xavier_uniform(gain):
    t = init.xavier_uniform_(ts.empty(*BIG), gain=gain)
    bound = gain * math.sqrt(6.0 / (BIG[0] + BIG[1]))
    a = t.numpy()
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.999 * bound
    _std_ok(a, bound / math.sqrt(3))


def test_xavier_normal_and_conv_shapes():
    t = init.xavier_normal_(ts.empty(*BIG), gain=init.calculate_gain("tanh"))
    _std_ok(t.numpy(), 5 / 3 * math.sqrt(2.0 / (BIG[0] + BIG[1])))
    conv = init.xavier_normal_(ts.empty(64, 32, 5, 5))          # fans count the kernel
    _std_ok(conv.numpy(), math.sqrt(2.0 / (32 * 25 + 64 * 25)), rtol=0.03)


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_uniform(mode):
    t = init.kaiming_uniform_(ts.empty(*BIG), mode=mode, nonlinearity="relu")
    fan = BIG[1] if mode == "fan_in" else BIG[0]
    bound = math.sqrt(2.0) * math.sqrt(3.0 / fan)
    a = t.numpy()
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.999 * bound
    _std_ok(a, math.sqrt(2.0 / fan))


def test_kaiming_normal_and_leaky_slope():
    t = init.kaiming_normal_(ts.empty(*BIG), a=0.2, mode="fan_out")
    _std_ok(t.numpy(), math.sqrt(2.0 / (1 + 0.2 ** 2)) / math.sqrt(BIG[0]))
    d = init.kaiming_uniform_(ts.empty(*BIG))      # defaults: leaky_relu with a=0 -> sqrt(2)
    assert np.abs(d.numpy()).max() <= math.sqrt(2.0) * math.sqrt(3.0 / BIG[1])


def test_kaiming_uniform_with_torch_linear_settings_gives_linear_bound():
    # torch.nn.Linear uses kaiming_uniform_(a=sqrt(5)): bound 1/sqrt(fan_in)
    t = init.kaiming_uniform_(ts.empty(300, 100), a=math.sqrt(5))
    a = np.abs(t.numpy())
    assert a.max() <= 0.1 and a.max() > 0.0995


@pytest.mark.parametrize("shape", [(64, 64), (100, 30), (30, 100), (8, 4, 3)])
@pytest.mark.parametrize("dtype", [ts.float32, ts.float64])
def test_orthogonal(shape, dtype):
    t = init.orthogonal_(ts.empty(*shape, dtype=dtype), gain=2.0)
    assert t.dtype == dtype and t.shape == shape
    q = t.numpy().reshape(shape[0], -1).astype(np.float64) / 2.0
    rows, cols = q.shape
    gram = q.T @ q if rows >= cols else q @ q.T              # the smaller side is orthonormal
    tol = 1e-5 if dtype == ts.float32 else 1e-12
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), atol=tol)


def test_orthogonal_is_uniformly_signed_and_handles_empty():
    # the sign fix: the diagonal of R is positive, so Q is not biased toward +diag
    diag = np.concatenate([np.diag(init.orthogonal_(ts.empty(20, 20)).numpy())
                           for _ in range(20)])
    assert 0.3 < (diag > 0).mean() < 0.7
    empty = ts.empty(0, 5)
    assert init.orthogonal_(empty) is empty
    with pytest.raises(ts.ShapeError, match=r"orthogonal_.*\(5,\)"):
        init.orthogonal_(ts.empty(5))


def test_initialisers_run_without_graph_on_parameters():
    p = nn.Parameter(ts.empty(10, 10))
    v = p._version_count
    for fn in (init.xavier_uniform_, init.xavier_normal_, init.kaiming_uniform_,
               init.kaiming_normal_, init.orthogonal_, init.uniform_, init.normal_):
        assert fn(p) is p
        assert p.grad_fn is None and p.requires_grad and p.is_leaf
    assert p._version_count > v
    (p * p).sum().backward()                 # still a usable leaf
    assert p.grad.shape == (10, 10)


def test_reproducible_under_manual_seed():
    def draw():
        return [init.xavier_uniform_(ts.empty(5, 7)).numpy(),
                init.kaiming_normal_(ts.empty(5, 7)).numpy(),
                init.orthogonal_(ts.empty(5, 7)).numpy(),
                nn.Linear(7, 5).weight.numpy()]
    ts.manual_seed(7)
    first = draw()
    ts.manual_seed(7)
    second = draw()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    ts.manual_seed(8)
    assert not np.array_equal(draw()[0], first[0])


def test_errors_name_the_initialiser():
    with pytest.raises(ts.ShapeError, match=r"xavier_uniform_.*at least 2 dims.*\(4,\)"):
        init.xavier_uniform_(ts.empty(4))
    with pytest.raises(ValueError, match="kaiming_uniform_: mode must be"):
        init.kaiming_uniform_(ts.empty(3, 3), mode="fan_avg")
    with pytest.raises(TypeError, match="xavier_normal_: expected a Tensor, got ndarray"):
        init.xavier_normal_(np.zeros((3, 3)))
    with pytest.raises(ts.DTypeError, match="normal_: expected a float tensor, got int64"):
        init.normal_(ts.zeros(3, dtype=ts.int64))
    assert init.kaiming_uniform_(ts.empty(0, 3)).shape == (0, 3)    # no elements: no-op
    assert init.xavier_uniform_(ts.empty(0, 3)).shape == (0, 3)


# ---------------------------------------------------------------- Linear

def test_linear_default_init_bounds_as_pytorch():
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = lin.weight.numpy(), lin.bias.numpy()
    assert w.shape == (300, 400) and b.shape == (300,)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.999 * bound
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.95 * bound
    _std_ok(w, bound / math.sqrt(3))
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tw = torch.nn.Linear(400, 300).weight.detach().numpy()     # same distribution
    assert abs(tw.std() - w.std()) < 0.02 * w.std() and np.abs(tw).max() <= bound


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch_outputs_and_gradients(bias):
    torch = pytest.importorskip("torch")
    ours = nn.Linear(5, 3, bias=bias, dtype=ts.float64)
    theirs = torch.nn.Linear(5, 3, bias=bias, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.numpy()))
        if bias:
            theirs.bias.copy_(torch.from_numpy(ours.bias.numpy()))
    x = np.random.default_rng(0).standard_normal((2, 4, 5))
    g = np.random.default_rng(1).standard_normal((2, 4, 3))
    xs = ts.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    ys, yt = ours(xs), theirs(xt)
    np.testing.assert_allclose(ys.numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    (ys * ts.tensor(g)).sum().backward()
    (yt * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12)
    if bias:
        np.testing.assert_allclose(ours.bias.grad.numpy(), theirs.bias.grad.numpy(), rtol=1e-12)
    else:
        assert ours.bias is None and list(ours.state_dict()) == ["weight"]
    assert repr(ours) == repr(theirs)


def test_linear_errors_and_dtypes():
    lin = nn.Linear(3, 2)
    with pytest.raises(ts.ShapeError, match=r"Linear: expected input with last dim 3, got shape \(4, 2\)"):
        lin(ts.ones(4, 2))
    with pytest.raises(ValueError, match="Linear: out_features must be a non-negative integer, got -1"):
        nn.Linear(3, -1)
    with pytest.raises(TypeError, match="Linear: in_features must be a non-negative integer"):
        nn.Linear(2.5, 3)
    assert nn.Linear(np.int64(3), 2).in_features == 3
    assert lin(ts.ones(3)).shape == (2,)                   # unbatched input
    assert nn.Linear(3, 2, dtype=ts.float64).weight.dtype == ts.float64
    empty = nn.Linear(0, 2)                                # as torch: bound 0, zero bias
    np.testing.assert_array_equal(empty(ts.ones(4, 0)).numpy(), np.zeros((4, 2)))
