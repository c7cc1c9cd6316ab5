"""Tensor's operators and methods. Each one checks and converts its arguments, then
calls a primitive of ``ops/`` (or composes a few). The Tensor class itself (data,
grad, backward) is in ``autograd.py``; this module attaches the API to it.

Conventions (DESIGN.md): ``axis=`` everywhere, ``dim=`` accepted as an alias;
``keepdims=`` with ``keepdim=`` as an alias; Python scalars take the tensor's dtype
(NumPy's weak-scalar promotion); arrays and Tensors promote as NumPy does.
"""
import functools
import operator
from collections import namedtuple

from . import backend
from .backend import devices   # devices._cupy: set once CUDA is asked for
from .autograd import AutogradError, Tensor, as_array
from .modes import _state, no_grad
from .errors import DeviceError, DTypeError, OutOfRangeError, ShapeError
from .ops.elementwise import (Abs, Add, Clip, Div, Exp, Log, Maximum, Minimum, Mul, Neg, Pow,
                              PowScalar, Relu, Sigmoid, Sqrt, Sub, Tanh, Where)
from .ops.indexing import GetItem, SetItem, WriteView
from .ops.linalg import MatMul
from .ops.movement import Cast, Cat, Permute, Reshape, Split
from .ops.nn import LogSoftmax, Softmax
from .ops.reduce import Expand, LogSumExp, Max, Min, Sum, Var, normalize_axes


# ---------------------------------------------------------------- argument helpers

def _pick(value, alias, name, alias_name, default=None):
    """Resolve a NumPy-named argument and its PyTorch alias (axis/dim, keepdims/keepdim)."""
    if alias is not None:
        if value is not None and value != alias:
            raise TypeError(f"got both {name}={value!r} and {alias_name}={alias!r}")
        return alias
    return default if value is None else value


def _doc_of(primitive):
    """A primitive's docstring, its formula (Max and Min share their base class's)."""
    return next(c.__doc__ for c in primitive.__mro__ if c.__doc__)


def _formula(primitive):
    """Give a method the docstring of the primitive it applies, the formula of its
    forward and backward (``help(x.tanh)`` shows ``y = tanh(x);  dx = dy * (1 - y^2)``).
    Set once at import: the method itself is a plain function."""
    def with_doc(fn):
        fn.__doc__ = _doc_of(primitive)
        return fn
    return with_doc


def _check_devices(a, b, op):
    """Tensors of one op share a device, except that a 0-d cpu tensor (a Python scalar
    made a tensor) goes with any, as in PyTorch."""
    if devices._cupy is not None:
        da, db = a.device, b.device
        if da != db and not (da == "cpu" and a.ndim == 0) and not (db == "cpu" and b.ndim == 0):
            raise DeviceError(f"{op}: tensors on two devices, {da} and {db}; move one with .to()")


def _operand(x, like, op):
    """Turn an operand into a Tensor: Tensors pass, arrays are wrapped (no copy; a host
    NumPy array meeting a GPU tensor is copied there, as a Python scalar is), Python
    scalars become scalars of the dtype NumPy gives `like` op scalar (weak scalars:
    float32 tensor * 2.0 stays float32)."""
    if isinstance(x, Tensor):
        if devices._cupy is not None:
            _check_devices(like, x, op)
        return x
    kind = type(x)
    if kind is float or kind is int or kind is bool:
        dt = like.array.dtype
        if (kind is float and dt.kind not in "fc") or (kind is int and dt.kind == "b"):
            dt = _scalar_dtype(dt, kind)     # a scalar of a higher category (rare)
        return Tensor._make(dt.type(x))
    if backend.is_array(x):
        return Tensor._make(backend.follow_device(x, like.device, op, "an array operand"))
    try:
        return Tensor._make(as_array(x, device=like.device))
    except Exception:
        raise TypeError(f"{op}: unsupported operand of type {type(x).__name__}") from None


def _scalar_dtype(dt, kind):
    """The dtype of a Python scalar of type `kind` meeting a tensor of dtype `dt`, as in
    PyTorch: the tensor's dtype unless the scalar is of a higher category (a float
    with an integer or bool tensor gives the default float dtype, an int with a bool
    tensor int64)."""
    if kind is float:
        return dt if dt.kind in "fc" else backend.get_default_dtype()
    if kind is int:
        return backend.int64 if dt.kind == "b" else dt
    return dt


def _promote(a, b):
    """a and b cast to the dtype PyTorch gives their binary op (backend.promote_types):
    a 0-d tensor or a scalar does not widen a dimensioned tensor of its category."""
    da, db = a.array.dtype, b.array.dtype
    if da is db or da == db:          # `is` first: NumPy's builtin dtypes are singletons
        return a, b
    dt = backend.promote_types(da, db, a.array.ndim > 0, b.array.ndim > 0)
    return _cast(a, dt), _cast(b, dt)


def _cast(t, dtype):
    return t if t.array.dtype == dtype else Cast.apply(t, dtype=dtype, device=t.device)


def tensor_arg(x, op, name="input", like=None):
    """The Tensor for an argument that DESIGN says may be a Tensor or an array: Tensors
    pass, NumPy/CuPy arrays and nested lists are wrapped (arrays without a copy) on
    `like`'s device; anything else is a TypeError naming `op` and `name`."""
    if isinstance(x, Tensor):
        if like is not None and devices._cupy is not None:
            _check_devices(like, x, op)
        return x
    try:
        return Tensor._make(as_array(x, device=None if like is None else like.device))
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {name} must be a Tensor or an array, got "
                        f"{type(x).__name__}") from None


def _binary(cls, op):
    def forward(self, other):
        if type(other) is not Tensor or devices._cupy is not None:
            try:
                other = _operand(other, self, op)
            except TypeError:
                return NotImplemented   # let the other operand try (a RowSparseGrad, ...)
        if self.array.dtype is other.array.dtype:   # the common case (a Python scalar
            return cls.apply(self, other)           # takes the tensor's dtype): no promotion
        return cls.apply(*_promote(self, other))

    def reflected(self, other):
        try:
            other = _operand(other, self, op)
        except TypeError:
            return NotImplemented
        if self.array.dtype is other.array.dtype:
            return cls.apply(other, self)
        return cls.apply(*_promote(other, self))
    forward.__name__, reflected.__name__ = f"__{op}__", f"__r{op}__"
    forward.__doc__ = _doc_of(cls)
    reflected.__doc__ = f"other {op} self, the operands swapped. " + _doc_of(cls)
    return forward, reflected


Tensor.__add__, Tensor.__radd__ = _binary(Add, "add")
Tensor.__sub__, Tensor.__rsub__ = _binary(Sub, "sub")
Tensor.__mul__, Tensor.__rmul__ = _binary(Mul, "mul")
Tensor.__truediv__, Tensor.__rtruediv__ = _binary(Div, "truediv")
Tensor.__matmul__, Tensor.__rmatmul__ = _binary(MatMul, "matmul")


def _add(self, other, *, alpha=1):
    """self + alpha * other (torch.add)."""
    return Tensor.__add__(self, other if alpha == 1 else other * alpha)


def _sub(self, other, *, alpha=1):
    """self - alpha * other (torch.sub)."""
    return Tensor.__sub__(self, other if alpha == 1 else other * alpha)


def _div(self, other, *, rounding_mode=None):
    """self / other (true division: integers give the default float dtype), or with
    ``rounding_mode`` "trunc" / "floor" the quotient rounded toward zero / down, in the
    operands' dtype, not differentiable (PyTorch's gradient there is zero)."""
    if rounding_mode is None:
        return Tensor.__truediv__(self, other)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got "
                         f"{rounding_mode!r}")
    a, b = _promote(self, _operand(other, self, "div"))
    x, y = a.array, b.array
    mod = backend.array_module(x)
    if x.dtype.kind in "iub":
        q = mod.floor_divide(x, y)
        if rounding_mode == "trunc":     # floor and trunc differ when the signs differ
            q = q + ((mod.remainder(x, y) != 0) & ((x < 0) != (y < 0)))
    else:
        q = (mod.floor if rounding_mode == "floor" else mod.trunc)(x / y)
    return Tensor._make(mod.asarray(q, dtype=x.dtype))


def _addcmul(self, tensor1, tensor2, *, value=1):
    """self + value * tensor1 * tensor2."""
    return self + (tensor1 * tensor2 if value == 1 else value * tensor1 * tensor2)


def _addcdiv(self, tensor1, tensor2, *, value=1):
    """self + value * tensor1 / tensor2."""
    return self + (tensor1 / tensor2 if value == 1 else value * tensor1 / tensor2)


def _lerp(self, end, weight):
    """self + weight * (end - self) (linear interpolation)."""
    return self + weight * (end - self)


Tensor.add, Tensor.sub, Tensor.subtract = _add, _sub, _sub
Tensor.mul = Tensor.multiply = Tensor.__mul__
Tensor.div = Tensor.divide = _div
Tensor.addcmul, Tensor.addcdiv, Tensor.lerp = _addcmul, _addcdiv, _lerp
Tensor.matmul = Tensor.__matmul__


def _pow(self, exponent):
    """self ** exponent: a Python number goes to PowScalar (int ** 0.5 is a float
    tensor), a tensor to Pow.
    PowScalar: y = x ** p;  dx = dy * p * x ** (p - 1)
    Pow: y = a ** b;  da = dy * b * a ** (b - 1),  db = dy * y * log(a)"""
    if type(exponent) in (int, float):
        if type(exponent) is float and self.array.dtype.kind not in "fc":
            self = _cast(self, backend.get_default_dtype())    # int ** 0.5 is float32
        return PowScalar.apply(self, p=exponent)
    return Pow.apply(*_promote(self, _operand(exponent, self, "pow")))


def _rpow(self, base):
    """base ** self (a number or tensor raised to this tensor's power); see __pow__."""
    return Pow.apply(*_promote(_operand(base, self, "pow"), self))


Tensor.__pow__ = Tensor.pow = _pow
Tensor.__rpow__ = _rpow


@_formula(Neg)
def _neg(self):
    return Neg.apply(self)


@_formula(Abs)
def _abs(self):
    return Abs.apply(self)


def _pos(self):
    """+self: self itself."""
    return self


Tensor.__neg__ = Tensor.neg = _neg
Tensor.__abs__ = Tensor.abs = _abs
Tensor.__pos__ = _pos


