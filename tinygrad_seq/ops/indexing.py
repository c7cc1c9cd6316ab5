"""Indexing primitives: ``x[index]``, its adjoint (scatter-add) and ``x[index] = v``.

Integer-array indices may repeat, so the adjoint adds (``np.add.at`` semantics).
"""
from .. import backend
from ..autograd import Node, Tensor, call
from ..errors import DTypeError
from ..indexed_grad import IndexedGrad
from .reduce import grad_to


def _is_basic(index):
    """True when `index` only has ints, slices, None and Ellipsis (a view, no repeats)."""
    items = index if type(index) is tuple else (index,)
    return all(i is None or i is Ellipsis or type(i) in (int, slice) for i in items)


def _single_row_index(index):
    """The integer array when `index` picks rows along axis 0 only (embedding lookups)."""
    if type(index) is tuple:
        if len(index) != 1:
            return None
        index = index[0]
    if backend.is_array(index) and index.dtype.kind in "iu":
        return index
    return None


class GetItem(Node):
    """y = x[index]  (ints, slices, None, Ellipsis, integer arrays, boolean masks)
    dx = zeros_like(x) with dy added at index (IndexAdd, repeats accumulate)

    On the CPU without create_graph, dx is an IndexedGrad (dy and the index, made an
    array once all of x's gradients are in): a loop reading x[:, t] for T steps then
    costs one pass over x in backward, not T."""
    reads_inputs = False
    is_view = True
    lazy_grads = True

    def forward(self, x, index):
        for i in (index if type(index) is tuple else (index,)):
            if backend.is_array(i) and i.dtype.kind not in "iub":
                raise DTypeError(f"getitem: index arrays must be integer or bool, got {i.dtype}")
        self.in_shape, self.index = x.shape, index
        self.is_view = _is_basic(index)   # advanced indexing copies
        return x[index]

    def backward(self, g):
        if type(g) is not Tensor and backend.device_of(g) == "cpu":
            return (IndexedGrad(self.in_shape, g.dtype, [(self.index, g, self.is_view)]),)
        return (call(IndexAdd, g, shape=self.in_shape, index=self.index),)


class IndexAdd(Node):
    """y = zeros(shape); y[index] += x  (the adjoint of GetItem; repeated indices add)
    dx = dy[index]

    Row lookups along axis 0 (embeddings) use ``backend.scatter_add_rows``, the fastest
    of the options measured in ``benchmarks/bench_scatter_add.py``."""
    reads_inputs = False

    def forward(self, x, shape, index):
        self.index = index
        mod = backend.array_module(x)
        rows = _single_row_index(index)
        if rows is not None:
            return backend.scatter_add_rows(shape[0], rows, x)
        out = mod.zeros(shape, dtype=x.dtype)
        if _is_basic(index):
            out[index] = x
            return out
        return backend.add_at(out, index, x)

    def backward(self, g):
        return (call(GetItem, g, index=self.index),)


class SetItem(Node):
    """y = x with y[index] = v  (out of place; ``x[index] = v`` on a tracked tensor)
    dx = dy with dy[index] = 0;   dv = sum_to(dy[index], v.shape) in v's dtype"""
    reads_inputs = False

    def forward(self, x, v, index):
        self.index, self.v_shape, self.v_dtype = index, v.shape, v.dtype
        out = x.copy()
        out[index] = v
        return out

    def backward(self, g):
        mod = backend.array_module(g.array if isinstance(g, Tensor) else g)
        keep = mod.ones(g.shape, dtype=g.dtype)
        keep[self.index] = 0
        gx = g * keep if self.needs_input_grad[0] else None
        gv = (grad_to(call(GetItem, g, index=self.index), self.v_shape, self.v_dtype)
              if self.needs_input_grad[1] else None)
        return gx, gv


