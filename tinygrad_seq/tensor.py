"""Tensor's operators and methods. Each one checks and converts its arguments, then
calls a primitive of ``ops/`` (or composes a few). The Tensor class itself (data,
grad, backward) is in ``autograd.py``; this module attaches the API to it.

Conventions (DESIGN.md): ``axis=`` everywhere, ``dim=`` accepted as an alias;
``keepdims=`` with ``keepdim=`` as an alias; Python scalars take the tensor's dtype
(NumPy's weak-scalar promotion); arrays and Tensors promote as NumPy does.
"""
import operator
from collections import namedtuple

from . import backend
from .autograd import AutogradError, Tensor, as_array
from .modes import _state, no_grad
from .errors import DeviceError, DTypeError, OutOfRangeError, ShapeError
from .ops.elementwise import (Abs, Add, Clip, Div, Exp, Log, Maximum, Minimum, Mul, Neg, Pow,
                              PowScalar, Relu, Sigmoid, Sqrt, Sub, Tanh, Where)
from .ops.indexing import GetItem, SetItem
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


def _check_devices(a, b, op):
    """Tensors of one op share a device, except that a 0-d cpu tensor (a Python scalar
    made a tensor) goes with any, as in PyTorch."""
    if backend._cupy is not None:
        da, db = a.device, b.device
        if da != db and not (da == "cpu" and a.ndim == 0) and not (db == "cpu" and b.ndim == 0):
            raise DeviceError(f"{op}: tensors on two devices, {da} and {db}; move one with .to()")


def _operand(x, like, op):
    """Turn an operand into a Tensor: Tensors pass, arrays are wrapped (no copy; a host
    NumPy array meeting a GPU tensor is copied there, as a Python scalar is), Python
    scalars become scalars of the dtype NumPy gives `like` op scalar (weak scalars:
    float32 tensor * 2.0 stays float32)."""
    if isinstance(x, Tensor):
        if backend._cupy is not None:
            _check_devices(like, x, op)
        return x
    kind = type(x)
    if kind is float or kind is int or kind is bool:
        return Tensor._make(_scalar_dtype(like.array.dtype, kind).type(x))
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
    if da == db:
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
        if like is not None and backend._cupy is not None:
            _check_devices(like, x, op)
        return x
    try:
        return Tensor._make(as_array(x, device=None if like is None else like.device))
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {name} must be a Tensor or an array, got "
                        f"{type(x).__name__}") from None


def _binary(cls, op):
    def forward(self, other):
        if type(other) is Tensor and backend._cupy is None:   # the common case, inlined
            if self.array.dtype is other.array.dtype:
                return cls.apply(self, other)
        else:
            try:
                other = _operand(other, self, op)
            except TypeError:
                return NotImplemented   # let the other operand try (a RowSparseGrad, ...)
        return cls.apply(*_promote(self, other))

    def reflected(self, other):
        try:
            other = _operand(other, self, op)
        except TypeError:
            return NotImplemented
        return cls.apply(*_promote(other, self))
    forward.__name__, reflected.__name__ = f"__{op}__", f"__r{op}__"
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
    if type(exponent) in (int, float):
        if type(exponent) is float and self.array.dtype.kind not in "fc":
            self = _cast(self, backend.get_default_dtype())    # int ** 0.5 is float32
        return PowScalar.apply(self, p=exponent)
    return Pow.apply(*_promote(self, _operand(exponent, self, "pow")))


def _rpow(self, base):
    return Pow.apply(*_promote(_operand(base, self, "pow"), self))


Tensor.__pow__ = Tensor.pow = _pow
Tensor.__rpow__ = _rpow
Tensor.__neg__ = Tensor.neg = lambda self: Neg.apply(self)
Tensor.__abs__ = Tensor.abs = lambda self: Abs.apply(self)
Tensor.__pos__ = lambda self: self


def _untracked(fn_name, op):
    """Comparison and logical operators: results are never tracked (bool/int)."""
    def method(self, other):
        if other is None:
            return NotImplemented
        other = _operand(other, self, op)
        return Tensor._make(getattr(self.array, fn_name)(other.array))
    method.__name__ = fn_name
    return method


for _name in ("lt", "le", "gt", "ge", "eq", "ne", "and", "or", "xor", "floordiv", "mod"):
    setattr(Tensor, f"__{_name}__", _untracked(f"__{_name}__", _name))
for _name in ("and", "or", "xor", "floordiv", "mod"):
    setattr(Tensor, f"__r{_name}__", _untracked(f"__r{_name}__", _name))
Tensor.__invert__ = lambda self: Tensor._make(~self.array)
Tensor.__hash__ = lambda self: id(self)


def _logical_not(self):
    return Tensor._make(self.array == 0)


Tensor.logical_not = _logical_not


# ---------------------------------------------------------------- elementwise functions

Tensor.exp = lambda self: Exp.apply(self)
Tensor.log = lambda self: Log.apply(self)
Tensor.sqrt = lambda self: Sqrt.apply(self)
Tensor.tanh = lambda self: Tanh.apply(self)
Tensor.sigmoid = lambda self: Sigmoid.apply(self)
Tensor.relu = lambda self: Relu.apply(self)


def _square(self):
    return PowScalar.apply(self, p=2)


def _maximum(self, other):
    return Maximum.apply(*_promote(self, _operand(other, self, "maximum")))


def _minimum(self, other):
    return Minimum.apply(*_promote(self, _operand(other, self, "minimum")))


def _clip(self, min=None, max=None):
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
    return method


Tensor.sum = _reduction(Sum, "sum")
Tensor.amax = _reduction(Max, "amax")
Tensor.amin = _reduction(Min, "amin")
Tensor.amax.__doc__ = Max.__doc__
Tensor.amin.__doc__ = Min.__doc__

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
    axis = _pick(axis, dim, "axis", "dim")
    keepdims = bool(_pick(keepdims, keepdim, "keepdims", "keepdim", False))
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
    return method


