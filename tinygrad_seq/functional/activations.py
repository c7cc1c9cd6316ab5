"""Activations, softmax and dropout: thin wrappers over the primitives."""
import math

from .. import backend
from ..errors import DTypeError
from ..ops.activations import Gelu
from ..ops.nn import Dropout, LogSoftmax, Softmax
from ..ops.special import Softplus
from ..tensor import _pick, float16_in_float32, tensor_arg


def _as_tensor(x, op):
    return tensor_arg(x, op)


def sigmoid(x):
    return _as_tensor(x, "sigmoid").sigmoid()


def tanh(x):
    return _as_tensor(x, "tanh").tanh()


def relu(x):
    return _as_tensor(x, "relu").relu()


def softmax(x, axis=None, *, dim=None):
    """exp(x) / sum(exp(x)) along `axis` (default the last), computed stably. (The
    default is None, not -1, so that ``dim=`` alone is not taken as a conflicting axis.)"""
    return Softmax.apply(_as_tensor(x, "softmax"), axis=_pick(axis, dim, "axis", "dim", -1))


def log_softmax(x, axis=None, *, dim=None):
    """x - logsumexp(x) along `axis` (default the last), computed stably."""
    return LogSoftmax.apply(_as_tensor(x, "log_softmax"), axis=_pick(axis, dim, "axis", "dim", -1))


def dropout(x, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (inverted
    dropout); the identity when not training or p == 0. ``inplace=True`` writes the
    result into x (differentiably, as PyTorch) and returns x."""
    x = _as_tensor(x, "dropout")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if x.dtype.kind != "f":
        raise DTypeError(f"dropout: expected a float tensor, got {x.dtype}")
    if not training or p == 0.0:
        return x
    out = Dropout.apply(x, p=p)
    return x.copy_(out) if inplace else out


@float16_in_float32      # the tanh form's x^3 overflows float16 above 40
def gelu(x, approximate="none"):
    """x * Phi(x), Phi the standard normal CDF (Hendrycks & Gimpel, 2016).

    ``approximate='none'`` (default, as PyTorch): exact, 0.5 x (1 + erf(x / sqrt 2)),
    one fused primitive. ``approximate='tanh'``: 0.5 x (1 + tanh(sqrt(2 / pi)
    (x + 0.044715 x^3))), composed from primitives."""
    x = tensor_arg(x, "gelu")
    if x.dtype.kind != "f":
        raise DTypeError(f"gelu: expected a float tensor, got {x.dtype}")
    if approximate == "none":
        return Gelu.apply(x)
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * math.sqrt(2.0 / math.pi)
        return x * (inner.tanh() + 1.0) * 0.5
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, the identity where beta x > threshold (for
    numerical stability), as torch.nn.functional.softplus."""
    x = _as_tensor(input, "softplus")
    if not backend.is_float(x.dtype):
        raise DTypeError(f"softplus: expected a float tensor, got {x.dtype}")
    return Softplus.apply(x, beta=float(beta), threshold=float(threshold))


def _float_input(x, op):
    x = _as_tensor(x, op)
    if not backend.is_float(x.dtype):
        raise DTypeError(f"{op}: expected a float tensor, got {x.dtype}")
    return x


def _activate(x, fn, inplace):
    """fn(x); with torch's ``inplace=True`` the result is written into x (differentiably:
    fn runs on a clone, so the values its backward saved are not overwritten) and x is
    returned."""
    if not inplace:
        return fn(x)
    return x.copy_(fn(x.clone()))


def silu(input, inplace=False):
    """SiLU (swish): x * sigmoid(x), as torch.nn.functional.silu."""
    return _activate(_float_input(input, "silu"), lambda x: x * x.sigmoid(), inplace)


def mish(input, inplace=False):
    """Mish: x * tanh(softplus(x)), as torch.nn.functional.mish."""
    return _activate(_float_input(input, "mish"),
                     lambda x: x * Softplus.apply(x, beta=1.0, threshold=20.0).tanh(), inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x where x > 0, negative_slope * x elsewhere (the gradient at 0 is negative_slope,
    as PyTorch's)."""
    slope = float(negative_slope)
    return _activate(_float_input(input, "leaky_relu"), lambda x: x.where(x > 0, x * slope),
                     inplace)


def elu(input, alpha=1.0, inplace=False):
    """x where x > 0, alpha * (exp(x) - 1) elsewhere (the gradient at 0 is alpha, as
    PyTorch's). The exponential is taken of min(x, 0), so large inputs give no inf."""
    alpha = float(alpha)
    return _activate(_float_input(input, "elu"),
                     lambda x: x.where(x > 0, (x.clamp(max=0.0).exp() - 1.0) * alpha), inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clamp(x, min_val, max_val); the gradient is 1 strictly inside (min_val, max_val)
    and 0 elsewhere, the bounds included (PyTorch's hardtanh_backward)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val cannot be greater than max_val, got "
                         f"min_val={min_val}, max_val={max_val}")
    def fn(x):
        inside = (x > min_val) & (x < max_val)
        return x.where(inside, x.detach().clamp(min_val, max_val))
    return _activate(_float_input(input, "hardtanh"), fn, inplace)
