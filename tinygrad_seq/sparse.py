"""Row-sparse gradients: the gradient of a table of which a step touched only a few rows.

An embedding lookup of n indices into a (V, D) table has a gradient that is zero
except in at most n rows. Materialising it densely costs a (V, D) array per step (60 MB
for V = 50,000, D = 300) and a full pass of the optimizer over the table;
``RowSparseGrad`` keeps only the touched rows:

    indices  (n,)        integer row numbers (repeats allowed, in any order)
    values   (n, D...)   values[i] belongs to row indices[i]
    shape    (V, D...)   the shape of the dense gradient it stands for

Repeated indices mean that their rows add up, as in PyTorch's uncoalesced sparse COO
tensor with one sparse dimension (``nn.Embedding(sparse=True)``). ``coalesce()`` sorts
the indices and sums the repeats; ``to_dense()`` gives the dense Tensor.

Where it comes from: ``F.embedding(..., sparse=True)`` (and ``nn.Embedding(sparse=True)``)
gives the table a RowSparseGrad in ``.grad`` when the table is a leaf and backward runs
without ``create_graph`` (with it, the gradient is dense so that it can be
differentiated). Who consumes it: ``optim.SGD`` and ``optim.SparseAdam`` update only
the touched rows; ``clip_grad_norm_`` / ``clip_grad_value_`` work on the values.
It implements the gradient protocol of sparse_grad.py (``isinstance(g, SparseGrad)``
is the one test; ``g.is_sparse`` is True, as in PyTorch); its array kernels are in
backend/row_sparse.py (``add_scaled_rows``, ``coalesce_rows``).
"""
from . import backend
from .autograd import Tensor
from .errors import DeviceError, DTypeError, ShapeError
from .sparse_grad import SparseGrad