def _untracked(fn_name, op):
    """Comparison and logical operators: results are never tracked (bool/int)."""
    def method(self, other):
        if other is None:
            return NotImplemented
        other = _operand(other, self, op)
        return Tensor._make(getattr(self.array, fn_name)(other.array))
    method.__name__ = fn_name
    method.__doc__ = (f"The elementwise {fn_name} of self and other (NumPy's), a new tensor "
                      "that is never tracked: comparisons give bool, the others integers.")
    return method


for _name in ("lt", "le", "gt", "ge", "eq", "ne", "and", "or", "xor", "floordiv", "mod"):
    setattr(Tensor, f"__{_name}__", _untracked(f"__{_name}__", _name))
for _name in ("and", "or", "xor", "floordiv", "mod"):
    setattr(Tensor, f"__r{_name}__", _untracked(f"__r{_name}__", _name))


def _invert(self):
    """~self: bitwise not (logical not of a bool tensor), not tracked."""
    return Tensor._make(~self.array)


def _hash(self):
    """Tensors hash by identity (== is elementwise), so they can be dict keys."""
    return id(self)


Tensor.__invert__ = _invert
Tensor.__hash__ = _hash


def _logical_not(self):
    """True where self is zero (False), a new bool tensor; not tracked."""
    return Tensor._make(self.array == 0)


Tensor.logical_not = _logical_not


# ---------------------------------------------------------------- elementwise functions

@_formula(Exp)
def _exp(self):
    return Exp.apply(self)


@_formula(Log)
def _log(self):
    return Log.apply(self)


@_formula(Sqrt)
def _sqrt(self):
    return Sqrt.apply(self)


@_formula(Tanh)
def _tanh(self):
    return Tanh.apply(self)


@_formula(Sigmoid)
def _sigmoid(self):
    return Sigmoid.apply(self)


@_formula(Relu)
def _relu(self):
    return Relu.apply(self)


Tensor.exp, Tensor.log, Tensor.sqrt = _exp, _log, _sqrt
Tensor.tanh, Tensor.sigmoid, Tensor.relu = _tanh, _sigmoid, _relu


def _square(self):
    """self * self:  y = x ** 2;  dx = dy * 2 x"""
    return PowScalar.apply(self, p=2)


def _maximum(self, other):
    """The elementwise maximum of self and other. Ties split the gradient evenly."""
    return Maximum.apply(*_promote(self, _operand(other, self, "maximum")))


def _minimum(self, other):
    """The elementwise minimum of self and other. Ties split the gradient evenly."""
    return Minimum.apply(*_promote(self, _operand(other, self, "minimum")))


def _clip(self, min=None, max=None):
    """self limited to [min, max] (either may be None; tensors go through maximum /
    minimum):  y = min(max(x, min), max);  dx = dy where min <= x <= max, else 0"""
    if min is None and max is None:
        raise TypeError("clip: give at least one of min and max")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = self
        if min is not None:
            out = _maximum(out, min)
        if max is not None:
            out = _minimum(out, max)
        return out
    return Clip.apply(self, low=min, high=max)


Tensor.square = _square
Tensor.maximum = _maximum
Tensor.minimum = _minimum
Tensor.clip = Tensor.clamp = _clip


def _masked_fill(self, mask, value):
    """Value where `mask` is True, self elsewhere (differentiable in self)."""
    return where(mask, _operand(value, self, "masked_fill"), self)


Tensor.masked_fill = _masked_fill


# ---------------------------------------------------------------- reductions

