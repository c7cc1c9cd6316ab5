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
Code that may meet one tests ``getattr(g, "is_sparse", False)`` (a dense gradient is
a Tensor, which has no such attribute).
"""
import threading

from . import backend
from .autograd import Tensor
from .errors import DeviceError, DTypeError, ShapeError


# (slot, dtype, array module) -> a flat buffer reused by add_to_, one set per thread:
# NumPy releases the GIL inside the update, so two threads stepping optimizers at once
# would otherwise write into one buffer
_SCRATCH = threading.local()
_CHUNK = 1 << 20      # bytes of table rows that add_to_ updates at a time (stays in cache)


def _scratch(slot, size, dtype, mod):
    """A reusable flat buffer of at least `size` elements (never handed out to users)."""
    buffers = getattr(_SCRATCH, "buffers", None)
    if buffers is None:
        buffers = _SCRATCH.buffers = {}
    key = (slot, dtype, mod.__name__)
    buf = buffers.get(key)
    if buf is None or buf.size < size:
        buf = buffers[key] = mod.empty(max(size, 1), dtype=dtype)
    return buf[:size]


def _take_rows(table, rows, out):
    """out[...] = table[rows] (rows along axis 0) without a temporary array."""
    if backend.device_of(table) == "cpu":     # mode="wrap": NumPy buffers `out` for mode="raise"
        backend.array_module(table).take(table, rows, axis=0, out=out, mode="wrap")
    else:
        out[...] = table[rows]


def _flat_rows(index, width):
    """Flat element positions of rows `index` in a C-ordered (rows, width) array."""
    mod = backend.array_module(index)
    return (index[:, None] * width + mod.arange(width, dtype=index.dtype)).reshape(-1)


class RowSparseGrad:
    """A gradient that is zero outside the rows listed in ``indices`` (see the module
    docstring). Built by the engine; users read it, add it, coalesce it, densify it."""
    is_sparse = True
    __array_ufunc__ = None      # ndarray + RowSparseGrad -> RowSparseGrad.__radd__
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
        idx, values = self.indices, self.values
        mod = backend.array_module(values)
        n = idx.shape[0]
        if n == 0:
            return RowSparseGrad(idx, values, self.shape, coalesced=True)
        order = mod.argsort(idx, kind="stable")
        ordered = idx[order]
        first = mod.empty(n, dtype=backend.bool_)
        first[0] = True
        mod.not_equal(ordered[1:], ordered[:-1], out=first[1:])
        starts = mod.flatnonzero(first)
        rows = values[order[starts]]                    # one copy of each row's first value
        if starts.shape[0] < n:                         # add the repeats to their rows
            group = mod.cumsum(first) - 1
            repeat = ~first
            width = rows[0].size if rows.ndim > 1 else 1
            target = _flat_rows(group[repeat], width)
            backend.add_at(rows.reshape(-1), target, values[order[repeat]].reshape(-1))
        return RowSparseGrad(ordered[starts], rows, self.shape, coalesced=True)

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

        The optimizer's hot path (``SGD`` on an embedding table). NumPy has no fused
        row scatter-add (``np.add.at`` on rows is ~10x slower), and ``table[rows] +=``
        reads the rows from memory, then writes them back in a second random pass. So
        the first occurrence of each row is updated in chunks of ~1 MB (gather, add,
        scatter) while the chunk is still in cache, through scratch buffers that live
        between calls (a fresh 5 MB temporary costs as much in page faults as the
        update itself); the few repeated rows are then added with ``add_at``. On the
        GPU it is one atomic scatter-add."""
        n = self.nnz
        if n == 0:
            return array
        mod = backend.array_module(self.values)
        idx = self.indices
        width = self.values[0].size if self.values.ndim > 1 else 1
        values = self.values.reshape(n, width)
        if backend.device_of(array) != "cpu" or (array.ndim > 2 and not array.flags.c_contiguous):
            update = (self.values * alpha).astype(array.dtype, copy=False)
            backend.add_at(array, idx, update)          # atomic on the GPU; rows of a view
            return array
        table = array if array.ndim == 2 else array.reshape(array.shape[0], width)
        firsts, again = slice(None), None
        if not self._coalesced:
            order = mod.argsort(idx, kind="stable")
            ordered = idx[order]
            first = mod.empty(n, dtype=backend.bool_)
            first[0] = True
            mod.not_equal(ordered[1:], ordered[:-1], out=first[1:])
            if not bool(first.all()):
                is_first = mod.zeros(n, dtype=backend.bool_)
                is_first[order[first]] = True
                firsts, again = mod.flatnonzero(is_first), order[~first]
        positions = mod.arange(n) if isinstance(firsts, slice) else firsts
        step = max(1, _CHUNK // (width * table.itemsize))
        current = _scratch(0, min(step, n) * width, table.dtype, mod)
        update = _scratch(1, min(step, n) * width, table.dtype, mod)
        for start in range(0, positions.shape[0], step):
            pos = positions[start:start + step]
            k = pos.shape[0]
            cur, upd = current[:k * width].reshape(k, width), update[:k * width].reshape(k, width)
            rows = idx[pos]
            _take_rows(table, rows, cur)
            if isinstance(firsts, slice):
                mod.multiply(values[start:start + k], alpha, out=upd, casting="same_kind")
            else:
                if values.dtype == table.dtype:
                    _take_rows(values, pos, upd)
                else:
                    upd[...] = values[pos]
                upd *= alpha
            cur += upd
            table[rows] = cur
        if again is not None:          # the repeats, added after their first occurrence
            repeats = (values[again] * alpha).astype(table.dtype, copy=False)
            if table.flags.c_contiguous:
                backend.add_at(table.reshape(-1), _flat_rows(idx[again], width), repeats.reshape(-1))
            else:
                backend.add_at(table, idx[again], repeats)
        return array

    def __add__(self, other):
        """sparse + sparse concatenates the rows (a sparse result); sparse + dense (a
        Tensor or an array of the full shape) is dense, of the same kind."""
        if getattr(other, "is_sparse", False):
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