class RowSparseGrad(SparseGrad):
    """A gradient that is zero outside the rows listed in ``indices`` (see the module
    docstring). Built by the engine; users read it, add it, coalesce it, densify it."""
    kept_in_grad = True
    __array_priority__ = 1001

    def __init__(self, indices, values, shape, coalesced=False):
        if isinstance(indices, Tensor):
            indices = indices.array
        if isinstance(values, Tensor):
            values = values.array
        shape = tuple(int(n) for n in shape)
        if indices.ndim != 1 or indices.dtype.kind not in "iu":
            raise DTypeError(f"RowSparseGrad: indices must be a 1-D integer array, got "
                             f"{indices.dtype} of shape {tuple(indices.shape)}")
        if not shape or tuple(values.shape) != (indices.shape[0],) + shape[1:]:
            raise ShapeError(f"RowSparseGrad: values of shape {tuple(values.shape)} do not fit "
                             f"{indices.shape[0]} indices into a gradient of shape {shape}")
        if backend.device_of(indices) != backend.device_of(values):
            raise DeviceError(f"RowSparseGrad: indices on {backend.device_of(indices)}, values "
                              f"on {backend.device_of(values)}")
        self.indices, self.values, self.shape = indices, values, shape
        self._coalesced = bool(coalesced)

    # ---- what it is
    @property
    def dtype(self):
        return self.values.dtype

    @property
    def device(self):
        return backend.device_of(self.values)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def data(self):
        """The same gradient outside any graph (PyTorch's ``.data`` of a sparse
        tensor): a RowSparseGrad sharing this one's index and value arrays."""
        return RowSparseGrad(self.indices, self.values, self.shape, coalesced=self._coalesced)

    @property
    def nnz(self):
        """Number of stored rows (repeats counted)."""
        return int(self.indices.shape[0])

    def is_coalesced(self):
        return self._coalesced

    def __repr__(self):
        return (f"RowSparseGrad(shape={self.shape}, rows={self.nnz}, dtype={self.dtype}, "
                f"device='{self.device}', coalesced={self._coalesced})")

    # ---- conversions
    def coalesce(self):
        """The same gradient with sorted, unique indices (repeats summed in the order
        they were stored). Returns self when already coalesced."""
        if self._coalesced:
            return self
        idx, rows = backend.coalesce_rows(self.indices, self.values)
        return RowSparseGrad(idx, rows, self.shape, coalesced=True)

    def dense_array(self):
        """The dense gradient as a backend array (repeats added)."""
        if self.nnz == 0:
            return backend.array_module(self.values).zeros(self.shape, dtype=self.dtype)
        return backend.scatter_add_rows(self.shape[0], self.indices, self.values)

    def to_dense(self):
        """The dense gradient as a Tensor."""
        return Tensor._make(self.dense_array())

    def numpy(self):
        """A host NumPy array of the dense gradient."""
        return backend.to_numpy(self.dense_array())

    def clone(self):
        return RowSparseGrad(self.indices.copy(), self.values.copy(), self.shape, self._coalesced)

    # ---- arithmetic: what accumulation, optimizers and clipping need
    def add_to_(self, array, alpha=1.0):
        """array[rows] += alpha * values in place (repeats add up, in stored order, as
        PyTorch's index_add_); returns `array`.

        The optimizer's hot path: ``backend.add_scaled_rows`` (chunked gather, add,
        scatter on the CPU; an atomic scatter-add on the GPU)."""
        return backend.add_scaled_rows(array, self.indices, self.values, alpha,
                                       unique=self._coalesced)

    def is_finite(self):
        """Whether every stored value is finite (detect_anomaly)."""
        return bool(backend.array_module(self.values).isfinite(self.values).all())

    def __add__(self, other):
        """sparse + sparse concatenates the rows (a sparse result); sparse + dense (a
        Tensor or an array of the full shape) is dense, of the same kind."""
        if isinstance(other, RowSparseGrad):
            if other.shape != self.shape:
                raise ShapeError(f"RowSparseGrad add: shapes {self.shape} and {other.shape}")
            mod = backend.array_module(self.values)
            dtype = backend.result_type(self.dtype, other.dtype)
            return RowSparseGrad(mod.concatenate([self.indices, other.indices]),
                                 mod.concatenate([self.values.astype(dtype, copy=False),
                                                  other.values.astype(dtype, copy=False)]),
                                 self.shape)
        wrap = isinstance(other, Tensor)
        array = other.array if wrap else other
        if not backend.is_array(array):
            return NotImplemented
        if tuple(array.shape) != self.shape:
            raise ShapeError(f"RowSparseGrad add: a dense gradient of shape "
                             f"{tuple(array.shape)} to a sparse one of shape {self.shape}")
        out = array.astype(backend.result_type(array.dtype, self.dtype), copy=True)
        self.add_to_(out)
        return Tensor._make(out) if wrap else out

    __radd__ = __add__

    def __mul__(self, scalar):
        if isinstance(scalar, (Tensor, RowSparseGrad)) or backend.is_array(scalar) and scalar.ndim:
            return NotImplemented
        return RowSparseGrad(self.indices, self.values * scalar, self.shape, self._coalesced)

    __rmul__ = __mul__

    def __neg__(self):
        return RowSparseGrad(self.indices, -self.values, self.shape, self._coalesced)

    def mul_(self, scalar):
        """Scale the values in place (clip_grad_norm_); read-only values (the broadcast
        gradient of a sum, kept without a copy) are replaced by a scaled copy."""
        if backend.writeable(self.values):
            self.values *= scalar
        else:
            self.values = self.values * scalar
        return self

    def zero_(self):
        """Drop every row (PyTorch's zero_() on a sparse gradient: nnz becomes 0)."""
        mod = backend.array_module(self.values)
        self.indices = self.indices[:0].copy()
        self.values = mod.zeros((0,) + self.shape[1:], dtype=self.dtype)
        self._coalesced = True
        return self

    def _owned(self, given):
        """Make sure `values` shares no memory with another gradient: called by the
        engine before it stores self as a leaf's ``.grad``; `given` holds the ids of
        the arrays already handed out (and gets the one behind `values`, so that a
        later leaf copies it). A view of an array no one else holds is kept as it is
        (the read-only broadcast gradient of a sum: mul_ replaces it, nothing else
        can write into it)."""
        v = self.values
        root = v
        while root.base is not None:
            root = root.base
        writeable = backend.writeable(v)
        if id(root) in given or (writeable and root.size != v.size):
            self.values = root = v.copy()
        given.add(id(root))
        return self