def _reduction(cls, name):
    def method(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
        axis = _pick(axis, dim, "axis", "dim")
        keepdims = bool(_pick(keepdims, keepdim, "keepdims", "keepdim", False))
        return cls.apply(self, axis=axis, keepdims=keepdims)
    method.__name__ = name
    method.__doc__ = (f"{name} over `axis` (``dim``; None: all), keeping the reduced axes "
                      f"as size 1 with ``keepdims`` (``keepdim``).\n" + _doc_of(cls))
    return method


Tensor.sum = _reduction(Sum, "sum")
Tensor.amax = _reduction(Max, "amax")
Tensor.amin = _reduction(Min, "amin")

# what max(dim) / min(dim) return, as torch.return_types.max / .min
MaxResult = namedtuple("max", ["values", "indices"])
MinResult = namedtuple("min", ["values", "indices"])


def _extremum(cls, name, result_type):
    """PyTorch's max/min: ``x.max()`` the single value (ties share the gradient, as
    ``amax``); ``x.max(dim, keepdim=False)`` the named tuple ``(values, indices)``,
    indices of the first extremum along `dim`, the gradient going to those entries
    only; ``x.max(other)`` the elementwise maximum."""
    def method(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        if isinstance(dim, Tensor) or backend.is_array(dim):
            return (_maximum if name == "max" else _minimum)(self, dim)
        dim = _pick(dim, axis, "dim", "axis")
        keepdim = bool(_pick(keepdim, keepdims, "keepdim", "keepdims", False))
        if dim is None:
            return cls.apply(self, axis=None, keepdims=False)
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise TypeError(f"{name}: dim must be one int, got {dim!r} (amax/amin reduce "
                            "several dims)")
        if self.ndim == 0:
            normalize_axes(dim, 0, name)
            index = backend.array_module(self.array).zeros((), dtype=backend.int64)
            return result_type(self[...], Tensor._make(index))
        axis = normalize_axes(dim, self.ndim, name)[0]
        index = getattr(Tensor, "arg" + name)(self, axis, keepdims=True)
        values = _gather(self, axis, index)
        if not keepdim:
            values, index = _squeeze(values, axis), _squeeze(index, axis)
        return result_type(values, index)
    method.__name__ = name
    method.__doc__ = _extremum.__doc__
    return method


Tensor.max = _extremum(Max, "max", MaxResult)
Tensor.min = _extremum(Min, "min", MinResult)
Tensor.logsumexp = _reduction(LogSumExp, "logsumexp")


def _mean(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
    """The mean over `axis` (``dim``; None: all); integers give the default float dtype,
    float16 sums in float32.  y = sum(x, axis) / n;  dx = dy / n, broadcast"""
    axis = _pick(axis, dim, "axis", "dim")
    keepdims = bool(_pick(keepdims, keepdim, "keepdims", "keepdim", False))
    if self.array.dtype == backend.float16:     # the sum overflows before the division
        return in_float32(_mean, self, axis, keepdims)
    x = self if self.dtype.kind == "f" else self.to(backend.get_default_dtype())
    count = 1
    for a in normalize_axes(axis, x.ndim, "mean"):
        count *= x.shape[a]
    if count == 0:
        raise ShapeError(f"mean: empty reduction over axis {axis} of shape {x.shape}")
    return Sum.apply(x, axis=axis, keepdims=keepdims) * (1.0 / count)


def _var(self, axis=None, keepdims=None, correction=None, *, dim=None, keepdim=None,
         unbiased=None, ddof=None):
    """Variance; ``correction=1`` (PyTorch's default, Bessel) unless ``ddof=``,
    ``unbiased=False`` or ``correction=0`` says otherwise."""
    axis = _pick(axis, dim, "axis", "dim")
    keepdims = bool(_pick(keepdims, keepdim, "keepdims", "keepdim", False))
    if correction is None:
        correction = ddof if ddof is not None else (0 if unbiased is False else 1)
    return Var.apply(float_tensor(self, "var"), axis=axis, keepdims=keepdims, correction=correction)


def _std(self, *args, **kwargs):
    """The standard deviation, sqrt(var(...)), with var's arguments (correction=1 by
    default)."""
    if self.array.dtype == backend.float16:     # a variance above 65504 has a finite root
        return in_float32(_std, self, *args, **kwargs)
    return _var(self, *args, **kwargs).sqrt()


Tensor.mean = _mean
Tensor.var = _var
Tensor.std = _std


def _arg(fn_name):
    def method(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
        axis = _pick(axis, dim, "axis", "dim")
        keepdims = bool(_pick(keepdims, keepdim, "keepdims", "keepdim", False))
        if axis is not None:
            normalize_axes(axis, self.ndim, fn_name)
        if self.numel() == 0:
            raise ShapeError(f"{fn_name}: empty tensor of shape {self.shape}")
        out = getattr(self.array, fn_name)(axis=axis, keepdims=keepdims)
        return Tensor._make(backend.array_module(self.array).asarray(out, dtype=backend.int64))
    method.__name__ = fn_name
    method.__doc__ = (f"The int64 index of the {fn_name[3:]} along `axis` (``dim``; None: of "
                      "the flattened tensor); the first one among ties. Not differentiable.")
    return method


Tensor.argmax = _arg("argmax")
Tensor.argmin = _arg("argmin")


def _any(self, axis=None, keepdims=False):
    """Whether any element along `axis` (None: all) is nonzero, a bool tensor."""
    return Tensor._make(
        backend.array_module(self.array).asarray(self.array.any(axis=axis, keepdims=keepdims)))


def _all(self, axis=None, keepdims=False):
    """Whether every element along `axis` (None: all) is nonzero, a bool tensor."""
    return Tensor._make(
        backend.array_module(self.array).asarray(self.array.all(axis=axis, keepdims=keepdims)))


Tensor.any, Tensor.all = _any, _all


# ---------------------------------------------------------------- shapes

def _shape_args(shape, op):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for n in shape:
        if not isinstance(n, int) and not (hasattr(n, "__index__") and not isinstance(n, float)):
            raise TypeError(f"{op}: sizes must be integers, got {shape!r}")
    return tuple(int(n) for n in shape)


def _reshape(self, *shape):
    """The same elements in a new shape (sizes or one tuple); self when the shape is
    unchanged.  y = reshape(x, shape);  dx = reshape(dy, x.shape)"""
    shape = _shape_args(shape, "reshape")
    if shape == self.shape:
        return self
    return Reshape.apply(self, shape=shape)


def _permute(self, *axes):
    """The axes reordered (sizes or one tuple).  y = x.transpose(axes);
    dx = dy.transpose(argsort(axes))"""
    return Permute.apply(self, axes=_shape_args(axes, "permute"))


def _transpose(self, *axes):
    """``transpose(a, b)`` swaps two axes (PyTorch); ``transpose()`` reverses them all
    and ``transpose(perm)`` with a full permutation reorders them (NumPy)."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    if not axes:
        return Permute.apply(self, axes=tuple(range(self.ndim))[::-1])
    if len(axes) == 2:
        a, b = normalize_axes(axes[0], self.ndim, "transpose")[0], normalize_axes(axes[1], self.ndim, "transpose")[0]
        order = list(range(self.ndim))
        order[a], order[b] = order[b], order[a]
        return Permute.apply(self, axes=tuple(order))
    return Permute.apply(self, axes=axes)


def _squeeze(self, axis=None, *, dim=None):
    """Without the size-1 axes (`axis`/``dim``: only those, each of which must have size 1)."""
    axis = _pick(axis, dim, "axis", "dim")
    axes = normalize_axes(axis, self.ndim, "squeeze")
    # as torch: a named dim whose size is not 1 is left in place (no error)
    axes = tuple(i for i in axes if self.shape[i] == 1)
    return _reshape(self, tuple(n for i, n in enumerate(self.shape) if i not in axes))


def _unsqueeze(self, axis=None, *, dim=None):
    """A new axis of size 1 at position `axis` (``dim``; -1: last)."""
    axis = _pick(axis, dim, "axis", "dim")
    if axis is None:
        raise TypeError("unsqueeze: missing axis")
    if not -self.ndim - 1 <= axis <= self.ndim:
        raise OutOfRangeError(f"unsqueeze: dim {axis} is out of range for a tensor with "
                         f"{self.ndim} dims")
    axis = axis % (self.ndim + 1)
    return _reshape(self, self.shape[:axis] + (1,) + self.shape[axis:])


def _flatten(self, start_dim=0, end_dim=-1):
    """Axes start_dim..end_dim (inclusive) merged into one; a 0-d tensor gives shape (1,)."""
    if self.ndim == 0:
        return _reshape(self, (1,))
    s, e = start_dim % self.ndim, end_dim % self.ndim
    size = 1
    for n in self.shape[s:e + 1]:
        size *= n
    return _reshape(self, self.shape[:s] + (size,) + self.shape[e + 1:])


def _expand(self, *shape):
    """Broadcast to `shape` (-1 keeps a size, as PyTorch's expand)."""
    shape = _shape_args(shape, "expand")
    lead = len(shape) - self.ndim
    if lead < 0:
        raise ShapeError(f"expand: cannot expand shape {self.shape} to fewer dims {shape}")
    shape = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
    if shape == self.shape:
        return self
    try:
        backend.xp("cpu").broadcast_shapes(self.shape, shape)
        if backend.xp("cpu").broadcast_shapes(self.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ShapeError(f"expand: cannot broadcast shape {self.shape} to {shape}") from None
    return Expand.apply(self, shape=shape)


Tensor.reshape = Tensor.view = _reshape
Tensor.permute = _permute
Tensor.transpose = _transpose
Tensor.squeeze = _squeeze
Tensor.unsqueeze = _unsqueeze
Tensor.flatten = _flatten
Tensor.expand = Tensor.broadcast_to = _expand


def _T(self):  # noqa: N802  Tensor.T
    """The axes reversed (x.T of a matrix is its transpose).
    y = x.transpose(axes);  dx = dy.transpose(argsort(axes))"""
    return Permute.apply(self, axes=tuple(range(self.ndim))[::-1])


def _mT(self):  # noqa: N802  Tensor.mT
    """The last two axes swapped (a batch of matrices transposed)."""
    return _transpose(self, -2, -1)


def _swapaxes(self, a, b):
    """Axes a and b swapped (transpose(a, b))."""
    return _transpose(self, a, b)


def _contiguous(self):
    """self: the arrays are always usable as they are."""
    return self


def _expand_as(self, other):
    """self broadcast to other's shape (expand(other.shape))."""
    return _expand(self, other.shape)


def _reshape_as(self, other):
    """self in other's shape (reshape(other.shape))."""
    return _reshape(self, other.shape)


Tensor.T, Tensor.mT = property(_T), property(_mT)
Tensor.swapaxes = _swapaxes
Tensor.contiguous = _contiguous
Tensor.expand_as = _expand_as
Tensor.reshape_as = Tensor.view_as = _reshape_as


def _split_bounds(size, split_size_or_sections, op):
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise ShapeError(f"{op}: split size must be positive, got {step}")
        return list(range(step, size, step))
    sections = list(split_size_or_sections)
    if sum(sections) != size:
        raise ShapeError(f"{op}: section sizes {sections} do not add up to {size}")
    bounds, acc = [], 0
    for n in sections[:-1]:
        acc += n
        bounds.append(acc)
    return bounds


def _split(self, split_size_or_sections, axis=None, *, dim=None):
    """Split along `axis` into pieces of `split_size` (the last may be smaller) or of the
    sizes listed (PyTorch's split). Returns a tuple of views."""
    axis = normalize_axes(_pick(axis, dim, "axis", "dim", 0), self.ndim, "split")[0]
    bounds = _split_bounds(self.shape[axis], split_size_or_sections, "split")
    if not bounds:
        return (self,)
    return Split.apply(self, bounds=tuple(bounds), axis=axis)


def _chunk(self, chunks, axis=None, *, dim=None):
    """Split into `chunks` pieces of ceil(n / chunks) along `axis` (PyTorch's chunk)."""
    axis = normalize_axes(_pick(axis, dim, "axis", "dim", 0), self.ndim, "chunk")[0]
    if chunks <= 0:
        raise ShapeError(f"chunk: chunks must be positive, got {chunks}")
    n = self.shape[axis]
    return _split(self, max(-(-n // chunks), 1), axis)


Tensor.split = _split
Tensor.chunk = _chunk


# ---------------------------------------------------------------- indexing

def _index_part(i, device):
    if isinstance(i, Tensor):
        i = i.array
    elif isinstance(i, list):
        i = backend.to_device(backend.host_array(i), device)
    if backend.is_array(i):
        if i.dtype.kind not in "iub":
            raise DTypeError(f"getitem: index arrays must be integer or bool, got {i.dtype}")
        return backend.follow_device(i, device, "getitem", "an index array")
    if isinstance(i, float):
        raise DTypeError(f"getitem: float index {i!r}; indices must be integers")
    return i


def _normalize_index(index, device):
    if type(index) is tuple:
        return tuple(_index_part(i, device) for i in index)
    return _index_part(index, device)


def _getitem(self, index):
    return GetItem.apply(self, index=_normalize_index(index, self.device))


def _tracks(*tensors):
    return _state.grad_enabled and any(isinstance(t, Tensor) and t.requires_grad for t in tensors)


def _check_inplace(self, op):
    if _state.grad_enabled and self.requires_grad and self._ctx is None:
        raise AutogradError(f"{op}: a leaf tensor that requires grad is used in an in-place "
                            "operation; wrap parameter updates in `with ts.no_grad():`")
    if _tracks(self) and self._view_of is not None and self._view_of.requires_grad \
            and not _rebasable(self):
        if _view_step(self) is not None and _leaf_under(self):
            raise AutogradError(f"{op}: a view of a leaf tensor that requires grad is used in "
                                "an in-place operation")
        raise AutogradError(f"{op}: in-place change of this view of a tensor that requires "
                            "grad is not supported (it is not a slice, reshape or permute "
                            "of it; torch refuses split's pieces too); compute the result "
                            "out of place")


def _view_step(view):
    """How the tracked view `view` was made from its base (``_view_of``), as WriteView
    takes it: ("index", basic index), ("reshape", shape), ("permute", axes); None when
    unknown or when the two do not share memory (a reshape that copied)."""
    node, base = view._ctx, view._view_of
    if node is None or base is None or not node.is_view:
        return None
    kept = getattr(node, "inputs", None)      # view nodes keep no inputs (they read none)
    if kept is not None and kept[0] is not base:
        return None
    if not backend.array_module(view.array).may_share_memory(view.array, base.array):
        return None
    kind = type(node)
    if kind is GetItem:
        return ("index", node.index)
    if kind is Reshape:
        return ("reshape", tuple(view.shape))
    if kind is Permute:
        return ("permute", node.axes)
    return None              # split's pieces: torch refuses in-place changes of them too


def _leaf_under(view):
    """True when the chain of tracked views under `view` ends at a leaf that requires
    grad (torch refuses in-place changes through such views too)."""
    base = view._view_of
    while base is not None:
        if base.requires_grad and base._ctx is None:
            return True
        base = base._view_of if _view_step(base) is not None else None
    return False


def _rebasable(view):
    """An in-place change through `view` can be given to its base: a known view of a
    non-leaf (recursively, when the base is itself such a view)."""
    base = view._view_of
    if _view_step(view) is None or base._ctx is None:
        return False
    if base._view_of is not None and base._view_of.requires_grad:
        return _rebasable(base)
    return True


def _view_apply(base, step):
    kind, arg = step
    if kind == "index":
        return GetItem.apply(base, index=arg)
    if kind == "reshape":
        return Reshape.apply(base, shape=arg)
    return Permute.apply(base, axes=arg)


def _assign(self, result):
    """After result's values were written into self: self takes result's history. When
    self is a view of a tensor in the graph, that tensor becomes "itself with the view
    replaced by result" (WriteView; recursively down a chain of views) and self the
    view of its new value, as torch rebases a view's history."""
    base = self._view_of
    step = _view_step(self) if base is not None and (base.requires_grad or result.requires_grad) \
        and _state.grad_enabled else None
    if step is None:
        _adopt(self, result)
        return
    old_base = Tensor._make(base.array, base._ctx, base._index)   # its history; not read
    old_base.requires_grad = base.requires_grad
    _assign(base, WriteView.apply(old_base, result, view=step))
    _adopt(self, _view_apply(base, step))


def _write(self, array, op):
    """Write `array` into self's memory (seen by its views) and bump the version."""
    if array.shape != self.shape:
        raise ShapeError(f"{op}: the in-place result has shape {array.shape}, but the "
                         f"tensor has shape {self.shape}")
    mod = backend.array_module(self.array)
    if not mod.can_cast(array.dtype, self.dtype, casting="same_kind"):
        raise DTypeError(f"{op}: result of dtype {array.dtype} cannot be stored in a "
                         f"{self.dtype} tensor in place")
    try:
        self.array[...] = array
    except ValueError as e:
        raise AutogradError(f"{op}: cannot write into this tensor ({e}); it is a broadcast "
                            "view: .clone() it first") from e
    self._version[0] += 1


def _adopt(self, result):
    """After an in-place op on a tracked tensor: self now has the result's history."""
    self._ctx, self._index, self.requires_grad = result._ctx, result._index, result.requires_grad


def _old_value(self):
    """A tensor holding self's value before an in-place op, with self's history."""
    old = Tensor._make(self.array.copy(), self._ctx, self._index)
    old.requires_grad = self.requires_grad
    return old


def _inplace(fn, op, array_op=None):
    """An in-place method: on a tracked tensor the out-of-place op `fn` gives the new
    value and history; otherwise `array_op` (e.g. operator.isub) updates the array
    itself with no temporary, or fn's result is copied in."""
    def method(self, *args, **kwargs):
        _check_inplace(self, op)
        if _tracks(self, *args, *kwargs.values()):
            result = fn(_old_value(self), *args, **kwargs)
            _write(self, result.array, op)
            _assign(self, result)
        elif array_op is not None:
            other = _operand(args[0], self, op)
            _writable(self)
            try:
                array_op(self.array, other.array, **kwargs)
            except TypeError as e:
                raise DTypeError(f"{op}: cannot store the result ({e})") from e
            except ValueError as e:
                raise ShapeError(f"{op}: cannot update a tensor of shape {self.shape} in place "
                                 f"with one of shape {other.shape} ({e})") from e
            self._version[0] += 1
        else:
            with no_grad():
                result = fn(self, *args, **kwargs)
            _write(self, result.array, op)
        return self
    method.__name__ = op
    method.__doc__ = (f"In place: self becomes {op[:-1]}(self, ...), with the "
                      f"history of that op when tracked; returns self.\n" + (fn.__doc__ or ""))
    return method


def _writable(self):
    """0-d results can be NumPy scalars (immutable): make them arrays before writing."""
    if not hasattr(self.array, "flags"):
        self.array = backend.as_ndarray(self.array)


def _iadd_array(a, b, alpha=1):
    a += b if alpha == 1 else b * alpha


def _isub_array(a, b, alpha=1):
    a -= b if alpha == 1 else b * alpha


def _idiv_array(a, b, rounding_mode=None):
    if rounding_mode is None:
        a /= b
    else:
        a[...] = _div(Tensor._make(a), Tensor._make(b), rounding_mode=rounding_mode).array


def _unsqueeze_(self, dim):
    """Insert a size-1 dim in place (a view: same values, new shape)."""
    return _reshape_(self, _unsqueeze(self, dim), "unsqueeze_")


def _squeeze_(self, dim=None):
    """Drop size-1 dims in place (a view: same values, new shape)."""
    return _reshape_(self, _squeeze(self, dim), "squeeze_")


def _reshape_(self, result, op):
    _check_inplace(self, op)
    self.array = result.array
    if _tracks(self):
        _adopt(self, result)
    return self


Tensor.__iadd__ = Tensor.add_ = _inplace(_add, "add_", _iadd_array)
Tensor.__isub__ = Tensor.sub_ = _inplace(_sub, "sub_", _isub_array)
Tensor.__imul__ = Tensor.mul_ = _inplace(Tensor.__mul__, "mul_", operator.imul)
Tensor.__itruediv__ = Tensor.div_ = _inplace(_div, "div_", _idiv_array)
Tensor.clamp_ = Tensor.clip_ = _inplace(_clip, "clamp_")
Tensor.addcmul_ = _inplace(_addcmul, "addcmul_")
Tensor.addcdiv_ = _inplace(_addcdiv, "addcdiv_")
Tensor.lerp_ = _inplace(_lerp, "lerp_")
Tensor.unsqueeze_, Tensor.squeeze_ = _unsqueeze_, _squeeze_


def _setitem(self, index, value):
    _check_inplace(self, "setitem")
    index = _normalize_index(index, self.device)
    value = _operand(value, self, "setitem")
    if _tracks(self, value):
        result = SetItem.apply(_old_value(self), value, index=index)
        _write(self, result.array, "setitem")
        _assign(self, result)
    else:
        try:
            self.array[index] = value.array
        except (ValueError, IndexError) as e:
            raise ShapeError(f"setitem: cannot assign a value of shape {value.shape} to index "
                             f"{index!r} of a tensor of shape {self.shape}: {e}") from e
        self._version[0] += 1


Tensor.__getitem__ = _getitem
Tensor.__setitem__ = _setitem


def _fill(self, value):
    """Every element set to `value` in place; returns self."""
    _check_inplace(self, "fill_")
    self.array[...] = value
    self._version[0] += 1
    return self


def _copy(self, src):
    """Write src's values (broadcast, cast to self's dtype) into self. Differentiable
    in src, as PyTorch's copy_: self then has src's history."""
    src = _operand(src, self, "copy_")
    _check_inplace(self, "copy_")
    if _tracks(self, src):
        result = Cast.apply(src, dtype=self.dtype, device=self.device)
        if result.shape != self.shape:
            result = _expand(result, self.shape)
        _write(self, result.array, "copy_")
        _assign(self, result)
        return self
    mod = backend.array_module(self.array)
    self.array[...] = mod.broadcast_to(src.array, self.shape) if src.shape != self.shape else src.array
    self._version[0] += 1
    return self


def _random_dtype(dtype):
    """Generators draw float32 or float64; other float dtypes (float16) are cast."""
    return dtype if dtype in (backend.float32, backend.float64) else backend.float32


def _uniform(self, low=0.0, high=1.0, *, generator=None):
    """Filled in place with draws from U(low, high) (the framework's generator of the
    device, or `generator`); returns self."""
    gen = backend.rng(self.device, generator)
    draw = gen.random(self.shape, dtype=_random_dtype(self.dtype))
    return _copy(self, Tensor._make((draw * (high - low) + low).astype(self.dtype, copy=False)))


def _normal(self, mean=0.0, std=1.0, *, generator=None):
    """Filled in place with draws from N(mean, std^2) (the framework's generator of the
    device, or `generator`); returns self."""
    gen = backend.rng(self.device, generator)
    draw = gen.standard_normal(self.shape, dtype=_random_dtype(self.dtype))
    return _copy(self, Tensor._make((draw * std + mean).astype(self.dtype, copy=False)))


Tensor.fill_ = _fill


def _zero(self):
    """Every element set to 0 in place; returns self."""
    return _fill(self, 0)


Tensor.zero_ = _zero
Tensor.copy_ = _copy
Tensor.uniform_ = _uniform
Tensor.normal_ = _normal


# ---------------------------------------------------------------- nn functions on tensors

@_formula(Softmax)
def _softmax(self, axis=None, *, dim=None):
    return Softmax.apply(self, axis=_pick(axis, dim, "axis", "dim", -1))


@_formula(LogSoftmax)
def _log_softmax(self, axis=None, *, dim=None):
    return LogSoftmax.apply(self, axis=_pick(axis, dim, "axis", "dim", -1))


Tensor.softmax = _softmax
Tensor.log_softmax = _log_softmax


def _index_select(self, axis, index):
    """Rows (or slices along `axis`) picked by a 1-D integer index; repeats allowed."""
    axis = normalize_axes(axis, self.ndim, "index_select")[0]
    return _getitem(self, (slice(None),) * axis + (index,))


def _gather(self, axis, index):
    """out[i][j][k] = self[index[i][j][k]][j][k] for axis 0 (and likewise for others):
    PyTorch's gather, as advanced indexing with open grids on the other axes."""
    axis = normalize_axes(axis, self.ndim, "gather")[0]
    index = index.array if isinstance(index, Tensor) else index
    if index.ndim != self.ndim:
        raise ShapeError(f"gather: index has {index.ndim} dims, the tensor {self.ndim}")
    mod = backend.array_module(index)
    grids = list(mod.ogrid[tuple(slice(0, n) for n in index.shape)]) if index.ndim > 1 else \
        [mod.arange(index.shape[0])]
    grids[axis] = index
    return _getitem(self, tuple(grids))


def _repeat_interleave(self, repeats, dim=None, *, output_size=None):
    """Each element (or slice along `dim`) repeated `repeats` times in place, as
    torch: `repeats` an int or a 1-D integer tensor with one count per slice (or one
    count for all); dim=None flattens first. The gradient of a copy goes to its source
    (one index_select)."""
    mod = backend.array_module(self.array)
    x = self.reshape(-1) if dim is None else self
    axis = 0 if dim is None else normalize_axes(dim, self.ndim, "repeat_interleave")[0]
    n = x.shape[axis]
    counts = repeats.array if isinstance(repeats, Tensor) else repeats
    if isinstance(counts, bool) or not (isinstance(counts, int) or
                                        getattr(counts, "dtype", None) is not None and
                                        counts.dtype.kind in "iu"):
        raise TypeError("repeat_interleave: repeats must be an int or an integer tensor, got "
                        f"{type(repeats).__name__}")
    counts = mod.asarray(counts)
    if counts.ndim > 1 or (counts.ndim == 1 and counts.shape[0] not in (1, n)):
        raise ShapeError(f"repeat_interleave: repeats must have the same size as input along "
                         f"dim {axis} ({n}), got shape {tuple(counts.shape)}")
    if bool((counts < 0).any()):
        raise ValueError("repeat_interleave: repeats can not be negative")
    index = mod.repeat(mod.arange(n), counts.reshape(-1) if counts.ndim else int(counts))
    if output_size is not None and index.shape[0] != output_size:
        raise ValueError(f"repeat_interleave: output_size {output_size} does not match the "
                         f"{index.shape[0]} repeated elements")
    return _index_select(x, axis, index)


Tensor.index_select = _index_select
Tensor.gather = _gather
Tensor.repeat_interleave = _repeat_interleave


# ---------------------------------------------------------------- dtype and device

def to_args(args, dtype=None, device=None):
    """(dtype, device) from ``to``'s positional arguments, as PyTorch reads them: a
    Tensor gives both, a device string ("cpu", "cuda", "cuda:0", or an unknown one,
    which check_device then refuses by name) the device, anything else the dtype."""
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, backend.Device) or (isinstance(a, str)
                                               and not backend.is_dtype_name(a)):
            device = a
        else:
            dtype = a
    return dtype, device


def _to(self, *args, dtype=None, device=None, copy=False):
    """``to("cuda")``, ``to(ts.float64)``, ``to("cpu", ts.float32)`` or ``to(other)``:
    returns self when nothing changes (unless copy=True). Differentiable."""
    dtype, device = to_args(args, dtype, device)
    dtype = self.dtype if dtype is None else backend.dtype(dtype)
    device = self.device if device is None else backend.check_device(device)
    if dtype == self.dtype and device == self.device and not copy:
        return self
    if self.requires_grad and dtype.kind != "f":
        return Tensor._make(backend.to_device(self.array, device).astype(dtype))
    return Cast.apply(self, dtype=dtype, device=device)


Tensor.to = _to


def _float(self):
    """self as float32 (self when it is already)."""
    return _to(self, backend.float32)


def _double(self):
    """self as float64 (self when it is already)."""
    return _to(self, backend.float64)


def _half(self):
    """self as float16 (self when it is already)."""
    return _to(self, backend.float16)


def _long(self):
    """self as int64 (self when it is already)."""
    return _to(self, backend.int64)


def _int(self):
    """self as int32 (self when it is already)."""
    return _to(self, backend.int32)


def _bool(self):
    """self as bool (self when it is already)."""
    return _to(self, backend.bool_)


def _astype(self, dtype):
    """self as `dtype` (to(dtype=dtype))."""
    return _to(self, dtype=dtype)


def _cpu(self):
    """self on the CPU (self when it is there)."""
    return _to(self, device="cpu")


def _cuda(self):
    """self on the GPU (self when it is there)."""
    return _to(self, device="cuda")


def _clone(self):
    """A copy with its own memory, differentiable (its gradient flows to self)."""
    return _to(self, copy=True)


Tensor.float, Tensor.double, Tensor.half = _float, _double, _half
Tensor.long, Tensor.int, Tensor.bool = _long, _int, _bool
Tensor.astype = _astype
Tensor.cpu, Tensor.cuda = _cpu, _cuda
Tensor.clone = _clone


def float_tensor(x, op):
    """x itself when it is a float tensor; integers cast to the default float dtype;
    booleans refused with a DTypeError naming `op`."""
    if x.dtype.kind == "f":
        return x
    backend.float_array(x.array, op)  # raises for bool
    return _to(x, backend.get_default_dtype())


# ---------------------------------------------------------------- float16 in float32

def _as_float32(value):
    """A float16 Tensor or array as float32 (a Tensor: differentiably); others unchanged."""
    if getattr(value, "dtype", None) != backend.float16:
        return value
    return _to(value, backend.float32) if isinstance(value, Tensor) else value.astype(backend.float32)


def _as_float16(value):
    """The float results of a float32 computation rounded back to float16 (tuples too)."""
    if isinstance(value, tuple):
        return type(value)(*map(_as_float16, value)) if hasattr(value, "_fields") else \
            tuple(map(_as_float16, value))
    if isinstance(value, Tensor) and value.dtype.kind == "f":
        return _to(value, backend.float16)
    return value


def in_float32(fn, *args, **kwargs):
    """fn computed with its float16 tensor arguments as float32, float results rounded
    to float16: how reductions, norms and variances of float16 tensors accumulate, as
    PyTorch's do on the CPU (a float16 sum overflows at 65504, a float16 square at 256).
    Differentiable: the casts are in the graph, so the backward runs in float32 too."""
    args = [_as_float32(a) for a in args]
    kwargs = {k: _as_float32(v) for k, v in kwargs.items()}
    return _as_float16(fn(*args, **kwargs))


def float16_in_float32(fn):
    """Decorator: a float16 first argument (the input) makes `fn` run in_float32; any
    other dtype costs one comparison."""
    @functools.wraps(fn)
    def wrapper(input, *args, **kwargs):
        if getattr(input, "dtype", None) == backend.float16:
            return in_float32(fn, input, *args, **kwargs)
        return fn(input, *args, **kwargs)
    return wrapper


# ---------------------------------------------------------------- functions of several tensors

_NOTHING = object()


def where(condition, input=_NOTHING, other=_NOTHING):
    """input where condition is True, other elsewhere (differentiable in both).
    ``where(condition)`` alone is ``condition.nonzero(as_tuple=True)``, as torch."""
    if input is _NOTHING and other is _NOTHING:
        return tensor_arg(condition, "where").nonzero(as_tuple=True)
    if input is _NOTHING or other is _NOTHING:
        raise TypeError("where: give where(condition) or where(condition, input, other)")
    tensors = [t for t in (input, other) if isinstance(t, Tensor)]
    # the device comes from a tensor with axes (a 0-d cpu tensor goes with any device)
    ref = next((t for t in tensors if t.ndim), tensors[0] if tensors else None)
    if ref is None:
        ref = Tensor._make(as_array(input))
    cond = condition.array if isinstance(condition, Tensor) else as_array(condition, device=ref.device)
    cond = backend.follow_device(cond, ref.device, "where", "the condition")
    a, b = _operand(input, ref, "where"), _operand(other, ref, "where")
    return Where.apply(*_promote(a, b), cond=cond)


def _reference(items):
    """The first Tensor among `items` (or the first item as one): operands take its
    device and, for Python scalars, its dtype."""
    for t in items:
        if isinstance(t, Tensor):
            return t
    return Tensor._make(as_array(items[0]))


def _common_dtype(tensors):
    """The tensors cast to the dtype PyTorch's cat/stack give them together."""
    dtype = tensors[0].array.dtype
    for t in tensors[1:]:
        dtype = backend.promote_types(dtype, t.array.dtype)
    return [_cast(t, dtype) for t in tensors]


def cat(tensors, axis=None, *, dim=None):
    """Concatenate along an existing axis (``concat`` is the same function)."""
    tensors = list(tensors)
    if not tensors:
        raise ShapeError("cat: expected a non-empty sequence of tensors")
    ref = _reference(tensors)
    tensors = [_operand(t, ref, "cat") for t in tensors]
    axis = _pick(axis, dim, "axis", "dim", 0)
    if len({t.ndim for t in tensors}) != 1:
        raise ShapeError(f"cat: tensors have different numbers of dims: {[t.shape for t in tensors]}")
    axis = normalize_axes(axis, ref.ndim, "cat")[0]
    if len(tensors) == 1:
        return tensors[0]
    return Cat.apply(*_common_dtype(tensors), axis=axis)


def stack(tensors, axis=None, *, dim=None):
    """Join along a new axis."""
    tensors = list(tensors)
    if not tensors:
        raise ShapeError("stack: expected a non-empty sequence of tensors")
    axis = _pick(axis, dim, "axis", "dim", 0)
    ref = _reference(tensors)
    tensors = [_operand(t, ref, "stack") for t in tensors]
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ShapeError(f"stack: all tensors must have the same shape, got {[t.shape for t in tensors]}")
    return Cat.apply(*[_unsqueeze(t, axis) for t in _common_dtype(tensors)],
                     axis=normalize_axes(axis, ref.ndim + 1, "stack")[0])


# ---------------------------------------------------------------- the PyTorch names users reach for
# (sorting, scans, products, linear algebra, masks and scatters, constructors from a
# tensor, layout queries). Each is a primitive of ops/ or a composition of primitives,
# with PyTorch's argument names, defaults and return types.

from .ops.indexing import IndexAdd  # noqa: E402
from .ops.linalg import Einsum  # noqa: E402
from .ops.scan import CumProd, CumSum  # noqa: E402
from .ops.special import Cos, Erf, Log1p, Rounding, Sin, Softplus, XLogY  # noqa: E402

SortResult = namedtuple("sort", ["values", "indices"])
TopkResult = namedtuple("topk", ["values", "indices"])


def _one_dim(dim, ndim, op):
    """A single dim (PyTorch's `dim` of sort, cumsum, ...) as a non-negative int; a 0-d
    tensor takes 0 or -1."""
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    axes = normalize_axes(dim, ndim, op)
    return axes[0] if axes else 0


def _as_index_array(index, device, op):
    """An integer index (Tensor, array or list) as a backend array on `device`."""
    if isinstance(index, Tensor):
        index = index.array
    elif not backend.is_array(index):
        index = backend.host_array(index)
    if index.dtype.kind not in "iu":
        raise DTypeError(f"{op}: index must be an integer tensor, got {index.dtype}")
    return backend.follow_device(index, device, op, "the index")


def _argsort_array(a, axis, descending):
    """Stable argsort of array `a` along `axis`; descending keeps equal elements in
    their original order too (the ascending sort of the reversed axis, reversed), and
    puts nan first, as PyTorch does."""
    mod = backend.array_module(a)
    if a.dtype.kind == "b":
        a = a.astype(backend.int32)
    if not descending:
        return backend.argsort_stable(a, axis)
    n = a.shape[axis]
    idx = backend.argsort_stable(mod.flip(a, axis), axis)
    return (n - 1) - mod.flip(idx, axis)


def _argsort(self, dim=-1, descending=False, stable=False):
    """The indices that sort the tensor along `dim` (int64): ``x.gather(dim,
    x.argsort(dim)) == x.sort(dim).values``. The sort is always stable."""
    if self.ndim == 0:
        _one_dim(dim, 0, "argsort")
        return Tensor._make(backend.array_module(self.array).zeros((), dtype=backend.int64))
    axis = _one_dim(dim, self.ndim, "argsort")
    idx = _argsort_array(self.array, axis, descending)
    return Tensor._make(idx.astype(backend.int64, copy=False))


def _sort(self, dim=-1, descending=False, stable=False):
    """(values, indices) sorted along `dim`, ascending unless `descending`; values =
    gather(x, dim, indices), so the gradient goes back to where each value came from:
        dx[indices[i]] += dvalues[i]
    The sort is stable (equal elements keep their order) whatever `stable` says; nan
    counts as the largest value, as in PyTorch."""
    indices = _argsort(self, dim, descending)
    if self.ndim == 0:
        return SortResult(self[...], indices)
    axis = _one_dim(dim, self.ndim, "sort")
    return SortResult(_gather(self, axis, indices), indices)


def _topk(self, k, dim=-1, largest=True, sorted=True):
    """(values, indices) of the k largest (``largest=False``: smallest) elements along
    `dim`, in sorted order (also when ``sorted=False``, which PyTorch allows);
    values = gather(x, dim, indices), so  dx[indices[i]] += dvalues[i]."""
    axis = _one_dim(dim, self.ndim, "topk")
    n = self.shape[axis] if self.ndim else 1
    if not isinstance(k, int) or not 0 <= k <= n:
        raise OutOfRangeError(f"topk: k={k!r} is out of range for a dim of size {n}")
    if self.ndim == 0:
        return TopkResult(self[...], _argsort(self)) if k else \
            TopkResult(self.reshape(1)[:0].reshape(0), _argsort(self).reshape(1)[:0])
    idx = _argsort_array(self.array, axis, largest)
    idx = idx[(slice(None),) * axis + (slice(0, k),)].astype(backend.int64, copy=False)
    indices = Tensor._make(idx)
    return TopkResult(_gather(self, axis, indices), indices)


Tensor.argsort = _argsort
Tensor.sort = _sort
Tensor.topk = _topk


def _scan(cls, name, formula):
    def method(self, dim=None, *, dtype=None, axis=None):
        dim = _pick(dim, axis, "dim", "axis")
        if dim is None:
            raise TypeError(f"{name}: missing the dim to accumulate along")
        x = self if dtype is None else _to(self, dtype)
        if x.ndim == 0:
            _one_dim(dim, 0, name)
            return cls.apply(x.reshape(1), axis=0).reshape(())
        return cls.apply(x, axis=_one_dim(dim, x.ndim, name))
    method.__name__ = name
    method.__doc__ = formula
    return method


Tensor.cumsum = _scan(CumSum, "cumsum", """Cumulative sum along `dim` (int64 for integer
    and bool tensors; ``dtype=`` casts first):
        y_k = sum_{j <= k} x_j,   dx_k = sum_{j >= k} dy_j""")
Tensor.cumprod = _scan(CumProd, "cumprod", """Cumulative product along `dim` (int64 for
    integer and bool tensors; ``dtype=`` casts first):
        y_k = prod_{j <= k} x_j,  dx_k = sum_{j >= k} dy_j prod_{i <= j, i != k} x_i
    (exact where x has zeros)""")


def _prod(self, dim=None, keepdim=False, *, dtype=None):
    """The product of all elements, or along one `dim` (int64 for integer and bool
    tensors): the last element of cumprod, so the gradient is exact at zeros:
        dx_k = dy * prod_{i != k} x_i"""
    x = self if dtype is None else _to(self, dtype)
    if dim is None:
        x = x.reshape(-1)
        axis = 0
    else:
        axis = _one_dim(dim, x.ndim, "prod")
        if x.ndim == 0:
            x = x.reshape(1)
    n = x.shape[axis]
    if n == 0:
        mod = backend.array_module(x.array)
        shape = kept_shape_of(x.shape, axis) if keepdim and dim is not None else \
            tuple(m for i, m in enumerate(x.shape) if i != axis)
        dt = backend.int64 if x.dtype.kind in "biu" else x.dtype
        return Tensor._make(mod.ones(shape, dtype=dt))
    out = _narrow(CumProd.apply(x, axis=axis), axis, n - 1, 1)
    if dim is None:
        return out.reshape(())
    if self.ndim == 0:
        return out.reshape(())
    return out if keepdim else _squeeze(out, axis)


def kept_shape_of(shape, axis):
    return tuple(1 if i == axis else n for i, n in enumerate(shape))


Tensor.prod = _prod


def _norm(self, p="fro", dim=None, keepdim=False, dtype=None):
    """The p-norm over all elements or over `dim` (an int or a tuple):
        p = 2 or "fro":  sqrt(sum x^2)     p = 1: sum |x|     p = inf / -inf: max / min |x|
        p = 0: the count of nonzero elements        other p: (sum |x|^p)^(1/p)
    The gradient of a norm that is 0 is 0 (as PyTorch), not nan. Integers are refused,
    as in PyTorch; ``dtype=`` casts first."""
    if dtype is not None:
        self = _to(self, dtype)
    if self.dtype.kind != "f":
        raise DTypeError(f"norm: expected a float tensor, got {self.dtype}")
    if p == "nuc":
        raise NotImplementedError("norm: the nuclear norm is not implemented")
    if p is None or p == "fro":
        p = 2
    if not isinstance(p, (int, float)) or isinstance(p, bool):
        raise ValueError(f"norm: unsupported order p={p!r}")
    kw = dict(axis=dim, keepdims=bool(keepdim))
    if p == float("inf"):
        return Max.apply(Abs.apply(self), **kw)
    if p == float("-inf"):
        return Min.apply(Abs.apply(self), **kw)
    if p == 0:
        return Tensor._make((self.array != 0).sum(**kw).astype(self.dtype))
    if p == 1:
        return Sum.apply(Abs.apply(self), **kw)
    powered = PowScalar.apply(self, p=2) if p == 2 else PowScalar.apply(Abs.apply(self), p=p)
    s = Sum.apply(powered, **kw)
    zero = s.array == 0
    if not bool(zero.any()):
        return PowScalar.apply(s, p=1.0 / p) if p != 2 else Sqrt.apply(s)
    # where the norm is 0 its gradient is 0: take the root of 1 there and put 0 back
    safe = Where.apply(_cast(_operand(1.0, s, "norm"), s.dtype), s, cond=zero)
    root = PowScalar.apply(safe, p=1.0 / p) if p != 2 else Sqrt.apply(safe)
    return Where.apply(_cast(_operand(0.0, s, "norm"), s.dtype), root, cond=zero)


Tensor.norm = _norm


def _repeat(self, *sizes):
    """Tile the tensor: ``x.repeat(2, 3)`` repeats rows twice and columns three times
    (PyTorch's repeat; extra leading sizes add dims). An expand and a reshape, so
    dx = dy summed over the copies."""
    sizes = _shape_args(sizes, "repeat")
    if len(sizes) < self.ndim:
        raise ShapeError(f"repeat: {len(sizes)} sizes for a tensor with {self.ndim} dims")
    shape = (1,) * (len(sizes) - self.ndim) + tuple(self.shape)
    interleaved, target, final = [], [], []
    for r, n in zip(sizes, shape):
        interleaved += [1, n]
        target += [r, n]
        final.append(r * n)
    x = _reshape(self, tuple(interleaved))
    return _reshape(_expand(x, tuple(target)), tuple(final))


def _narrow(self, dim, start, length):
    """The slice [start, start + length) along `dim` (a view): x.narrow(0, 1, 2) ==
    x[1:3]; a negative start counts from the end."""
    axis = _one_dim(dim, self.ndim, "narrow")
    start = int(start)
    n = self.shape[axis]
    if start < 0:
        start += n
    if not 0 <= start <= n or length < 0 or start + length > n:
        raise OutOfRangeError(f"narrow: start {start} and length {length} are out of range "
                              f"for a dim of size {n}")
    return _getitem(self, (slice(None),) * axis + (slice(start, start + length),))


def _unflatten(self, dim, sizes):
    """Split dim `dim` into `sizes` (one may be -1): x.unflatten(1, (2, 3))."""
    axis = _one_dim(dim, self.ndim, "unflatten")
    sizes = _shape_args((sizes,), "unflatten")
    shape = tuple(self.shape)
    if -1 in sizes:
        known = 1
        for s in sizes:
            if s != -1:
                known *= s
        sizes = tuple(shape[axis] // known if s == -1 and known else s for s in sizes)
    total = 1
    for s in sizes:
        total *= s
    if total != shape[axis]:
        raise ShapeError(f"unflatten: sizes {sizes} do not multiply to {shape[axis]}")
    return _reshape(self, shape[:axis] + sizes + shape[axis + 1:])


def _flip(self, *dims):
    """Reverse the order of elements along `dims` (a tuple or several ints)."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    axes = normalize_axes(tuple(dims), self.ndim, "flip") if dims else ()
    if not axes:
        return _getitem(self, ...)
    index = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(self.ndim))
    return _getitem(self, index)


def _roll(self, shifts, dims=None):
    """Shift elements along `dims` by `shifts`, those falling off the end coming back
    at the start (dims=None: over the flattened tensor, the shape kept)."""
    if dims is None:
        if not isinstance(shifts, int):
            if len(shifts) != 1:
                raise ShapeError("roll: one shift without dims")
            shifts = shifts[0]
        return _roll(_reshape(self, (-1,) if self.ndim else (1,)), shifts, 0).reshape(self.shape)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise ShapeError(f"roll: {len(shifts)} shifts for {len(dims)} dims")
    out = self
    for s, d in zip(shifts, dims):
        axis = _one_dim(d, self.ndim, "roll")
        n = self.shape[axis]
        s = s % n if n else 0
        if s:
            lead = (slice(None),) * axis
            out = cat([_getitem(out, lead + (slice(n - s, n),)),
                       _getitem(out, lead + (slice(0, n - s),))], axis)
    return out


Tensor.repeat = _repeat
Tensor.narrow = _narrow
Tensor.unflatten = _unflatten
Tensor.flip = _flip
Tensor.roll = _roll


def _triangle(self, diagonal, lower, op):
    if self.ndim < 2:
        raise ShapeError(f"{op}: expected a tensor with at least 2 dims, got shape {self.shape}")
    mod = backend.array_module(self.array)
    n, m = self.shape[-2:]
    keep = mod.tri(n, m, diagonal, dtype=bool)
    if not lower:
        keep = ~mod.tri(n, m, diagonal - 1, dtype=bool)
    zero = Tensor._make(mod.zeros((), dtype=self.dtype))
    return Where.apply(self, zero, cond=keep)


def _tril(self, diagonal=0):
    """The lower triangle of the last two dims (j - i <= diagonal), zeros above:
    y = where(j - i <= diagonal, x, 0),  dx = dy there, 0 elsewhere"""
    return _triangle(self, diagonal, True, "tril")


def _triu(self, diagonal=0):
    """The upper triangle of the last two dims (j - i >= diagonal), zeros below:
    y = where(j - i >= diagonal, x, 0),  dx = dy there, 0 elsewhere"""
    return _triangle(self, diagonal, False, "triu")


def _diag(self, diagonal=0):
    """A 1-D tensor gives the square matrix with it on diagonal `diagonal`; a 2-D
    tensor gives that diagonal as a 1-D tensor (a gather; its adjoint a scatter)."""
    mod = backend.array_module(self.array)
    k = int(diagonal)
    if self.ndim == 1:
        n = self.shape[0]
        size = n + abs(k)
        rows = mod.arange(n) + max(-k, 0)
        cols = mod.arange(n) + max(k, 0)
        return IndexAdd.apply(self, shape=(size, size), index=(rows, cols))
    if self.ndim == 2:
        n, m = self.shape
        length = max(0, min(n + min(k, 0), m - max(k, 0)))
        rows = mod.arange(length) + max(-k, 0)
        cols = mod.arange(length) + max(k, 0)
        return _getitem(self, (rows, cols))
    raise ShapeError(f"diag: expected a 1-D or 2-D tensor, got shape {self.shape}")


Tensor.tril = _tril
Tensor.triu = _triu
Tensor.diag = _diag
Tensor.tril_ = _inplace(_tril, "tril_")
Tensor.triu_ = _inplace(_triu, "triu_")


def _fill_value(value, like, op):
    """A Python number or 0-d tensor as a 0-d tensor of `like`'s dtype (the fills of
    masked_fill, scatter, index_fill keep the tensor's dtype, as in PyTorch)."""
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ShapeError(f"{op}: the value must be a number or a 0-d tensor, got shape "
                             f"{value.shape}")
        return _cast(value, like.dtype) if value.device == like.device else \
            _to(value, like.dtype, like.device)
    mod = backend.array_module(like.array)
    return Tensor._make(mod.asarray(value, dtype=like.dtype))


_masked_fill_in_place = _inplace(_masked_fill, "masked_fill_")


def _masked_fill_(self, mask, value):
    """Fill with `value` (in self's dtype) where `mask` (a bool tensor broadcasting to
    self) is True, in place; the gradient through the kept elements is dy, 0 where
    filled."""
    return _masked_fill_in_place(self, mask, _fill_value(value, self, "masked_fill_"))


def _masked_select(self, mask):
    """The elements where `mask` is True, as a 1-D tensor (self and mask broadcast
    together first); dx = dy scattered back to those places."""
    cond = mask.array if isinstance(mask, Tensor) else as_array(mask, device=self.device)
    if cond.dtype.kind != "b":
        raise DTypeError(f"masked_select: the mask must be a bool tensor, got {cond.dtype}")
    cond = backend.follow_device(cond, self.device, "masked_select", "the mask")
    mod = backend.array_module(cond)
    try:
        shape = backend.xp("cpu").broadcast_shapes(tuple(self.shape), cond.shape)
    except ValueError:
        raise ShapeError(f"masked_select: mask of shape {cond.shape} does not broadcast with "
                         f"shape {tuple(self.shape)}") from None
    x = _expand(self, shape) if tuple(self.shape) != shape else self
    return _getitem(x, mod.broadcast_to(cond, shape))


Tensor.masked_fill_ = _masked_fill_
Tensor.masked_select = _masked_select


def _scatter_index(self, dim, index, op):
    """(axis, index array, the advanced index that puts element i of index at
    self[..., index[i], ...]) for scatter/gather-style ops."""
    axis = _one_dim(dim, self.ndim, op)
    index = _as_index_array(index, self.device, op)
    if index.ndim != self.ndim and not (self.ndim == 0 and index.ndim <= 1):
        raise ShapeError(f"{op}: index has {index.ndim} dims, the tensor {self.ndim}")
    for d in range(index.ndim):
        if d != axis and index.shape[d] > self.shape[d]:
            raise ShapeError(f"{op}: index shape {index.shape} is larger than the tensor's "
                             f"{tuple(self.shape)} in dim {d}")
    mod = backend.array_module(index)
    grids = [mod.arange(n).reshape((1,) * d + (n,) + (1,) * (index.ndim - d - 1))
             for d, n in enumerate(index.shape)]
    grids[axis] = index
    return axis, index, tuple(grids)


def _src_part(src, index, op):
    """src cut to index's shape (PyTorch reads only that corner of src)."""
    if src.ndim != index.ndim:
        raise ShapeError(f"{op}: src has {src.ndim} dims, index {index.ndim}")
    if tuple(src.shape) == index.shape:
        return src
    if any(i > s for i, s in zip(index.shape, src.shape)):
        raise ShapeError(f"{op}: index shape {index.shape} is larger than src's {tuple(src.shape)}")
    return _getitem(src, tuple(slice(0, n) for n in index.shape))


def _scatter(self, dim, index, src=None, *, value=None, reduce=None):
    """A copy of self with src's elements written at the places index names along
    `dim` (for dim 0: out[index[i][j]][j] = src[i][j]); `src` may be a number (or
    ``value=``). Repeated indices: one of the writes wins.
        dself = dy with the written places zeroed,  dsrc = gather(dy, dim, index)
    ``reduce="add"`` is scatter_add; "multiply" is not implemented."""
    if reduce is not None:
        if reduce == "add":
            return _scatter_add(self, dim, index, src if src is not None else value)
        raise NotImplementedError(f"scatter: reduce={reduce!r} is not implemented")
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter: give src (a tensor) or value (a number)")
    axis, index, grids = _scatter_index(self, dim, index, "scatter")
    if isinstance(src, Tensor):
        v = _src_part(_cast(src, self.dtype), index, "scatter")
    else:
        v = _fill_value(src, self, "scatter")
    if index.size == 0:
        return _getitem(self, ...) if self.requires_grad else self.clone()
    return SetItem.apply(self, v, index=grids)


def _scatter_add(self, dim, index, src):
    """self plus src's elements added at the places index names along `dim`
    (for dim 0: out[index[i][j]][j] += src[i][j]; repeats add up).
        dself = dy,  dsrc = gather(dy, dim, index)"""
    axis, index, grids = _scatter_index(self, dim, index, "scatter_add")
    if not isinstance(src, Tensor):
        src = tensor_arg(src, "scatter_add", "src", like=self)
    v = _src_part(_cast(src, self.dtype), index, "scatter_add")
    return self + IndexAdd.apply(v, shape=tuple(self.shape), index=grids)


def _index_fill(self, dim, index, value):
    """A copy of self with the slices `index` (1-D) along `dim` set to `value`;
    dx = dy with those slices zeroed."""
    axis = _one_dim(dim, self.ndim, "index_fill")
    index = _as_index_array(index, self.device, "index_fill").reshape(-1)
    return SetItem.apply(self, _fill_value(value, self, "index_fill"),
                         index=(slice(None),) * axis + (index,))


Tensor.scatter = _scatter
Tensor.scatter_add = _scatter_add
Tensor.scatter_ = _inplace(_scatter, "scatter_")
Tensor.scatter_add_ = _inplace(_scatter_add, "scatter_add_")
Tensor.index_fill = _index_fill
Tensor.index_fill_ = _inplace(_index_fill, "index_fill_")


def _check_dims(t, ndim, op, name):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if t.ndim != ndim:
        raise ShapeError(f"{op}: {name} must have {ndim} dims, got shape {tuple(t.shape)}")


def _mm(self, mat2):
    """The matrix product of two 2-D tensors: y = a @ b, da = dy b^T, db = a^T dy"""
    _check_dims(self, 2, "mm", "input")
    _check_dims(mat2, 2, "mm", "mat2")
    return Tensor.__matmul__(self, mat2)


def _bmm(self, mat2):
    """Batched matrix product of (b, n, m) and (b, m, p) tensors (no broadcasting):
    y[i] = a[i] @ b[i]"""
    _check_dims(self, 3, "bmm", "input")
    _check_dims(mat2, 3, "bmm", "mat2")
    if self.shape[0] != mat2.shape[0]:
        raise ShapeError(f"bmm: batch sizes {self.shape[0]} and {mat2.shape[0]} differ")
    return Tensor.__matmul__(self, mat2)


def _scaled_sum(self, product, beta, alpha):
    product = product if alpha == 1 else product * alpha
    if beta == 0:          # PyTorch ignores input then (nan and inf in it do not propagate)
        if not self.requires_grad:
            return product
        # ... and gives it a zero gradient: where(False, input, product)
        never = backend.array_module(product.array).zeros(tuple(product.shape), dtype=bool)
        return Where.apply(*_promote(self, product), cond=never)
    return (self if beta == 1 else self * beta) + product


def _addmm(self, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2), input broadcasting to the product"""
    return _scaled_sum(self, _mm(mat1, mat2), beta, alpha)


def _baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * bmm(batch1, batch2)"""
    return _scaled_sum(self, _bmm(batch1, batch2), beta, alpha)


def _dot(self, other):
    """The inner product of two 1-D tensors of one length: sum_i a_i b_i (a 0-d tensor)"""
    _check_dims(self, 1, "dot", "input")
    _check_dims(other, 1, "dot", "tensor")
    if self.shape[0] != other.shape[0]:
        raise ShapeError(f"dot: lengths {self.shape[0]} and {other.shape[0]} differ")
    return Tensor.__matmul__(self, other)


def _outer(self, vec2):
    """The outer product of two 1-D tensors: y[i, j] = a[i] * b[j]"""
    _check_dims(self, 1, "outer", "input")
    _check_dims(vec2, 1, "outer", "vec2")
    return _reshape(self, (-1, 1)) * _reshape(vec2, (1, -1))


def _t(self):
    """The transpose of a tensor with at most 2 dims (0-d and 1-D come back as they are)."""
    if self.ndim > 2:
        raise ShapeError(f"t: expects a tensor with at most 2 dims, got shape {tuple(self.shape)}")
    return _transpose(self, 0, 1) if self.ndim == 2 else self


Tensor.mm = _mm
Tensor.bmm = _bmm
Tensor.addmm = _addmm
Tensor.baddbmm = _baddbmm
Tensor.dot = _dot
Tensor.outer = Tensor.ger = _outer
Tensor.t = _t


def _einsum_expand(equation, shapes):
    """The equation made explicit: "..." replaced by letters (right-aligned, as
    broadcasting), the implicit output (the letters used once, sorted) written out."""
    equation = equation.replace(" ", "")
    if "->" in equation:
        lhs, out = equation.split("->")
        explicit = True
    else:
        lhs, out, explicit = equation, "", False
    subs = lhs.split(",")
    if len(subs) != len(shapes):
        raise ShapeError(f"einsum: the equation {equation!r} names {len(subs)} operands, "
                         f"{len(shapes)} given")
    spare = [c for c in "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA"
             if c not in equation]
    n_ell = 0
    for sub, shape in zip(subs, shapes):
        if "..." in sub:
            n_ell = max(n_ell, len(shape) - (len(sub) - 3))
    ell = "".join(spare[:n_ell][::-1])
    new_subs = []
    for sub, shape in zip(subs, shapes):
        if "..." in sub:
            k = len(shape) - (len(sub) - 3)
            sub = sub.replace("...", ell[n_ell - k:] if k else "")
        if not sub.isalpha() and sub:
            raise ValueError(f"einsum: subscripts must be letters, got {sub!r}")
        new_subs.append(sub)
    if explicit:
        out = out.replace("...", ell)
    else:
        letters = "".join(new_subs)
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1
                                   and c not in ell))
    return new_subs, out


def einsum(equation, *operands):
    """Sums of products by subscripts, as torch.einsum: ``einsum("ij,jk->ik", a, b)``
    (also the implicit form "ij,jk", "..." for leading dims, and the operands as one
    list). Size-1 dims broadcast. One Einsum primitive:
        dx_i = einsum(dy, the other operands -> x_i's subscripts)"""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ShapeError("einsum: no operands")
    ref = _reference(operands)
    tensors = _common_dtype([_operand(t, ref, "einsum") for t in operands])
    subs, out = _einsum_expand(equation, [t.shape for t in tensors])
    sizes = {}
    for sub, t in zip(subs, tensors):
        if len(sub) != t.ndim:
            raise ShapeError(f"einsum: subscripts {sub!r} for an operand of shape "
                             f"{tuple(t.shape)}")
        for c, n in zip(sub, t.shape):
            if sizes.get(c, 1) == 1:
                sizes[c] = n
            elif n not in (1, sizes[c]):
                raise ShapeError(f"einsum: letter {c!r} has sizes {sizes[c]} and {n}")
    tensors = [_expand(t, tuple(sizes[c] for c in sub)) if any(
        sizes[c] != n for c, n in zip(sub, t.shape)) else t for sub, t in zip(subs, tensors)]
    if len(set(out)) != len(out) or any(c not in sizes for c in out):
        raise ShapeError(f"einsum: bad output subscripts {out!r}")
    return Einsum.apply(*tensors, equation=",".join(subs) + "->" + out)


# ---- elementwise

def _rsqrt(self):
    """1 / sqrt(x) (integers give the default float dtype): y = x^(-1/2),
    dx = -dy x^(-3/2) / 2"""
    return PowScalar.apply(float_tensor(self, "rsqrt"), p=-0.5)


def _erf(self):
    """The error function: y = 2 / sqrt(pi) * integral_0^x exp(-t^2) dt,
    dx = dy * 2 / sqrt(pi) * exp(-x^2)"""
    return Erf.apply(self)


def _sin(self):
    """sin(x) (integers give the default float dtype); dx = dy cos(x)"""
    return Sin.apply(float_tensor(self, "sin"))


def _cos(self):
    """cos(x) (integers give the default float dtype); dx = -dy sin(x)"""
    return Cos.apply(float_tensor(self, "cos"))


def _softplus(self, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold:
    dx = dy * sigmoid(beta x) (dy above the threshold)"""
    return Softplus.apply(self, beta=beta, threshold=threshold)


def _isnan(self):
    """True where the element is nan (a bool tensor; integers are never nan)."""
    mod = backend.array_module(self.array)
    return Tensor._make(mod.asarray(mod.isnan(self.array)))


def _isinf(self):
    """True where the element is +inf or -inf (a bool tensor)."""
    mod = backend.array_module(self.array)
    return Tensor._make(mod.asarray(mod.isinf(self.array)))


def _isfinite(self):
    """True where the element is neither inf nor nan (a bool tensor)."""
    mod = backend.array_module(self.array)
    return Tensor._make(mod.asarray(mod.isfinite(self.array)))


def _nan_to_num(self, nan=0.0, posinf=None, neginf=None):
    """nan replaced by `nan`, +inf by `posinf`, -inf by `neginf` (default: the largest
    and lowest finite values of the dtype):  dx = dy where x is finite, 0 elsewhere"""
    if self.dtype.kind != "f":
        return _to(self, copy=True)
    mod = backend.array_module(self.array)
    replaced = mod.asarray(mod.nan_to_num(self.array, nan=nan, posinf=posinf, neginf=neginf))
    return Where.apply(self, Tensor._make(replaced), cond=mod.asarray(mod.isfinite(self.array)))


Tensor.rsqrt = _rsqrt
Tensor.erf = _erf
Tensor.sin = _sin
Tensor.cos = _cos
Tensor.softplus = _softplus
Tensor.isnan = _isnan
Tensor.isinf = _isinf
Tensor.isfinite = _isfinite
Tensor.nan_to_num = _nan_to_num
Tensor.nan_to_num_ = _inplace(_nan_to_num, "nan_to_num_")
Tensor.masked_fill.__doc__ = _masked_fill.__doc__


def _compare(dunder, name, symbol):
    op = getattr(Tensor, dunder)

    def method(self, other):
        return op(self, other)
    method.__name__ = name
    method.__doc__ = f"self {symbol} other elementwise (a bool tensor, not differentiable)"
    return method


for _name, _dunder, _symbol in (("eq", "__eq__", "=="), ("ne", "__ne__", "!="),
                                ("lt", "__lt__", "<"), ("le", "__le__", "<="),
                                ("gt", "__gt__", ">"), ("ge", "__ge__", ">=")):
    setattr(Tensor, _name, _compare(_dunder, _name, _symbol))
Tensor.greater, Tensor.less, Tensor.not_equal = Tensor.gt, Tensor.lt, Tensor.ne
Tensor.greater_equal, Tensor.less_equal = Tensor.ge, Tensor.le


def _where_method(self, condition, y):
    """x.where(condition, y) == ts.where(condition, x, y): x where condition is True,
    y elsewhere (differentiable in both)."""
    return where(condition, self, y)


def _nonzero(self, *, as_tuple=False):
    """The indices of the nonzero elements: an int64 tensor of shape (n, ndim), or with
    ``as_tuple=True`` one 1-D tensor per dim (x[x.nonzero(as_tuple=True)] are the
    nonzero values)."""
    mod = backend.array_module(self.array)
    a = self.array if self.ndim else self.array.reshape(1)
    found = [i.astype(backend.int64, copy=False) for i in mod.nonzero(a)]
    if self.ndim == 0:
        if as_tuple:
            return (Tensor._make(found[0] * 0),)
        return Tensor._make(mod.zeros((found[0].shape[0], 0), dtype=backend.int64))
    if as_tuple:
        return tuple(Tensor._make(i) for i in found)
    return Tensor._make(mod.stack(found, axis=1) if found else
                        mod.zeros((0, 0), dtype=backend.int64))


Tensor.where = _where_method
Tensor.nonzero = _nonzero


# ---- constructors from a tensor and layout queries

def _new(self, shape, fill, dtype, device, requires_grad):
    dtype = self.dtype if dtype is None else backend.dtype(dtype)
    device = self.device if device is None else backend.check_device(device)
    out = Tensor._make(backend.xp(device).full(shape, fill, dtype=dtype))
    return out.requires_grad_(True) if requires_grad else out


def _new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
    """Zeros of `size` with self's dtype and device (unless given)."""
    return _new(self, _shape_args(size, "new_zeros"), 0, dtype, device, requires_grad)


def _new_ones(self, *size, dtype=None, device=None, requires_grad=False):
    """Ones of `size` with self's dtype and device (unless given)."""
    return _new(self, _shape_args(size, "new_ones"), 1, dtype, device, requires_grad)


def _new_empty(self, *size, dtype=None, device=None, requires_grad=False):
    """A tensor of `size` with self's dtype and device (its values are zeros here;
    PyTorch leaves them uninitialised)."""
    return _new(self, _shape_args(size, "new_empty"), 0, dtype, device, requires_grad)


def _new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """`fill_value` everywhere, of `size`, with self's dtype and device (unless given)."""
    return _new(self, _shape_args((size,), "new_full"), fill_value, dtype, device,
                requires_grad)


def _new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    """A new tensor (a copy) of `data` with self's dtype and device unless given."""
    dtype = self.dtype if dtype is None else dtype
    device = self.device if device is None else device
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, device=device)   # dtype given


def _type_as(self, other):
    """self cast to other's dtype (differentiable)."""
    return _to(self, other.dtype)


def _stride(self, dim=None):
    """The strides in elements (the backend array's byte strides / itemsize): a tuple,
    or the stride of `dim`."""
    size = self.array.dtype.itemsize
    strides = tuple(s // size for s in self.array.strides)
    if dim is None:
        return strides
    if not self.ndim:
        raise OutOfRangeError(f"stride: dim {dim} of a 0-d tensor")
    return strides[_one_dim(dim, self.ndim, "stride")]


def _is_contiguous(self, memory_format=None):
    """Whether the elements lie in memory in row-major order without gaps."""
    return bool(self.array.flags.c_contiguous)


def _element_size(self):
    """The size of one element in bytes."""
    return self.array.dtype.itemsize


Tensor.new_zeros = _new_zeros
Tensor.new_ones = _new_ones
Tensor.new_empty = _new_empty
Tensor.new_full = _new_full
Tensor.new_tensor = _new_tensor
Tensor.type_as = _type_as
Tensor.stride = _stride
Tensor.is_contiguous = _is_contiguous
Tensor.element_size = _element_size


# ---------------------------------------------------------------- more of torch's names

def _log1p(self):
    """log(1 + x), accurate near 0 (the Log1p primitive)."""
    return Log1p.apply(self)


def _xlogy(self, other):
    """self * log(other), and 0 where self is 0 (unless other is nan), as torch.xlogy;
    broadcasts, promotes as ``*`` does, integers give the default float dtype.
    dx = dz log(y) (0 where x = 0 and y <= 0);  dy = dz x / y"""
    a, b = _promote(self, _operand(other, self, "xlogy"))
    return XLogY.apply(float_tensor(a, "xlogy"), float_tensor(b, "xlogy"))


def _rounding(mode):
    def method(self, *, decimals=0):
        if decimals and mode != "round":
            raise TypeError(f"{mode}() got an unexpected keyword argument 'decimals'")
        return Rounding.apply(self, mode=mode, decimals=decimals)
    method.__name__ = mode
    method.__doc__ = f"{mode}(x) elementwise (zero gradient, as torch)."
    return method


def _unbind(self, dim=0):
    """The slices along `dim`, as a tuple (torch.unbind)."""
    dim = _one_dim(dim, self.ndim, "unbind")
    return tuple(self[(slice(None),) * dim + (i,)] for i in range(self.shape[dim]))


def _isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|x - y| <= atol + rtol |y| elementwise, a bool tensor (no gradient)."""
    other = _operand(other, self, "isclose")
    x, y = _promote(self, other)
    a, b = x.array, y.array
    mod = backend.array_module(a)
    return Tensor._make(mod.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
               "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}


def _type(self, dtype=None, non_blocking=False, **kwargs):
    """``x.type()``: torch's type string with this package's name
    ('tinygrad_seq.FloatTensor'; 'tinygrad_seq.cuda.FloatTensor' on the GPU).
    ``x.type(dtype)``: a cast; a dtype, a legacy constructor (``ts.LongTensor``) or
    such a type string."""
    if dtype is None:
        prefix = "tinygrad_seq.cuda." if self.device != "cpu" else "tinygrad_seq."
        return prefix + _TYPE_NAMES.get(str(self.dtype), str(self.dtype))
    if isinstance(dtype, str):
        name = dtype.rsplit(".", 1)[-1]
        found = [k for k, v in _TYPE_NAMES.items() if v == name]
        if found:
            out = _to(self, dtype=backend.dtype(found[0]))
            return out.to("cuda") if ".cuda." in dtype else out
    legacy = getattr(dtype, "legacy_dtype", None)
    if legacy is not None:
        dtype = legacy
    return _to(self, dtype=dtype)


Tensor.log1p = _log1p
Tensor.xlogy = _xlogy
Tensor.floor, Tensor.ceil, Tensor.round = (_rounding("floor"), _rounding("ceil"),
                                           _rounding("round"))
Tensor.unbind = _unbind
Tensor.isclose = _isclose
Tensor.type = _type


def _is_cuda(self):
    """True when the tensor is on the GPU."""
    return self.device != "cpu"


Tensor.is_cuda = property(_is_cuda)
