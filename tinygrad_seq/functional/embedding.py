"""Embeddings and vector comparisons: ``embedding``, ``one_hot``, ``cosine_similarity``."""
from .. import backend
from ..autograd import Tensor, as_array
from ..errors import DeviceError, DTypeError, ShapeError
from ..ops.embedding import Embedding, IndexRangeError
from ..tensor import _pick, float_tensor, tensor_arg


def _index_array(indices, device, op):
    """The backend array of integer indices given as a Tensor, an array, a list or an int."""
    if isinstance(indices, Tensor):
        array = indices.data
    elif backend.is_array(indices):
        array = indices
    else:
        if isinstance(indices, float) or (isinstance(indices, (list, tuple)) and indices and
                                          any(isinstance(i, float) for i in indices)):
            raise DTypeError(f"{op}: indices must be integers, got {indices!r}")
        array = as_array(indices, device=device)
    if array.dtype.kind not in "iu":
        raise DTypeError(f"{op}: indices must be integers, got {array.dtype}")
    where = backend.device_of(array)
    if where != device:
        if where != "cpu":          # host indices follow the table; GPU ones do not move
            raise DeviceError(f"{op}: indices on {where}, the table on {device}")
        array = backend.to_device(array, device)
    return array


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


def embedding(input, weight, padding_idx=None, sparse=False):
    """Rows of `weight` (num_embeddings, embedding_dim) picked by the integer indices
    `input` (any shape): the result has shape input.shape + (embedding_dim,).

    ``padding_idx``: that row gets no gradient (its value is used as it is).
    ``sparse=True``: the gradient of `weight` (a leaf) is a row-sparse
    ``tinygrad_seq.sparse.RowSparseGrad`` holding only the looked-up rows (dense under
    ``create_graph``). Float indices raise a DTypeError; indices outside
    [0, num_embeddings) an error that is both a ShapeError and an IndexError."""
    if not isinstance(weight, Tensor):
        raise TypeError(f"embedding: weight must be a Tensor, got {type(weight).__name__}")
    if weight.ndim != 2:
        raise ShapeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {tuple(weight.shape)}")
    indices = _index_array(input, weight.device, "embedding")
    pad = padding_index(padding_idx, weight.shape[0], "embedding")
    return Embedding.apply(weight, indices=indices, padding_idx=pad, sparse=bool(sparse))


def one_hot(tensor, num_classes=-1):
    """int64 tensor of shape tensor.shape + (num_classes,) with a 1 at each value's
    position (PyTorch's one_hot). ``num_classes=-1`` takes max + 1."""
    ref_device = tensor.device if isinstance(tensor, Tensor) else backend.default_device
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
    mod = backend.array_module(norm.data)
    lift = Tensor._make(mod.maximum(norm.data, eps).astype(norm.dtype) - norm.data)
    return norm + lift
