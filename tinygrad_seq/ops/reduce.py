"""Reductions and their adjoint, broadcasting: sum, expand, max, min, var, logsumexp.

Every reduction takes ``axis`` (None, an int or a tuple of ints) and ``keepdims``. Its
backward first puts the reduced axes back as size-1 axes (``self.kept``) and then
broadcasts over them.

float16 inputs accumulate in float32 and give float16 results, as PyTorch on the CPU:
a float16 sum overflows at 65504, so a mean of 1,000 values of 100 would be inf.
"""
from .. import backend
from ..autograd import Node, call
from ..errors import OutOfRangeError, ShapeError

float16, float32 = backend.float16, backend.float32


def is_half(x):
    """Whether array `x` is float16, whose reductions must accumulate in float32 (one
    dtype comparison: the only cost this policy adds to other dtypes)."""
    return x.dtype == float16


def normalize_axes(axis, ndim, op):
    """Axis argument -> sorted tuple of non-negative axes; ShapeError naming `op`."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, int) or not -max(ndim, 1) <= a < max(ndim, 1):
            raise OutOfRangeError(f"{op}: dim {a} is out of range for a tensor with {ndim} dims")
        if ndim:             # a 0-d tensor takes axis 0 or -1 and reduces nothing (PyTorch)
            out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))


def kept_shape(shape, axes):
    """`shape` with the reduced `axes` as size-1 axes (keepdims=True's shape)."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Expand(Node):
    """y = broadcast_to(x, shape);  dx = dy summed over the broadcast axes"""
    reads_inputs = False
    is_view = True

    def forward(self, x, shape):
        self.in_shape = x.shape
        return backend.array_module(x).broadcast_to(x, shape)

    def backward(self, g):
        return (sum_to(g, self.in_shape),)


class Sum(Node):
    """y = sum(x, axis);  dx = broadcast(dy with the reduced axes kept, x.shape)"""
    reads_inputs = False

    def forward(self, x, axis=None, keepdims=False):
        axes = normalize_axes(axis, x.ndim, "sum")
        self.in_shape, self.kept = x.shape, kept_shape(x.shape, axes)
        if is_half(x):
            return x.sum(axis=axes, keepdims=keepdims, dtype=float32).astype(float16)
        return x.sum(axis=axes, keepdims=keepdims)

    def backward(self, g):
        return (call(Expand, g.reshape(self.kept), shape=self.in_shape),)


def sum_to(g, shape):
    """Sum a gradient over the axes that broadcasting added or stretched, so that it
    has `shape` again (the backward of NumPy broadcasting)."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape)
                                      if n == 1 and g.shape[i + lead] != 1)
    out = g.sum(axis=axes, keepdims=True) if axes else g
    return out.reshape(shape) if out.shape != shape else out


def grad_like(g, t):
    """The gradient `g` summed to the shape of tensor `t` and cast to its dtype (mixed
    float32/float64 ops give float64 gradients to float32 inputs otherwise)."""
    if g.shape != t.shape:
        g = sum_to(g, t.shape)
    return g if g.dtype == t.dtype else g.astype(t.dtype)


def grad_to(g, shape, dtype):
    """grad_like for an input known by its shape and dtype only (what a rule that does
    not read the input's values saves in forward)."""
    if g.shape != shape:
        g = sum_to(g, shape)
    return g if g.dtype == dtype else g.astype(dtype)


class _Extremum(Node):
    """y = max (or min) of x over axis.
    dx = dy where x equals the extremum, split evenly between ties (so the gradient of
    a constant row is spread, as PyTorch's amax does)."""
    reads_inputs = False
    reduce_name = None

    def forward(self, x, axis=None, keepdims=False):
        axes = normalize_axes(axis, x.ndim, self.reduce_name)
        if x.size == 0:
            raise ShapeError(f"{self.reduce_name}: empty tensor of shape {x.shape}")
        self.in_shape, self.kept = x.shape, kept_shape(x.shape, axes)
        out = getattr(x, self.reduce_name)(axis=axes, keepdims=True)
        hits = x == out
        self.weights = hits / hits.sum(axis=axes, keepdims=True)
        self.weights = self.weights.astype(x.dtype, copy=False)
        return out if keepdims else out.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))

    def backward(self, g):
        return (g.reshape(self.kept) * self.weights,)


class Max(_Extremum):
    reduce_name = "max"


class Min(_Extremum):
    reduce_name = "min"


class Var(Node):
    """y = sum((x - mean(x))^2, axis) / (n - correction)
    dx = dy * 2 (x - mean(x)) / (n - correction)"""

    def forward(self, x, axis=None, keepdims=False, correction=1):
        axes = normalize_axes(axis, x.ndim, "var")
        self.kept = kept_shape(x.shape, axes)
        n = 1
        for a in axes:
            n *= x.shape[a]
        self.axes, self.denominator = axes, max(n - correction, 0)
        if is_half(x):
            return x.astype(float32).var(axis=axes, keepdims=keepdims, ddof=correction).astype(float16)
        return x.var(axis=axes, keepdims=keepdims, ddof=correction)

    def backward(self, g):
        (x,) = self.saved_inputs()
        centred = x - x.mean(axis=self.axes, keepdims=True)     # Tensor.mean: float32 sums
        # n - correction <= 0: IEEE's 2 / 0 = inf (nan where centred is 0), as PyTorch
        scale = 2.0 / self.denominator if self.denominator else float("inf")
        return (g.reshape(self.kept) * centred * scale,)


class Exp(Node):
    """y = exp(x);  dx = dy * y   (here because logsumexp's backward needs it)"""
    reads_inputs = False
    reads_outputs = True

    def forward(self, x):
        return backend.array_module(x).exp(backend.float_array(x, "exp"))

    def backward(self, g):
        return (g * self.saved_output(),)


class LogSumExp(Node):
    """y = log(sum(exp(x), axis)), computed as m + log(sum(exp(x - m))) with m = max(x)
    dx = dy * exp(x - y)  (the softmax of x)"""
    reads_outputs = True

    def forward(self, x, axis=None, keepdims=False):
        axes = normalize_axes(axis, x.ndim, "logsumexp")
        mod = backend.array_module(x)
        x = backend.float_array(x, "logsumexp")
        if is_half(x):
            return self.forward(x.astype(float32), axis, keepdims).astype(float16)
        self.kept = kept_shape(x.shape, axes)
        if x.size:
            m = x.max(axis=axes, keepdims=True)
            m = mod.where(mod.isfinite(m), m, 0)
            out = mod.log(mod.exp(x - m).sum(axis=axes, keepdims=True)) + m
        else:                   # the log of an empty sum, as PyTorch (max has no identity)
            out = mod.full(self.kept, -float("inf"), dtype=x.dtype)
        return out if keepdims else out.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))

    def backward(self, g):
        (x,) = self.saved_inputs()
        y = self.saved_output().reshape(self.kept)
        return (g.reshape(self.kept) * call(Exp, x - y),)
