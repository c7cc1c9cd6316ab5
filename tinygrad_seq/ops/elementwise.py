"""Elementwise primitives. Binary ones broadcast as NumPy does; their backward sums
each gradient back to its input's shape and dtype (``grad_like``)."""
from .. import backend
from ..autograd import Node, call
from ..errors import DTypeError
from ..backend import float_array
from .broadcast import grad_like, grad_to


# ---------------------------------------------------------------- arithmetic

class Add(Node):
    """y = a + b;  da = dy,  db = dy"""
    reads_inputs = False
    meta = None       # the operands' shapes and dtypes, kept only when they differ
    b_sign = 1        # Sub: -1

    def forward(self, a, b):
        if a.shape != b.shape or a.dtype is not b.dtype:   # backward must sum or cast dy
            self.meta = (a.shape, a.dtype, b.shape, b.dtype)     # (not the arrays: unread)
        return a + b

    def backward(self, g):
        need_a, need_b = self.needs_input_grad     # (a constant's is never summed)
        gb = (g if self.b_sign == 1 else -g) if need_b else None
        if self.meta is None:                      # equal operands: dy fits both as it is
            return g if need_a else None, gb
        a_shape, a_dtype, b_shape, b_dtype = self.meta
        return (grad_to(g, a_shape, a_dtype) if need_a else None,
                grad_to(gb, b_shape, b_dtype) if need_b else None)


class Sub(Add):
    """y = a - b;  da = dy,  db = -dy   (Add's rule with the sign of db flipped)"""
    b_sign = -1

    def forward(self, a, b):
        if a.shape != b.shape or a.dtype is not b.dtype:   # as Add's (inline: a hot path)
            self.meta = (a.shape, a.dtype, b.shape, b.dtype)
        return a - b


class Mul(Node):
    """y = a * b;  da = dy * b,  db = dy * a"""

    def forward(self, a, b):
        return a * b

    def backward(self, g):
        a, b = self.saved_inputs()
        return (grad_like(g * b, a) if self.needs_input_grad[0] else None,
                grad_like(g * a, b) if self.needs_input_grad[1] else None)

    def inputs_read(self):
        """da reads b and db reads a: a constant factor leaves the other unread."""
        need_a, need_b = self.needs_input_grad
        return (0, 1) if need_a and need_b else (1,) if need_a else (0,)


class Div(Node):
    """y = a / b;  da = dy / b,  db = -dy * a / b^2"""

    def forward(self, a, b):
        if a.dtype.kind != "f" and b.dtype.kind != "f":   # true division: the default float
            a, b = float_array(a, "div"), float_array(b, "div")
        return a / b

    def backward(self, g):
        a, b = self.saved_inputs()
        return (grad_like(g / b, a) if self.needs_input_grad[0] else None,
                grad_like(-g * a / (b * b), b) if self.needs_input_grad[1] else None)

    def inputs_read(self):
        """da reads b only; db reads both."""
        return (0, 1) if self.needs_input_grad[1] else (1,)


class Neg(Node):
    """y = -x;  dx = -dy"""
    reads_inputs = False

    def forward(self, x):
        if x.dtype.kind == "b":
            raise DTypeError("neg: cannot negate a bool tensor (use ~x)")
        return -x

    def backward(self, g):
        return (-g,)


class Pow(Node):
    """y = a ** b (tensor exponent);  da = dy * b * a^(b-1),  db = dy * y * log(a)
    (db is nan where a < 0, as in PyTorch)"""
    reads_outputs = True

    def forward(self, a, b):
        a = float_array(a, "pow")
        # power() of the operand with axes: a 0-d host base meets a GPU exponent as a scalar
        return backend.array_module(a if a.ndim else b).power(a, b)

    def backward(self, g):
        a, b = self.saved_inputs()
        da = grad_like(g * b * a ** (b - 1), a) if self.needs_input_grad[0] else None
        db = grad_like(g * self.saved_output() * call(Log, a), b) if self.needs_input_grad[1] else None
        return da, db


class PowScalar(Node):
    """y = x ** p for a Python number p;  dx = dy * p * x^(p-1)"""

    def forward(self, x, p):
        self.p = p
        x = float_array(x, "pow") if not (isinstance(p, int) and p >= 0) else x
        return x * x if p == 2 else x ** p

    def backward(self, g):
        (x,) = self.saved_inputs()
        p = self.p
        if p == 2:
            return (g * x * 2.0,)
        if p == 0:
            return (g * 0.0,)    # x ** 0 is constant: 0, not 0 * x ** -1 = nan at x = 0
        return (g * (call(PowScalar, x, p=p - 1) * p),)


# ---------------------------------------------------------------- unary functions

class Exp(Node):
    """y = exp(x);  dx = dy * y"""
    reads_inputs = False
    reads_outputs = True

    def forward(self, x):
        return backend.array_module(x).exp(float_array(x, "exp"))

    def backward(self, g):
        return (g * self.saved_output(),)


