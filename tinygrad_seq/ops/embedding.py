"""Embedding lookup: rows of a table picked by integer indices, with a dense or a
row-sparse gradient (``tinygrad_seq.sparse``)."""
from ..autograd import Node, Tensor, call
from ..modes import _state
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
    dweight = zeros((V, D)) with dy[i...] added to row indices[i...] (repeats add up);
    rows with index == padding_idx get no gradient (PyTorch's padding_idx).

    With ``sparse=True``, when the weight is a leaf and the backward is not recorded,
    the gradient is a ``RowSparseGrad(indices, dy rows)`` instead: no (V, D) array
    is made. With ``create_graph`` (or under ``detect_anomaly``) it is dense, through
    the differentiable ``IndexAdd``."""
    reads_inputs = False

    def forward(self, weight, indices, padding_idx=None, sparse=False):
        check_indices(indices, weight.shape[0], "embedding")
        self.indices, self.padding_idx, self.sparse = indices, padding_idx, sparse
        self.weight_shape = weight.shape
        return weight[indices]

    def backward(self, g):
        idx, pad = self.indices, self.padding_idx
        if (self.sparse and not isinstance(g, Tensor) and self.parents[0] is None
                and not _state.anomaly):
            rows = idx.reshape(-1)
            values = g.reshape((rows.shape[0],) + tuple(g.shape[idx.ndim:]))
            if pad is not None:
                keep = rows != pad
                if not bool(keep.all()):
                    rows, values = rows[keep], values[keep]
            if self.hooks:          # a hook on the output (retain_grad) may keep dy itself
                values = values.copy()
            return (RowSparseGrad(rows, values, self.weight_shape),)
        if pad is not None:
            g = g * (idx != pad)[..., None].astype(g.dtype)
        return (call(IndexAdd, g, shape=self.weight_shape, index=idx),)
