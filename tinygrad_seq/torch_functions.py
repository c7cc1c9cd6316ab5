"""Top-level functions with PyTorch's names and signatures (``ts.sum(x, dim)``,
``ts.topk(x, k)``, ``ts.randperm(n)``, ...): each calls the Tensor method of the
same name, or draws random numbers.

Random functions take ``generator=None``: None draws from the framework's generator
of the device (``backend.generator(device)``, reseeded by ``ts.manual_seed``); any
other object must have ``rng_for(device)`` returning a NumPy / CuPy random
``Generator`` for that device (``ts.Generator`` implements it).
"""
from . import backend
from .autograd import Tensor
from .creation import arange, tensor, zeros, zeros_like
from .errors import DTypeError, ShapeError
from .tensor import _operand, einsum, tensor_arg  # noqa: F401  (einsum is re-exported)


def _t(x, op):
    return tensor_arg(x, op)


# ---------------------------------------------------------------- elementwise

def abs(input):  # noqa: A001
    """|x|; dx = dy sign(x)"""
    return _t(input, "abs").abs()


def sqrt(input):
    """sqrt(x); dx = dy / (2 sqrt(x))"""
    return _t(input, "sqrt").sqrt()


def rsqrt(input):
    """1 / sqrt(x); dx = -dy x^(-3/2) / 2"""
    return _t(input, "rsqrt").rsqrt()


def exp(input):
    """exp(x); dx = dy exp(x)"""
    return _t(input, "exp").exp()


def log(input):
    """log(x); dx = dy / x"""
    return _t(input, "log").log()


def tanh(input):
    """tanh(x); dx = dy (1 - tanh(x)^2)"""
    return _t(input, "tanh").tanh()


def sigmoid(input):
    """1 / (1 + exp(-x)); dx = dy y (1 - y)"""
    return _t(input, "sigmoid").sigmoid()


def relu(input):
    """max(x, 0); dx = dy where x > 0"""
    return _t(input, "relu").relu()


def sin(input):
    """sin(x); dx = dy cos(x)"""
    return _t(input, "sin").sin()


def cos(input):
    """cos(x); dx = -dy sin(x)"""
    return _t(input, "cos").cos()


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Elements repeated in place (see Tensor.repeat_interleave); with one integer
    tensor of counts alone, the indices 0, 1, ... each repeated its count of times."""
    if repeats is None:
        counts = _t(input, "repeat_interleave")
        return arange(counts.shape[0], device=counts.device).repeat_interleave(
            counts, output_size=output_size)
    return _t(input, "repeat_interleave").repeat_interleave(repeats, dim, output_size=output_size)


def erf(input):
    """The error function; dx = dy 2 / sqrt(pi) exp(-x^2)"""
    return _t(input, "erf").erf()


def clamp(input, min=None, max=None):  # noqa: A002
    """x limited to [min, max] (either may be None); dx = dy inside, 0 outside"""
    return _t(input, "clamp").clamp(min, max)


clip = clamp


def isnan(input):
    """True where x is nan (bool)."""
    return _t(input, "isnan").isnan()


def isinf(input):
    """True where x is +-inf (bool)."""
    return _t(input, "isinf").isinf()


def isfinite(input):
    """True where x is finite (bool)."""
    return _t(input, "isfinite").isfinite()


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """nan, +inf and -inf replaced by finite numbers; dx = dy where x is finite."""
    return _t(input, "nan_to_num").nan_to_num(nan, posinf, neginf)


def softmax(input, dim, dtype=None):
    """exp(x) / sum(exp(x)) along `dim` (``dtype=`` casts first)."""
    x = _t(input, "softmax")
    return (x if dtype is None else x.to(dtype)).softmax(dim=dim)


def log_softmax(input, dim, dtype=None):
    """x - logsumexp(x) along `dim` (``dtype=`` casts first)."""
    x = _t(input, "log_softmax")
    return (x if dtype is None else x.to(dtype)).log_softmax(dim=dim)


# ---------------------------------------------------------------- reductions and scans

def sum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A001
    """The sum over all elements or over `dim` (an int or a tuple)."""
    x = _t(input, "sum")
    return (x if dtype is None else x.to(dtype)).sum(dim=dim, keepdim=keepdim)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    """The mean over all elements or over `dim`."""
    x = _t(input, "mean")
    return (x if dtype is None else x.to(dtype)).mean(dim=dim, keepdim=keepdim)


def prod(input, dim=None, keepdim=False, *, dtype=None):
    """The product over all elements or along one `dim`; dx_k = dy prod_{i != k} x_i"""
    return _t(input, "prod").prod(dim, keepdim, dtype=dtype)


def argmax(input, dim=None, keepdim=False):
    """The index of the largest element (of the flattened tensor when dim is None)."""
    return _t(input, "argmax").argmax(dim=dim, keepdim=keepdim)


def argmin(input, dim=None, keepdim=False):
    """The index of the smallest element (of the flattened tensor when dim is None)."""
    return _t(input, "argmin").argmin(dim=dim, keepdim=keepdim)


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(x))) over `dim`, computed stably."""
    return _t(input, "logsumexp").logsumexp(dim=dim, keepdim=keepdim)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """The p-norm (see Tensor.norm)."""
    return _t(input, "norm").norm(p, dim, keepdim, dtype)


