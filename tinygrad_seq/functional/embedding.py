"""Embeddings and vector comparisons: ``embedding``, ``one_hot``, ``cosine_similarity``."""
import math
import numbers

from .. import backend
from ..autograd import Tensor, as_array
from ..errors import AutogradError, DTypeError, ShapeError
from ..ops.embedding import Embedding, IndexRangeError, check_indices
from ..tensor import _pick, float16_in_float32, float_tensor, tensor_arg


def _index_array(indices, device, op):
    """The backend array of integer indices given as a Tensor, an array, a list or an int."""
    if isinstance(indices, Tensor):
        array = indices.array
    elif backend.is_array(indices):
        array = indices
    else:
        if isinstance(indices, float) or (isinstance(indices, (list, tuple)) and indices and
                                          any(isinstance(i, float) for i in indices)):
            raise DTypeError(f"{op}: indices must be integers, got {indices!r}")
        array = as_array(indices, device=device)
    if array.dtype.kind not in "iu":
        raise DTypeError(f"{op}: indices must be integers, got {array.dtype}")
    return backend.follow_device(array, device, op, "the indices")


def padding_index(padding_idx, num_embeddings, op):
    """PyTorch's rule: -num <= padding_idx < num; a negative one counts from the end."""
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, int):
        raise TypeError(f"{op}: padding_idx must be an int or None, got {padding_idx!r}")
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise IndexRangeError(f"{op}: padding_idx {padding_idx} is out of range for "
                                  f"{num_embeddings} embeddings (allowed: {-num_embeddings} "
                                  f"to {num_embeddings - 1})")
    return padding_idx % num_embeddings


def embedding_options(max_norm, norm_type, scale_grad_by_freq, op):
    """Check max_norm (None or a real number > 0), norm_type (a real number) and
    scale_grad_by_freq (a bool, as PyTorch demands); return max_norm and norm_type as
    floats. PyTorch accepts max_norm <= 0 (0 zeroes every looked-up row, a negative
    one flips their signs); here that is a ValueError."""
    if max_norm is not None:
        if isinstance(max_norm, bool) or not isinstance(max_norm, numbers.Real):
            raise TypeError(f"{op}: max_norm must be a float or None, got {max_norm!r}")
        max_norm = float(max_norm)
        if not max_norm > 0:
            raise ValueError(f"{op}: max_norm must be positive, got {max_norm!r}")
    if isinstance(norm_type, bool) or not isinstance(norm_type, numbers.Real):
        raise TypeError(f"{op}: norm_type must be a float, got {norm_type!r}")
    norm_type = float(norm_type)
    if math.isnan(norm_type):
        raise ValueError(f"{op}: norm_type must be a number, got nan")
    if not isinstance(scale_grad_by_freq, bool):
        raise TypeError(f"{op}: scale_grad_by_freq must be a bool, got {scale_grad_by_freq!r}")
    return max_norm, norm_type


def _row_norms(rows, p):
    """The p-norm of each row of the 2-D float array `rows`, in float64 (p may be 0,
    negative or +-inf, as torch.norm: 0 counts the non-zeros, -inf is the smallest |x|)."""
    mod = backend.array_module(rows)
    a = mod.abs(rows.astype(backend.float64))
    if p == math.inf:
        return a.max(axis=1)
    if p == -math.inf:
        return a.min(axis=1)
    if p == 0:
        return (a != 0).sum(axis=1).astype(backend.float64)
    if p == 1:
        return a.sum(axis=1)
    if p == 2:
        return mod.sqrt((a * a).sum(axis=1))
    if p < 0:                   # |0| ** p is inf (a norm of 0) without NumPy's warning
        zero = a == 0
        powered = mod.where(zero, math.inf, mod.where(zero, 1.0, a) ** p)
    else:
        powered = a ** p
    return powered.sum(axis=1) ** (1.0 / p)


