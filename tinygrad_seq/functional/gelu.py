"""GELU, the Transformer's activation (kept apart from activations.py only because that
module has another owner; it belongs with the other activations)."""
import math

from ..autograd import Tensor
from ..errors import DTypeError
from ..ops.activations import Gelu


def gelu(x, approximate="none"):
    """x * Phi(x), Phi the standard normal CDF (Hendrycks & Gimpel, 2016).

    ``approximate='none'`` (default, as PyTorch): exact, 0.5 x (1 + erf(x / sqrt 2)),
    one fused primitive. ``approximate='tanh'``: 0.5 x (1 + tanh(sqrt(2 / pi)
    (x + 0.044715 x^3))), composed from primitives."""
    if not isinstance(x, Tensor):
        raise TypeError(f"gelu: expected a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise DTypeError(f"gelu: expected a float tensor, got {x.dtype}")
    if approximate == "none":
        return Gelu.apply(x)
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * math.sqrt(2.0 / math.pi)
        return x * (inner.tanh() + 1.0) * 0.5
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
