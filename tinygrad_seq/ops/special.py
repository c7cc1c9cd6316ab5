"""Special functions as primitives: the error function and softplus."""
import math

from .. import backend
from ..autograd import Node, call
from ..backend import float_array
from .activations import erf
from .elementwise import Sigmoid
from .reduce import Exp

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
    """y = log(1 + exp(beta x)) / beta where beta x <= threshold, x elsewhere (PyTorch's
    softplus: linear above the threshold)
    dx = dy * sigmoid(beta x) where beta x <= threshold, dy elsewhere"""

    def forward(self, x, beta=1.0, threshold=20.0):
        x = float_array(x, "softplus")
        mod = backend.array_module(x)
        self.beta = beta
        bx = x * beta
        self.linear = bx > threshold
        soft = mod.log1p(mod.exp(mod.minimum(bx, threshold)))
        if beta != 1:
            soft = soft / beta
        return mod.where(self.linear, x, soft).astype(x.dtype, copy=False)

    def backward(self, g):
        (x,) = self.saved_inputs()
        s = call(Sigmoid, x * self.beta)
        linear = self.linear.astype(s.dtype)
        return (g * (s * (1 - linear) + linear),)
