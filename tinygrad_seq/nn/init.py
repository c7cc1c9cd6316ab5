"""Weight initialisers, in place on Tensors, with torch.nn.init's names and formulas.

All draw from the framework's generator (``ts.manual_seed``) and run without
recording the graph.
"""
import math

from .. import backend
from ..autograd import no_grad
from ..errors import ShapeError


def _fans(t):
    if t.ndim < 2:
        raise ShapeError(f"init: fan in/out needs a tensor with at least 2 dims, got {t.shape}")
    receptive = 1
    for n in t.shape[2:]:
        receptive *= n
    return t.shape[1] * receptive, t.shape[0] * receptive


def calculate_gain(nonlinearity, param=None):
    gains = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3, "relu": math.sqrt(2.0),
             "conv1d": 1.0, "conv2d": 1.0}
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    if nonlinearity not in gains:
        raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")
    return gains[nonlinearity]


@no_grad()
def uniform_(t, a=0.0, b=1.0):
    return t.uniform_(a, b)


@no_grad()
def normal_(t, mean=0.0, std=1.0):
    return t.normal_(mean, std)


@no_grad()
def constant_(t, value):
    return t.fill_(value)


@no_grad()
def zeros_(t):
    return t.fill_(0)


@no_grad()
def ones_(t):
    return t.fill_(1)


@no_grad()
def xavier_uniform_(t, gain=1.0):
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _fans(t)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return t.uniform_(-a, a)


@no_grad()
def xavier_normal_(t, gain=1.0):
    fan_in, fan_out = _fans(t)
    return t.normal_(0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _kaiming_std(t, a, mode, nonlinearity):
    fan_in, fan_out = _fans(t)
    fan = fan_in if mode == "fan_in" else fan_out
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


@no_grad()
def kaiming_uniform_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """U(-b, b) with b = gain * sqrt(3 / fan) (He et al., 2015)."""
    bound = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity)
    return t.uniform_(-bound, bound)


@no_grad()
def kaiming_normal_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    return t.normal_(0.0, _kaiming_std(t, a, mode, nonlinearity))


@no_grad()
def orthogonal_(t, gain=1.0):
    """A (semi-)orthogonal matrix from the QR decomposition of a normal one (Saxe et
    al., 2013), with the sign fix that makes it uniformly distributed."""
    if t.ndim < 2:
        raise ShapeError(f"orthogonal_: needs at least 2 dims, got {t.shape}")
    rows = t.shape[0]
    cols = t.size // rows
    mod = backend.array_module(t.data)
    flat = backend.generator(t.device).standard_normal((rows, cols)).astype(t.dtype)
    if rows < cols:
        flat = flat.T
    q, r = mod.linalg.qr(flat)
    q = q * mod.sign(mod.diagonal(r))
    if rows < cols:
        q = q.T
    t.data[...] = (gain * q).reshape(t.shape).astype(t.dtype)
    t._version[0] += 1
    return t