def cumsum(input, dim, *, dtype=None):
    """Cumulative sum along `dim`; dx_k = sum_{j >= k} dy_j"""
    return _t(input, "cumsum").cumsum(dim, dtype=dtype)


def cumprod(input, dim, *, dtype=None):
    """Cumulative product along `dim` (gradient exact at zeros)."""
    return _t(input, "cumprod").cumprod(dim, dtype=dtype)


def topk(input, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    """(values, indices) of the k largest (or smallest) elements along `dim`."""
    return _t(input, "topk").topk(k, dim, largest, sorted)


def sort(input, dim=-1, descending=False, stable=False):
    """(values, indices) sorted along `dim` (stable)."""
    return _t(input, "sort").sort(dim, descending, stable=stable)


def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort `input` along `dim`."""
    return _t(input, "argsort").argsort(dim, descending, stable=stable)


# ---------------------------------------------------------------- linear algebra

def mm(input, mat2):
    """The product of two matrices."""
    return _t(input, "mm").mm(mat2)


def bmm(input, mat2):
    """The batched product of (b, n, m) and (b, m, p) tensors."""
    return _t(input, "bmm").bmm(mat2)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * mat1 @ mat2"""
    return _t(input, "addmm").addmm(mat1, mat2, beta=beta, alpha=alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * bmm(batch1, batch2)"""
    return _t(input, "baddbmm").baddbmm(batch1, batch2, beta=beta, alpha=alpha)


def dot(input, tensor):
    """The inner product of two 1-D tensors."""
    return _t(input, "dot").dot(tensor)


def outer(input, vec2):
    """The outer product of two 1-D tensors: y[i, j] = a[i] b[j]"""
    return _t(input, "outer").outer(vec2)


ger = outer


def tril(input, diagonal=0):
    """The lower triangle of the last two dims, zeros above."""
    return _t(input, "tril").tril(diagonal)


def triu(input, diagonal=0):
    """The upper triangle of the last two dims, zeros below."""
    return _t(input, "triu").triu(diagonal)


def diag(input, diagonal=0):
    """A 1-D tensor on a diagonal of a matrix, or a matrix's diagonal as 1-D."""
    return _t(input, "diag").diag(diagonal)


# ---------------------------------------------------------------- shapes and indexing

def squeeze(input, dim=None):
    """`input` without size-1 dims (or without the size-1 `dim`)."""
    return _t(input, "squeeze").squeeze(dim=dim)


def unsqueeze(input, dim):
    """`input` with a size-1 dim inserted at `dim`."""
    return _t(input, "unsqueeze").unsqueeze(dim=dim)


def flatten(input, start_dim=0, end_dim=-1):
    """Dims start_dim..end_dim merged into one."""
    return _t(input, "flatten").flatten(start_dim, end_dim)


def unflatten(input, dim, sizes):
    """Dim `dim` split into `sizes`."""
    return _t(input, "unflatten").unflatten(dim, sizes)


def transpose(input, dim0, dim1):
    """`input` with dims dim0 and dim1 swapped."""
    return _t(input, "transpose").transpose(dim0, dim1)


swapaxes = swapdims = transpose


def t(input):
    """The transpose of a tensor with at most 2 dims."""
    return _t(input, "t").t()


def permute(input, dims):
    """`input` with its dims reordered."""
    return _t(input, "permute").permute(*dims)


def reshape(input, shape):
    """`input` with a new shape of the same number of elements (-1: inferred)."""
    return _t(input, "reshape").reshape(shape)


def narrow(input, dim, start, length):
    """The slice [start, start + length) along `dim`."""
    return _t(input, "narrow").narrow(dim, start, length)


def flip(input, dims):
    """`input` reversed along `dims`."""
    return _t(input, "flip").flip(dims)


def roll(input, shifts, dims=None):
    """`input` shifted cyclically along `dims` (the flattened tensor without dims)."""
    return _t(input, "roll").roll(shifts, dims)


def gather(input, dim, index):
    """out[i][j] = input[index[i][j]][j] for dim 0 (and likewise for other dims)."""
    return _t(input, "gather").gather(dim, index)


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """A copy of `input` with src's elements written at the places `index` names."""
    return _t(input, "scatter").scatter(dim, index, src, value=value, reduce=reduce)


def scatter_add(input, dim, index, src):
    """`input` plus src's elements added at the places `index` names."""
    return _t(input, "scatter_add").scatter_add(dim, index, src)


def index_select(input, dim, index):
    """The slices `index` (1-D) along `dim`."""
    return _t(input, "index_select").index_select(dim, index)


def masked_fill(input, mask, value):
    """`value` where mask is True, input elsewhere."""
    return _t(input, "masked_fill").masked_fill(mask, value)


def masked_select(input, mask):
    """The elements where mask is True, as a 1-D tensor."""
    return _t(input, "masked_select").masked_select(mask)


def nonzero(input, *, as_tuple=False):
    """The indices of the nonzero elements, (n, ndim) or a tuple of 1-D tensors."""
    return _t(input, "nonzero").nonzero(as_tuple=as_tuple)


def numel(input):
    """The number of elements."""
    return input.numel()


def is_tensor(obj):
    """True for a ts.Tensor (and its subclasses, e.g. nn.Parameter)."""
    return isinstance(obj, Tensor)


def is_floating_point(input):
    """True for a float tensor."""
    return input.dtype.kind == "f"


# ---------------------------------------------------------------- comparisons

def eq(input, other):
    """input == other elementwise (bool)."""
    return _t(input, "eq").eq(other)


def ne(input, other):
    """input != other elementwise (bool)."""
    return _t(input, "ne").ne(other)


def lt(input, other):
    """input < other elementwise (bool)."""
    return _t(input, "lt").lt(other)


def le(input, other):
    """input <= other elementwise (bool)."""
    return _t(input, "le").le(other)


def gt(input, other):
    """input > other elementwise (bool)."""
    return _t(input, "gt").gt(other)


def ge(input, other):
    """input >= other elementwise (bool)."""
    return _t(input, "ge").ge(other)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when |input - other| <= atol + rtol |other| everywhere (a Python bool)."""
    a, b = _t(input, "allclose"), tensor_arg(other, "allclose", "other", like=_t(input, "allclose"))
    mod = backend.array_module(a.array)
    return bool(mod.allclose(a.array, b.array, rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(input, other):
    """True when both have the same shape and the same values (a Python bool)."""
    a, b = _t(input, "equal"), _t(other, "equal")
    if tuple(a.shape) != tuple(b.shape):
        return False
    return bool((a.array == b.array).all())


# ---------------------------------------------------------------- creation

def empty_like(input, *, dtype=None, device=None, requires_grad=False):
    """A tensor of input's shape, dtype and device (zeros here; PyTorch's values are
    uninitialised)."""
    return zeros_like(input, dtype=dtype, device=device, requires_grad=requires_grad)


def from_numpy(ndarray):
    """A CPU tensor sharing the NumPy array's memory (writes show through both ways)."""
    if backend.device_of(ndarray) != "cpu" or not backend.is_array(ndarray):
        raise TypeError(f"from_numpy: expected a NumPy array, got {type(ndarray).__name__}")
    if ndarray.dtype == object or ndarray.dtype.kind in "USVc":
        raise DTypeError(f"from_numpy: unsupported dtype {ndarray.dtype}")
    return Tensor._make(backend.as_ndarray(ndarray))


def _legacy(dtype, name):
    def constructor(*args, device=None):
        if not args:
            return zeros(0, dtype=dtype, device=device)
        if builtins_all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            return zeros(*args, dtype=dtype, device=device)     # LongTensor(2, 3): a shape
        if len(args) != 1:
            raise TypeError(f"{name}: give a shape (ints) or one sequence of data")
        return tensor(args[0], dtype=dtype, device=device)
    constructor.__name__ = constructor.__qualname__ = name
    constructor.legacy_dtype = dtype          # x.type(ts.LongTensor) casts to it
    constructor.__doc__ = (f"The legacy constructor ``ts.{name}(data)`` (a {dtype} tensor "
                           f"of the data) or ``ts.{name}(*sizes)`` (zeros of that shape).")
    return constructor


builtins_all = all
LongTensor = _legacy(backend.int64, "LongTensor")
IntTensor = _legacy(backend.int32, "IntTensor")
FloatTensor = _legacy(backend.float32, "FloatTensor")
DoubleTensor = _legacy(backend.float64, "DoubleTensor")
HalfTensor = _legacy(backend.float16, "HalfTensor")
BoolTensor = _legacy(backend.bool_, "BoolTensor")
ByteTensor = _legacy(backend.dtype("uint8"), "ByteTensor")
CharTensor = _legacy(backend.dtype("int8"), "CharTensor")
ShortTensor = _legacy(backend.dtype("int16"), "ShortTensor")


# ---------------------------------------------------------------- random

def _rng(generator, device):
    """The backend random Generator to draw from: the framework's for `device`, or
    ``generator.rng_for(device)``."""
    if generator is None:
        return backend.generator(device)
    rng_for = getattr(generator, "rng_for", None)
    if rng_for is None:
        raise TypeError(f"generator must be None or have rng_for(device), got "
                        f"{type(generator).__name__}")
    return rng_for(device)


def randperm(n, *, generator=None, dtype=backend.int64, device=None, requires_grad=False):
    """A random permutation of 0..n-1 (int64 by default)."""
    device = backend.check_device(device)
    if n < 0:
        raise ValueError(f"randperm: n must be non-negative, got {n}")
    keys = _rng(generator, device).random(int(n))
    out = Tensor._make(backend.argsort_stable(keys, 0).astype(backend.dtype(dtype)))
    return out.requires_grad_(True) if requires_grad else out


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """`num_samples` category indices per row of the non-negative weights `input` (1-D
    or 2-D; they need not sum to 1), int64. Without replacement each index appears at
    most once per row (sampling in turn, each draw proportional to the weights left:
    the k smallest of E_i / w_i with E_i exponential draws); with replacement by the
    inverse of the cumulative weights."""
    x = _t(input, "multinomial")
    if x.ndim not in (1, 2):
        raise ShapeError(f"multinomial: expected 1 or 2 dims, got shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise DTypeError(f"multinomial: expected float weights, got {x.dtype}")
    w = x.array.reshape(1, -1) if x.ndim == 1 else x.array
    mod = backend.array_module(w)
    rows, n = w.shape
    if num_samples <= 0:
        raise ValueError(f"multinomial: num_samples must be positive, got {num_samples}")
    if not bool(mod.isfinite(w).all()) or bool((w < 0).any()):
        raise ValueError("multinomial: weights must be finite and non-negative")
    positive = (w > 0).sum(axis=1)
    if bool((positive == 0).any()):
        raise ValueError("multinomial: a row has no positive weight")
    rng = _rng(generator, x.device)
    w = w.astype(backend.float64)
    if not replacement:
        if num_samples > n or bool((positive < num_samples).any()):
            raise ValueError(f"multinomial: cannot draw {num_samples} samples without "
                             f"replacement from fewer positive categories")
        draws = -mod.log1p(-rng.random((rows, n)))           # exponential
        keys = mod.where(w > 0, draws / mod.where(w > 0, w, 1.0), float("inf"))
        out = backend.argsort_stable(keys, 1)[:, :num_samples]
    else:
        cdf = mod.cumsum(w, axis=1)
        cdf = cdf / cdf[:, -1:]
        u = rng.random((rows, num_samples))
        out = mod.stack([mod.searchsorted(cdf[r], u[r], side="right") for r in range(rows)])
        out = mod.minimum(out, n - 1)
    out = out.astype(backend.int64)
    return Tensor._make(out.reshape(-1) if x.ndim == 1 else out)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False):
    """Normal samples: ``normal(mean_tensor, std_tensor)`` (shapes broadcast),
    ``normal(mean, std_tensor)``, ``normal(mean_tensor, std)`` or ``normal(mean, std,
    size)`` with numbers. The dtype is the tensors' (the default float dtype for
    numbers). Not differentiable."""
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if tensors:
        device = tensors[0].device
        dtype = tensors[0].dtype if dtype is None else backend.dtype(dtype)
        shapes = [tuple(t.shape) for t in tensors]
        shape = backend.xp("cpu").broadcast_shapes(*shapes)
    else:
        if size is None:
            raise TypeError("normal: give size with a number mean and std")
        device = backend.check_device(device)
        dtype = backend.get_default_dtype() if dtype is None else backend.dtype(dtype)
        shape = tuple(size) if not isinstance(size, int) else (size,)
    if dtype.kind != "f":
        raise DTypeError(f"normal: expected a float dtype, got {dtype}")
    draw_dtype = dtype if dtype in (backend.float32, backend.float64) else backend.float32
    draw = _rng(generator, device).standard_normal(shape, dtype=draw_dtype)
    m = mean.array if isinstance(mean, Tensor) else mean
    s = std.array if isinstance(std, Tensor) else std
    if isinstance(std, Tensor) and bool((s < 0).any()) or not isinstance(std, Tensor) and std < 0:
        raise ValueError("normal: std must be non-negative")
    out = Tensor._make((draw * s + m).astype(dtype, copy=False))
    return out.requires_grad_(True) if requires_grad else out


def bernoulli(input, p=None, *, generator=None):
    """1 with probability `input` (or `p`, a number, for every element), 0 otherwise,
    in input's dtype. Not differentiable."""
    x = _t(input, "bernoulli")
    mod = backend.array_module(x.array)
    probs = x.array if p is None else p
    if x.dtype.kind != "f":
        raise DTypeError(f"bernoulli: expected float probabilities, got {x.dtype}")
    if p is None and bool(((probs < 0) | (probs > 1)).any()):
        raise ValueError("bernoulli: probabilities must be in [0, 1]")
    u = _rng(generator, x.device).random(tuple(x.shape))
    return Tensor._make(mod.asarray(u < probs).astype(x.dtype))


# ---------------------------------------------------------------- more of torch's names

def log1p(input):
    """log(1 + x), accurate near 0; dx = dy / (1 + x)"""
    return _t(input, "log1p").log1p()


def xlogy(input, other):
    """input * log(other), and 0 where input is 0 (unless other is nan); either may be
    a Python number. dx = dz log(y);  dy = dz x / y"""
    if not isinstance(input, Tensor):
        other = _t(other, "xlogy")
        input = _operand(input, other, "xlogy")
    return input.xlogy(other)


def floor(input):
    """floor(x) (zero gradient)."""
    return _t(input, "floor").floor()


def ceil(input):
    """ceil(x) (zero gradient)."""
    return _t(input, "ceil").ceil()


def round(input, *, decimals=0):  # noqa: A001
    """x rounded half to even, to `decimals` places (zero gradient)."""
    return _t(input, "round").round(decimals=decimals)


def pow(input, exponent):  # noqa: A001
    """input ** exponent (either may be a Python number)."""
    if isinstance(input, Tensor):
        return input ** exponent
    return tensor_arg(exponent, "pow").__rpow__(input)


def unbind(input, dim=0):
    """The slices of `input` along `dim`, a tuple."""
    return _t(input, "unbind").unbind(dim)


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|input - other| <= atol + rtol |other|, a bool tensor."""
    return _t(input, "isclose").isclose(other, rtol=rtol, atol=atol, equal_nan=equal_nan)


def var(input, dim=None, *args, **kwargs):
    """The variance (Bessel's correction unless ``correction=0`` / ``unbiased=False``)."""
    return _t(input, "var").var(dim, *args, **kwargs)


def std(input, dim=None, *args, **kwargs):
    """The standard deviation (as ``var``)."""
    return _t(input, "std").std(dim, *args, **kwargs)


def clone(input, *, memory_format=None):
    """A copy that keeps the graph (the gradient flows back to input)."""
    return _t(input, "clone").clone()


def _multinomial_method(self, num_samples, replacement=False, *, generator=None):
    return multinomial(self, num_samples, replacement, generator=generator)


_multinomial_method.__doc__ = multinomial.__doc__


Tensor.multinomial = _multinomial_method


# ---------------------------------------------------------------- reductions and products named as builtins
# (defined last: from here on, max and min in this module are torch's, not Python's)

def maximum(input, other):
    """The elementwise maximum (ties share the gradient)."""
    return input.maximum(other) if isinstance(input, Tensor) else other.maximum(input)


def minimum(input, other):
    """The elementwise minimum (ties share the gradient)."""
    return input.minimum(other) if isinstance(input, Tensor) else other.minimum(input)


def max(input, dim=None, keepdim=False, *, axis=None):  # noqa: A001  torch.max
    """``ts.max(x)`` the largest value; ``ts.max(x, dim)`` the named tuple ``(values,
    indices)``; ``ts.max(a, b)`` the elementwise maximum (as torch.max)."""
    return input.max(dim, keepdim, axis=axis)


def min(input, dim=None, keepdim=False, *, axis=None):  # noqa: A001  torch.min
    """``ts.min(x)``, ``ts.min(x, dim)`` -> ``(values, indices)``, ``ts.min(a, b)``."""
    return input.min(dim, keepdim, axis=axis)


def amax(input, dim=None, keepdim=False, *, axis=None):
    return input.amax(axis, keepdim, dim=dim)


def amin(input, dim=None, keepdim=False, *, axis=None):
    return input.amin(axis, keepdim, dim=dim)


def matmul(a, b):
    return a @ b


def split(x, split_size_or_sections, axis=None, *, dim=None):
    return x.split(split_size_or_sections, axis, dim=dim)


def chunk(x, chunks, axis=None, *, dim=None):
    return x.chunk(chunks, axis, dim=dim)