Tensor.argmax = _arg("argmax")
Tensor.argmin = _arg("argmin")
Tensor.any = lambda self, axis=None, keepdims=False: Tensor._make(
    backend.array_module(self.array).asarray(self.array.any(axis=axis, keepdims=keepdims)))
Tensor.all = lambda self, axis=None, keepdims=False: Tensor._make(
    backend.array_module(self.array).asarray(self.array.all(axis=axis, keepdims=keepdims)))


# ---------------------------------------------------------------- shapes

def _shape_args(shape, op):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for n in shape:
        if not isinstance(n, int) and not (hasattr(n, "__index__") and not isinstance(n, float)):
            raise TypeError(f"{op}: sizes must be integers, got {shape!r}")
    return tuple(int(n) for n in shape)


def _reshape(self, *shape):
    shape = _shape_args(shape, "reshape")
    if shape == self.shape:
        return self
    return Reshape.apply(self, shape=shape)


def _permute(self, *axes):
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
    axis = _pick(axis, dim, "axis", "dim")
    axes = normalize_axes(axis, self.ndim, "squeeze")
    if axis is None:
        axes = tuple(i for i in axes if self.shape[i] == 1)
    bad = [i for i in axes if self.shape[i] != 1]
    if bad:
        raise ShapeError(f"squeeze: axis {bad[0]} has size {self.shape[bad[0]]}, not 1 "
                         f"(shape {self.shape})")
    return _reshape(self, tuple(n for i, n in enumerate(self.shape) if i not in axes))


def _unsqueeze(self, axis=None, *, dim=None):
    axis = _pick(axis, dim, "axis", "dim")
    if axis is None:
        raise TypeError("unsqueeze: missing axis")
    if not -self.ndim - 1 <= axis <= self.ndim:
        raise OutOfRangeError(f"unsqueeze: dim {axis} is out of range for a tensor with "
                         f"{self.ndim} dims")
    axis = axis % (self.ndim + 1)
    return _reshape(self, self.shape[:axis] + (1,) + self.shape[axis:])


def _flatten(self, start_dim=0, end_dim=-1):
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
Tensor.T = property(lambda self: Permute.apply(self, axes=tuple(range(self.ndim))[::-1]))
Tensor.mT = property(lambda self: _transpose(self, -2, -1))
Tensor.swapaxes = lambda self, a, b: _transpose(self, a, b)
Tensor.contiguous = lambda self: self
Tensor.expand_as = lambda self, other: _expand(self, other.shape)
Tensor.reshape_as = Tensor.view_as = lambda self, other: _reshape(self, other.shape)


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
    if _tracks(self) and self._view_of is not None and self._view_of.requires_grad:
        raise AutogradError(f"{op}: in-place change of a view of a tensor that requires grad "
                            "is not supported; compute the result out of place")


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
            _adopt(self, result)
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
        _adopt(self, result)
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
        _adopt(self, result)
        return self
    mod = backend.array_module(self.array)
    self.array[...] = mod.broadcast_to(src.array, self.shape) if src.shape != self.shape else src.array
    self._version[0] += 1
    return self


def _random_dtype(dtype):
    """Generators draw float32 or float64; other float dtypes (float16) are cast."""
    return dtype if dtype in (backend.float32, backend.float64) else backend.float32


def _uniform(self, low=0.0, high=1.0, *, generator=None):
    gen = backend.rng(self.device, generator)
    draw = gen.random(self.shape, dtype=_random_dtype(self.dtype))
    return _copy(self, Tensor._make((draw * (high - low) + low).astype(self.dtype, copy=False)))


def _normal(self, mean=0.0, std=1.0, *, generator=None):
    gen = backend.rng(self.device, generator)
    draw = gen.standard_normal(self.shape, dtype=_random_dtype(self.dtype))
    return _copy(self, Tensor._make((draw * std + mean).astype(self.dtype, copy=False)))


Tensor.fill_ = _fill
Tensor.zero_ = lambda self: _fill(self, 0)
Tensor.copy_ = _copy
Tensor.uniform_ = _uniform
Tensor.normal_ = _normal


# ---------------------------------------------------------------- nn functions on tensors

def _softmax(self, axis=None, *, dim=None):
    return Softmax.apply(self, axis=_pick(axis, dim, "axis", "dim", -1))


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


Tensor.index_select = _index_select
Tensor.gather = _gather


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
Tensor.float = lambda self: _to(self, backend.float32)
Tensor.double = lambda self: _to(self, backend.float64)
Tensor.half = lambda self: _to(self, backend.float16)
Tensor.long = lambda self: _to(self, backend.int64)
Tensor.int = lambda self: _to(self, backend.int32)
Tensor.bool = lambda self: _to(self, backend.bool_)
Tensor.astype = lambda self, dtype: _to(self, dtype=dtype)
Tensor.type = lambda self, dtype: _to(self, dtype=dtype)
Tensor.cpu = lambda self: _to(self, device="cpu")
Tensor.cuda = lambda self: _to(self, device="cuda")
Tensor.clone = lambda self: _to(self, copy=True)


def float_tensor(x, op):
    """x itself when it is a float tensor; integers cast to the default float dtype;
    booleans refused with a DTypeError naming `op`."""
    if x.dtype.kind == "f":
        return x
    backend.float_array(x.array, op)  # raises for bool
    return _to(x, backend.get_default_dtype())


# ---------------------------------------------------------------- functions of several tensors

def where(condition, input, other):
    """input where condition is True, other elsewhere (differentiable in both)."""
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
