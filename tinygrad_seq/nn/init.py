"""Weight initialisers, in place on Tensors, with torch.nn.init's names and formulas.

All draw from the framework's generator (``ts.manual_seed``) or the ``generator=``
given (a ``ts.Generator``, as torch), run without recording
the graph and return the tensor they filled. Fans follow PyTorch: for a weight of
shape (out, in, *kernel), fan_in = in * prod(kernel) and fan_out = out * prod(kernel).
"""
import math

from .. import backend
from ..autograd import Tensor
from ..modes import no_grad
from ..errors import DTypeError, ShapeError

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "sigmoid")


def _check(t, op, float_only=True):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(t).__name__}")
    if float_only and not backend.is_float(t.dtype):
        raise DTypeError(f"{op}: expected a float tensor, got {t.dtype}")


def _fans(t, op):
    if t.ndim < 2:
        raise ShapeError(f"{op}: fan in/out needs a tensor with at least 2 dims, got shape "
                         f"{tuple(t.shape)}")
    receptive = 1
    for n in t.shape[2:]:
        receptive *= n
    return t.shape[1] * receptive, t.shape[0] * receptive


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (torch.nn.init.calculate_gain): 1 for
    linear/conv/sigmoid, 5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + slope^2)) for
    leaky_relu (slope `param`, default 0.01), 3/4 for selu."""
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")


@no_grad()
def uniform_(t, a=0.0, b=1.0, generator=None):
    """Fill with U(a, b)."""
    _check(t, "uniform_")
    if not a <= b:
        raise ValueError(f"uniform_: expected a <= b, got a={a}, b={b}")
    return t.uniform_(a, b, generator=generator)


@no_grad()
def normal_(t, mean=0.0, std=1.0, generator=None):
    """Fill with N(mean, std^2)."""
    _check(t, "normal_")
    if not std >= 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    return t.normal_(mean, std, generator=generator)


@no_grad()
def constant_(t, value):
    _check(t, "constant_", float_only=False)
    return t.fill_(value)


@no_grad()
def zeros_(t):
    _check(t, "zeros_", float_only=False)
    return t.fill_(0)


@no_grad()
def ones_(t):
    _check(t, "ones_", float_only=False)
    return t.fill_(1)


@no_grad()
def xavier_uniform_(t, gain=1.0, generator=None):
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    _check(t, "xavier_uniform_")
    fan_in, fan_out = _fans(t, "xavier_uniform_")
    if t.numel() == 0:
        return t
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return t.uniform_(-a, a, generator=generator)


@no_grad()
def xavier_normal_(t, gain=1.0, generator=None):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    _check(t, "xavier_normal_")
    fan_in, fan_out = _fans(t, "xavier_normal_")
    if t.numel() == 0:
        return t
    return t.normal_(0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator=generator)


def _kaiming_std(t, a, mode, nonlinearity, op):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{op}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(t, op)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


@no_grad()
def kaiming_uniform_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """U(-b, b) with b = gain * sqrt(3 / fan) (He et al., 2015); `a` is the negative
    slope of leaky_relu. A tensor without elements is left alone (PyTorch warns)."""
    _check(t, "kaiming_uniform_")
    if t.numel() == 0:
        _fans(t, "kaiming_uniform_")
        return t
    bound = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity, "kaiming_uniform_")
    return t.uniform_(-bound, bound, generator=generator)


@no_grad()
def kaiming_normal_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """N(0, std^2) with std = gain / sqrt(fan)."""
    _check(t, "kaiming_normal_")
    if t.numel() == 0:
        _fans(t, "kaiming_normal_")
        return t
    return t.normal_(0.0, _kaiming_std(t, a, mode, nonlinearity, "kaiming_normal_"),
                     generator=generator)


@no_grad()
def orthogonal_(t, gain=1.0, generator=None):
    """A (semi-)orthogonal matrix from the QR decomposition of a normal one (Saxe et
    al., 2013), with the sign fix that makes it uniformly distributed; dims after the
    first are flattened. Rows are orthonormal when rows <= cols, columns otherwise."""
    _check(t, "orthogonal_")
    if t.ndim < 2:
        raise ShapeError(f"orthogonal_: needs at least 2 dims, got shape {tuple(t.shape)}")
    if t.numel() == 0:
        return t
    rows = t.shape[0]
    cols = t.numel() // rows
    mod = backend.array_module(t.array)
    # drawn and factorised in float64 (a float32 QR loses orthogonality to ~1e-6 anyway)
    flat = backend.rng(t.device, generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = mod.linalg.qr(flat)
    q = q * mod.sign(mod.diagonal(r))
    if rows < cols:
        q = q.T
    t.array[...] = (gain * q).reshape(t.shape).astype(t.dtype)
    t._version[0] += 1
    return t
