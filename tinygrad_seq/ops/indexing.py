"""Indexing primitives: ``x[index]``, its adjoint (scatter-add) and ``x[index] = v``.

Integer-array indices may repeat, so the adjoint adds (``np.add.at`` semantics).
"""
from .. import backend
from ..autograd import Node, Tensor, call
from ..errors import DTypeError
from ..indexed_grad import IndexedGrad
from .broadcast import grad_to


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




# ---------------------------------------------------------------- writing through a view

def view_of_array(a, view):
    """The view `view` of the array `a`: ("index", basic index), ("reshape", shape) or
    ("permute", axes), as the view primitives make them (a view, for a C-ordered `a`)."""
    kind, arg = view
    if kind == "index":
        return a[arg]
    if kind == "reshape":
        return a.reshape(arg)
    return a.transpose(arg)


def view_of_grad(g, view):
    """The same view of a gradient, through the view primitive (recorded under
    create_graph)."""
    from .movement import Permute, Reshape
    kind, arg = view
    if kind == "index":
        return call(GetItem, g, index=arg)
    if kind == "reshape":
        return call(Reshape, g, shape=arg)
    return call(Permute, g, axes=arg)


class WriteView(Node):
    """y = base with its view `view` replaced by x: an in-place change made through a
    view of a tensor in the graph gives the tensor this history (PyTorch's CopySlices)
    dbase = dy with the view's elements zeroed;  dx = view(dy)"""
    reads_inputs = False

    def forward(self, base, x, view):
        self.view = view
        out = base.copy()
        view_of_array(out, view)[...] = x
        keep = backend.array_module(base).ones(base.shape, dtype=base.dtype)
        view_of_array(keep, view)[...] = 0
        self.keep = keep
        return out

    def backward(self, g):
        return (g * self.keep, view_of_grad(g, self.view))
