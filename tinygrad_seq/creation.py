"""Factories: tensors from data, constants, ranges and random numbers.

Shapes are given as varargs or a tuple (``zeros(2, 3) == zeros((2, 3))``); float
factories follow ``set_default_dtype``; ``device=None`` means the default device
(``TINYGRAD_SEQ_DEVICE``).
"""
import numbers

from . import backend
from .autograd import Tensor, as_array
from .checks import check_finite, check_int, check_nonnegative_int, check_real, check_sizes
from .errors import DTypeError
from .tensor import _shape_args


def _sizes(shape, op):
    """Varargs or a tuple of sizes, each a non-negative integer (TypeError, ValueError)."""
    return check_sizes(_shape_args(shape, op), op)


def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new tensor holding a copy of `data` (Python numbers and lists, NumPy or CuPy
    arrays, Tensors). Python floats become the default dtype (float32), Python ints
    int64, bools bool; an array keeps its dtype."""
    return _finish(as_array(data, dtype, device, copy=True), requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares the array when no copy is needed."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    return Tensor._make(as_array(data, dtype, device))


def _float_dtype(dtype):
    return backend.get_default_dtype() if dtype is None else backend.dtype(dtype)


def _finish(array, requires_grad):
    t = Tensor._make(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _constant(value, shape, dtype, device, requires_grad):
    device = backend.check_device(device)
    dtype = _float_dtype(dtype)
    return _finish(backend.xp(device).full(shape, value, dtype=dtype), requires_grad)


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    return _constant(0, _sizes(shape, "zeros"), dtype, device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False):
    return _constant(1, _sizes(shape, "ones"), dtype, device, requires_grad)


def empty(*shape, dtype=None, device=None, requires_grad=False):
    return _constant(0, _sizes(shape, "empty"), dtype, device, requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False):
    if not isinstance(fill_value, numbers.Number):
        raise TypeError(f"full: fill_value must be a number, got {fill_value!r} "
                        f"({type(fill_value).__name__})")
    if dtype is None and isinstance(fill_value, bool):
        dtype = backend.bool_
    elif dtype is None and isinstance(fill_value, int):
        dtype = backend.int64
    return _constant(fill_value, _sizes((shape,), "full"), dtype, device, requires_grad)


def _like(x, dtype, device):
    return (x.dtype if dtype is None else dtype), (x.device if device is None else device)


def zeros_like(x, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(x, dtype, device)
    return zeros(x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(x, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(x, dtype, device)
    return ones(x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(x, fill_value, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(x, dtype, device)
    return full(x.shape, fill_value, dtype=dtype, device=device, requires_grad=requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    n = check_nonnegative_int(n, "n", "eye")
    m = None if m is None else check_nonnegative_int(m, "m", "eye")
    device = backend.check_device(device)
    return _finish(backend.xp(device).eye(n, m, dtype=_float_dtype(dtype)), requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Values from start (0 if only one number is given) up to end, by step; int64 for
    integer arguments, the default float dtype otherwise."""
    if end is None:
        start, end = 0, start
    _check_range(start, end, step)
    if dtype is None:
        ints = all(isinstance(v, int) for v in (start, end, step))
        dtype = backend.int64 if ints else backend.get_default_dtype()
    device = backend.check_device(device)
    return _finish(backend.xp(device).arange(start, end, step, dtype=backend.dtype(dtype)),
                   requires_grad)


def _check_range(start, end, step):
    """arange's bounds and step: finite numbers, a step that is not 0 and points from
    start towards end (or start == end), as PyTorch requires; NumPy would return an
    empty or endless range instead."""
    for name, value in (("start", start), ("end", end), ("step", step)):
        check_finite(value, name, "arange")
    if step == 0:
        raise ValueError("arange: step must be nonzero, got 0")
    if (end - start) * step < 0:
        raise ValueError(f"arange: step {step!r} points away from end: start={start!r}, "
                         f"end={end!r} (upper bound and lower bound inconsistent with step sign)")


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    check_real(start, "start", "linspace")
    check_real(end, "end", "linspace")
    steps = check_nonnegative_int(steps, "steps", "linspace")
    device = backend.check_device(device)
    return _finish(backend.xp(device).linspace(start, end, steps, dtype=_float_dtype(dtype)),
                   requires_grad)


# ---------------------------------------------------------------- random

def _random_dtype(dtype, op):
    dtype = _float_dtype(dtype)
    if dtype not in (backend.float32, backend.float64):
        raise DTypeError(f"{op}: random floats come as float32 or float64, not {dtype}")
    return dtype


def randn(*shape, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal samples from `generator` (a ``ts.Generator``) or the
    framework's generator (see manual_seed)."""
    device = backend.check_device(device)
    dtype = _random_dtype(dtype, "randn")
    gen = backend.rng(device, generator)
    return _finish(gen.standard_normal(_sizes(shape, "randn"), dtype=dtype), requires_grad)


def rand(*shape, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform samples in [0, 1) from `generator` or the framework's generator."""
    device = backend.check_device(device)
    dtype = _random_dtype(dtype, "rand")
    gen = backend.rng(device, generator)
    return _finish(gen.random(_sizes(shape, "rand"), dtype=dtype), requires_grad)


def randint(low, high=None, size=(), *, generator=None, dtype=None, device=None):
    """Integers in [low, high), int64 by default; ``randint(high, size)`` (torch's
    form) and ``randint(high)`` draw from [0, high)."""
    if isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    low, high = check_int(low, "low", "randint"), check_int(high, "high", "randint")
    if low >= high:
        raise ValueError(f"randint: low must be smaller than high, got low={low}, high={high}")
    size = _sizes((size,), "randint")
    device = backend.check_device(device)
    gen = backend.rng(device, generator)
    out = gen.integers(low, high, size=size)
    return Tensor._make(backend.xp(device).asarray(out, dtype=backend.dtype(dtype or backend.int64)))


def randn_like(x, dtype=None, device=None, requires_grad=False, *, generator=None):
    dtype, device = _like(x, dtype, device)
    return randn(x.shape, generator=generator, dtype=dtype, device=device,
                 requires_grad=requires_grad)


def rand_like(x, dtype=None, device=None, requires_grad=False, *, generator=None):
    dtype, device = _like(x, dtype, device)
    return rand(x.shape, generator=generator, dtype=dtype, device=device,
                requires_grad=requires_grad)


def manual_seed(seed):
    """Seed the framework's random generators (all devices): randn, rand, randint,
    dropout and initialisers draw from them."""
    backend.manual_seed(seed)
