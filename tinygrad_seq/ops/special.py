"""Special functions as primitives: the error function and softplus."""
import math

from .. import backend
from ..autograd import Node, call
from ..backend import float_array
from .activations import erf
from .elementwise import Sigmoid
from .elementwise import Exp

TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


class Erf(Node):
    """y = erf(x) = 2 / sqrt(pi) * integral_0^x exp(-t^2) dt
    dx = dy * 2 / sqrt(pi) * exp(-x^2)
    (erf itself: the Chebyshev expansions of ops/activations.py, NumPy and CuPy alike)"""

    def forward(self, x):
        return erf(float_array(x, "erf"))

    def backward(self, g):
        (x,) = self.saved_inputs()
        return (g * call(Exp, -(x * x)) * TWO_OVER_SQRT_PI,)


class Softplus(Node):
    """y = log(1 + exp(beta x)) / beta, computed as (max(beta x, 0) + log1p(exp(-|beta x|)))
    / beta (no overflow); with a ``threshold`` (PyTorch's softplus, default 20) y = x
    where beta x > threshold. ``threshold=None``: no linear part (the exact softplus
    that binary_cross_entropy_with_logits needs).
    dx = dy * sigmoid(beta x) (dy in the linear part): finite everywhere, 0 at -inf and
    1 at +inf, where a log-sum-exp form gives inf - inf = nan."""

    def forward(self, x, beta=1.0, threshold=20.0):
        x = float_array(x, "softplus")
        mod = backend.array_module(x)
        self.beta = beta
        bx = x * beta if beta != 1 else x
        soft = mod.maximum(bx, 0) + mod.log1p(mod.exp(-abs(bx)))
        if beta != 1:
            soft = soft / beta
        if threshold is None:
            self.linear = None
            return soft.astype(x.dtype, copy=False)
        self.linear = bx > threshold
        return mod.where(self.linear, x, soft).astype(x.dtype, copy=False)

    def backward(self, g):
        (x,) = self.saved_inputs()
        s = call(Sigmoid, x * self.beta if self.beta != 1 else x)
        if self.linear is None:
            return (g * s,)
        linear = self.linear.astype(s.dtype)
        return (g * (s * (1 - linear) + linear),)
