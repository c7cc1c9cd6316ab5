"""Special functions as primitives: the error function, softplus, sine and cosine,
log1p, rounding, and x log(y) (xlogy, the entropy terms of kl_div)."""
import math

from .. import backend
from ..autograd import Node, call
from ..backend import float_array
from .activations import erf
from .elementwise import Sigmoid
from .elementwise import Exp, Where
from .broadcast import grad_like

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


class Sin(Node):
    """y = sin(x);  dx = dy cos(x)"""

    def forward(self, x):
        return backend.array_module(x).sin(x)

    def backward(self, g):
        (x,) = self.saved_inputs()
        return (g * call(Cos, x),)


class Cos(Node):
    """y = cos(x);  dx = -dy sin(x)"""

    def forward(self, x):
        return backend.array_module(x).cos(x)

    def backward(self, g):
        (x,) = self.saved_inputs()
        return (-(g * call(Sin, x)),)


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


class Log1p(Node):
    """y = log(1 + x), accurate for small |x| (backend log1p);  dx = dy / (1 + x)"""

    def forward(self, x):
        return backend.array_module(x).log1p(float_array(x, "log1p"))

    def backward(self, g):
        (x,) = self.saved_inputs()
        return (g / (x + 1.0),)


class Rounding(Node):
    """y = floor(x), ceil(x) or round(x, decimals) (``mode``; round halves to even, as
    torch);  dx = 0 (the derivative almost everywhere, PyTorch's choice)."""

    def forward(self, x, mode="floor", decimals=0):
        mod = backend.array_module(x)
        self.shape = x.shape
        if x.dtype.kind != "f":
            return x.copy()                   # integers are their own floor, as torch
        if mode == "round":
            return mod.round(x, decimals)
        return getattr(mod, mode)(x)

    def backward(self, g):
        return (g * 0.0,)


class XLogY(Node):
    """z = x log(y), and 0 where x = 0 unless y is nan (torch.xlogy: 0 log 0 = 0, the
    entropy terms of kl_div at a zero target)
    dx = dz log(y), with 0 where x = 0 and y <= 0   (torch's rule: xlogy(dz, y) there)
    dy = dz x / y                                   (nan at x = y = 0, as torch)"""

    def forward(self, x, y):
        mod = backend.array_module(x)
        x_zero = x == 0
        self.flat = x_zero & (y <= 0)        # where dx is 0 instead of dz log(y)
        with backend.quiet():   # log(0), 0 * -inf: masked
            z = x * mod.log(y)
        return mod.where(x_zero & ~mod.isnan(y), 0, z).astype(z.dtype, copy=False)

    def backward(self, g):
        x, y = self.saved_inputs()
        need_x, need_y = self.needs_input_grad
        dx = dy = None
        with backend.quiet():   # y = 0: inf or nan, as torch
            if need_x:
                dx = call(XLogY, g, y)
                if self.flat.any():
                    zero = backend.array_module(self.flat).zeros((), dtype=g.dtype)
                    dx = call(Where, dx, zero, cond=~self.flat)
                dx = grad_like(dx, x)
            if need_y:
                dy = grad_like(g * x / y, y)
        return dx, dy
