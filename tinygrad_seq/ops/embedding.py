"""Embedding lookup: rows of a table picked by integer indices, with a dense or a
row-sparse gradient (``tinygrad_seq.sparse``)."""
from .. import backend
from ..autograd import Node, Tensor, call
from ..modes import _State
from ..errors import DTypeError, ShapeError
from ..sparse import RowSparseGrad
from .indexing import IndexAdd


class IndexRangeError(ShapeError, IndexError):
    """An index out of range (an embedding row, a class, a padding_idx): a ShapeError
    (the project's error) that is also an IndexError (what PyTorch raises for it)."""


def check_indices(indices, num_rows, op):
    """Raise unless `indices` is an integer array with values in [0, num_rows)."""
    if indices.dtype.kind not in "iu":
        raise DTypeError(f"{op}: indices must be integers, got {indices.dtype} "
                         f"(convert with .long())")
    if indices.size:
        lo, hi = int(indices.min()), int(indices.max())
        if lo < 0 or hi >= num_rows:
            raise IndexRangeError(
                f"{op}: index {lo if lo < 0 else hi} is out of range for a table of "
                f"{num_rows} rows (indices must be in [0, {num_rows}))")


class Embedding(Node):
    """y[i...] = weight[indices[i...]]   (weight (V, D), indices integers of any shape,
    y of shape indices.shape + (D,))
    dweight[r] = sum over positions i with indices[i] == r of  s_i * dy[i]
      s_i = 0                         where indices[i] == padding_idx (PyTorch's padding_idx)
      s_i = 1 / count(indices[i])     with scale_grad_by_freq, count(r) being how many
                                      times r occurs in the whole `indices` array
      s_i = 1                         otherwise (repeats add up)

    The weight's values are not read by backward (only its shape), so renormalising
    looked-up rows in place before the lookup (F.embedding's ``max_norm``) does not
    invalidate this node. With ``scale_grad_by_freq`` the gradient is PyTorch's scaled
    one, not the derivative of the forward: s_i depends only on the indices, so the
    rule is linear in dy, and under ``create_graph`` it is differentiated as written
    (d dweight / d dy gathers s_i times the rows; PyTorch 2.13's double backward drops
    the s_i there, which is not the derivative of its own first backward).

    With ``sparse=True``, when the weight is a leaf and the backward is not recorded,
    the gradient is a ``RowSparseGrad(indices, s * dy rows)`` instead: no (V, D) array
    is made. With ``create_graph`` (or under ``detect_anomaly``) it is dense, through
    the differentiable ``IndexAdd``."""
    reads_inputs = False

    def forward(self, weight, indices, padding_idx=None, sparse=False, scale_grad_by_freq=False):
        check_indices(indices, weight.shape[0], "embedding")
        self.indices, self.padding_idx, self.sparse = indices, padding_idx, sparse
        self.scale_grad_by_freq = scale_grad_by_freq
        self.weight_shape = weight.shape
        return weight[indices]

    def backward(self, g):
        idx, pad = self.indices, self.padding_idx
        scale = self._scale(g.dtype) if self.scale_grad_by_freq else None
        if (self.sparse and not isinstance(g, Tensor) and self.parents[0] is None
                and not _State.anomaly):
            rows = idx.reshape(-1)
            values = g.reshape((rows.shape[0],) + tuple(g.shape[idx.ndim:]))
            if scale is not None:   # a new array: shares nothing with dy
                values = values * scale.reshape((-1,) + (1,) * (values.ndim - 1))
            elif self.hooks:        # a hook on the output (retain_grad) may keep dy itself
                values = values.copy()
            if pad is not None:
                keep = rows != pad
                if not bool(keep.all()):
                    rows, values = rows[keep], values[keep]
            return (RowSparseGrad(rows, values, self.weight_shape),)
        if scale is not None:       # the padding positions are already 0 in it
            g = g * scale.reshape(scale.shape + (1,) * (g.ndim - idx.ndim))
        elif pad is not None:
            g = g * (idx != pad)[..., None].astype(g.dtype)
        return (call(IndexAdd, g, shape=self.weight_shape, index=idx),)

    def _scale(self, dtype):
        """s of the docstring for scale_grad_by_freq, shaped like the indices: 1 / the
        count of each index in the batch (as PyTorch: 1.0 / count in double precision,
        then the gradient's dtype), 0 at padding positions."""
        idx = self.indices
        mod = backend.array_module(idx)
        flat = idx.reshape(-1)
        if flat.size == 0:
            return mod.zeros(idx.shape, dtype=dtype)
        _, inverse, counts = mod.unique(flat, return_inverse=True, return_counts=True)
        scale = (1.0 / counts.astype(backend.float64)).astype(dtype)[inverse.reshape(-1)]
        if self.padding_idx is not None:
            scale[flat == self.padding_idx] = 0
        return scale.reshape(idx.shape)