class Log(Node):
    """y = log(x);  dx = dy / x
    (log(0) = -inf and log(-1) = nan silently, as PyTorch: the causal mask
    ``torch.log(torch.tril(torch.ones(n, n)))`` of word_language_model is built that way)"""

    def forward(self, x):
        return backend.log(float_array(x, "log"))

    def backward(self, g):
        return (g / self.saved_inputs()[0],)


class Sqrt(Node):
    """y = sqrt(x);  dx = dy / (2 y)"""
    reads_inputs = False
    reads_outputs = True

    def forward(self, x):
        return backend.array_module(x).sqrt(float_array(x, "sqrt"))

    def backward(self, g):
        return (g / (self.saved_output() * 2.0),)


class Abs(Node):
    """y = |x|;  dx = dy * sign(x)  (0 at x = 0, as PyTorch)"""

    def forward(self, x):
        if x.dtype.kind == "b":
            raise DTypeError("abs: expected a numeric tensor, got bool")
        return abs(x)

    def backward(self, g):
        x = self.inputs[0].array
        return (g * backend.array_module(x).sign(x),)


class Tanh(Node):
    """y = tanh(x);  dx = dy * (1 - y^2)"""
    reads_inputs = False
    reads_outputs = True

    def forward(self, x):
        return backend.array_module(x).tanh(float_array(x, "tanh"))

    def backward(self, g):
        y = self.saved_output()
        return (g * (1.0 - y * y),)


class Sigmoid(Node):
    """y = 1 / (1 + exp(-x));  dx = dy * y * (1 - y)
    (exp(-x) may overflow to inf for very negative x, giving exactly 0: see
    backend.sigmoid, which keeps that quiet and exact elsewhere)"""
    reads_inputs = False
    reads_outputs = True

    def forward(self, x):
        return backend.sigmoid(float_array(x, "sigmoid"))

    def backward(self, g):
        y = self.saved_output()
        return (g * y * (1.0 - y),)


class Relu(Node):
    """y = max(x, 0);  dx = dy * (x > 0)"""
    reads_inputs = False     # the mask is saved: x itself is not kept

    def forward(self, x):
        if x.dtype.kind == "b":
            raise DTypeError("relu: expected a numeric tensor, got bool")
        self.positive = x > 0
        return backend.array_module(x).maximum(x, 0)   # not x * mask: no -0.0

    def backward(self, g):
        return (g * (self.positive),)


class _Pick(Node):
    """Elementwise maximum/minimum of two tensors; ties split the gradient evenly."""
    reads_inputs = False     # the weights are saved: a and b themselves are not kept
    pick = None

    def forward(self, a, b):
        mod = backend.array_module(a)
        out = getattr(mod, self.pick)(a, b)
        self.weight_a = mod.where(a == b, 0.5, a == out)
        self.meta = (a.shape, a.dtype, b.shape, b.dtype)
        return out

    def backward(self, g):
        a_shape, a_dtype, b_shape, b_dtype = self.meta
        w = self.weight_a.astype(g.dtype, copy=False)
        return (grad_to(g * (w), a_shape, a_dtype) if self.needs_input_grad[0] else None,
                grad_to(g * (1 - w), b_shape, b_dtype) if self.needs_input_grad[1] else None)


class Maximum(_Pick):
    """y = maximum(a, b);  da = dy where a > b (half where a == b), db the rest"""
    pick = "maximum"


class Minimum(_Pick):
    """y = minimum(a, b);  da = dy where a < b (half where a == b), db the rest"""
    pick = "minimum"


class Clip(Node):
    """y = min(max(x, low), high);  dx = dy where low <= x <= high (inclusive, as
    PyTorch's clamp), else 0"""
    reads_inputs = False     # the mask is saved: x itself is not kept

    def forward(self, x, low, high):
        mod = backend.array_module(x)
        inside = mod.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        self.inside = inside
        out = x if low is None else mod.maximum(x, low)
        return out if high is None else mod.minimum(out, high)

    def backward(self, g):
        return (g * (self.inside),)


class Where(Node):
    """y = where(cond, a, b) with a boolean array cond (not differentiated)
    da = dy where cond,  db = dy where not cond"""
    reads_inputs = False

    def forward(self, a, b, cond):
        if cond.dtype.kind != "b":
            raise DTypeError(f"where: the condition must be a bool tensor, got {cond.dtype}")
        self.cond = cond
        self.meta = (a.shape, a.dtype, b.shape, b.dtype)
        return backend.array_module(cond).where(cond, a, b)   # cond is on the op's device

    def backward(self, g):
        a_shape, a_dtype, b_shape, b_dtype = self.meta
        return (grad_to(g * (self.cond), a_shape, a_dtype) if self.needs_input_grad[0] else None,
                grad_to(g * (~self.cond), b_shape, b_dtype) if self.needs_input_grad[1] else None)