def embedding_renorm_(weight, indices, max_norm, norm_type):
    """PyTorch's embedding_renorm_, outside autograd: each distinct row r of `weight`
    named in `indices` whose norm_type-norm exceeds max_norm is scaled in place by
    max_norm / (norm + 1e-7), once however often it is named (as PyTorch: the norm
    rounded to the weight's dtype, the scale computed in float64 and then rounded to
    the weight's dtype). The weight's version counter goes up whether or not a row
    changed (as PyTorch's), so a node that saved the weight's value for its backward
    raises there; Embedding itself does not read the weight in backward."""
    data = weight.array
    if data.dtype.kind != "f":
        raise DTypeError(f"embedding: max_norm needs a floating-point weight, got {data.dtype}")
    if not backend.writeable(data):
        raise AutogradError("embedding: max_norm renormalises rows of the weight in place, "
                            "but the weight is a read-only (broadcast) view; .clone() it first")
    rows = backend.array_module(indices).unique(indices.reshape(-1))
    if rows.size:
        mod = backend.array_module(data)
        picked = data[rows]
        norms = _row_norms(picked, norm_type).astype(data.dtype).astype(backend.float64)
        scale = mod.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(data.dtype)
        data[rows] = picked * scale[:, None]       # rows under max_norm: times exactly 1
    weight._version[0] += 1


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of `weight` (num_embeddings, embedding_dim) picked by the integer indices
    `input` (any shape): the result has shape input.shape + (embedding_dim,).
    PyTorch's F.embedding, with its argument order.

    ``padding_idx``: that row gets no gradient (its value is used as it is).
    ``max_norm``: before the lookup, each distinct looked-up row whose ``norm_type``-norm
    (default 2; any float, inf included) exceeds max_norm is rescaled IN PLACE in
    `weight` to norm max_norm (scale max_norm / (norm + 1e-7)); autograd does not see
    that change, and it bumps the weight's version counter (see embedding_renorm_).
    ``scale_grad_by_freq=True``: the gradient of each row is divided by how many times
    its index occurs in `input` (dense and sparse; PyTorch 2.13 refuses it with
    sparse=True at backward).
    ``sparse=True``: the gradient of `weight` (a leaf) is a row-sparse
    ``tinygrad_seq.sparse.RowSparseGrad`` holding only the looked-up rows (dense under
    ``create_graph``). Float indices raise a DTypeError; indices outside
    [0, num_embeddings) an error that is both a ShapeError and an IndexError."""
    if not isinstance(weight, Tensor):
        raise TypeError(f"embedding: weight must be a Tensor, got {type(weight).__name__}")
    if weight.ndim != 2:
        raise ShapeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {tuple(weight.shape)}")
    max_norm, norm_type = embedding_options(max_norm, norm_type, scale_grad_by_freq, "embedding")
    indices = _index_array(input, weight.device, "embedding")
    pad = padding_index(padding_idx, weight.shape[0], "embedding")
    if max_norm is not None:
        check_indices(indices, weight.shape[0], "embedding")    # before touching any row
        embedding_renorm_(weight, indices, max_norm, norm_type)
    return Embedding.apply(weight, indices=indices, padding_idx=pad, sparse=bool(sparse),
                           scale_grad_by_freq=scale_grad_by_freq)


def one_hot(tensor, num_classes=-1):
    """int64 tensor of shape tensor.shape + (num_classes,) with a 1 at each value's
    position (PyTorch's one_hot). ``num_classes=-1`` takes max + 1."""
    ref_device = tensor.device if isinstance(tensor, Tensor) else backend.current_device()
    if backend.is_array(tensor):
        ref_device = backend.device_of(tensor)
    idx = _index_array(tensor, ref_device, "one_hot")
    mod = backend.array_module(idx)
    if num_classes == -1:
        if idx.size == 0:
            raise ShapeError("one_hot: cannot infer the number of classes from an empty tensor; "
                             "pass num_classes")
        num_classes = int(idx.max()) + 1
    if num_classes < 0:
        raise ShapeError(f"one_hot: num_classes must be -1 or non-negative, got {num_classes}")
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0:
            raise IndexRangeError(f"one_hot: class values must be non-negative, got {lo}")
        if hi >= num_classes:
            raise IndexRangeError(f"one_hot: class value {hi} is not smaller than "
                                      f"num_classes {num_classes}")
    out = mod.zeros((idx.size, num_classes), dtype=backend.int64)
    if idx.size:
        out[mod.arange(idx.size), idx.reshape(-1)] = 1
    return Tensor._make(out.reshape(tuple(idx.shape) + (num_classes,)))


@float16_in_float32      # float16 squares overflow above 256
def cosine_similarity(x1, x2, axis=None, eps=1e-8, *, dim=None):
    """x1 . x2 / (max(||x1||, eps) * max(||x2||, eps)) along `axis` (default -1; ``dim=``
    is an alias), after broadcasting x1 and x2 together.

    As PyTorch 2.13 computes it: each vector is divided by its clamped norm and the
    products summed, and the clamp is applied outside autograd (the gradient flows
    through the norm as if unclamped; a zero vector's norm has gradient 0)."""
    axis = _pick(axis, dim, "axis", "dim", -1)
    x1 = float_tensor(tensor_arg(x1, "cosine_similarity", "x1"), "cosine_similarity")
    x2 = float_tensor(tensor_arg(x2, "cosine_similarity", "x2", like=x1), "cosine_similarity")
    try:
        shape = tuple(backend.xp("cpu").broadcast_shapes(x1.shape, x2.shape))
    except ValueError:
        raise ShapeError(f"cosine_similarity: shapes {tuple(x1.shape)} and {tuple(x2.shape)} "
                         "do not broadcast") from None
    if not shape:
        raise ShapeError("cosine_similarity: inputs must have at least one dimension")
    if not -len(shape) <= axis < len(shape):
        raise ShapeError(f"cosine_similarity: axis {axis} is out of range for the broadcast "
                         f"shape {shape}")
    x1 = x1 if x1.shape == shape else x1.expand(shape)
    x2 = x2 if x2.shape == shape else x2.expand(shape)
    return ((x1 / _clamped_norm(x1, axis, eps)) * (x2 / _clamped_norm(x2, axis, eps))).sum(axis=axis)


def _clamped_norm(x, axis, eps):
    """||x|| along axis (kept), with the value clamped at eps outside the graph."""
    tiny = float(backend.xp("cpu").finfo(x.dtype).tiny)     # keeps sqrt's gradient finite at 0
    norm = (x * x).sum(axis=axis, keepdims=True).clip(min=tiny).sqrt()
    mod = backend.array_module(norm.array)
    lift = Tensor._make(mod.maximum(norm.array, eps).astype(norm.dtype) - norm.array)
    return norm + lift
