"""The gradient protocol: a gradient that is not (yet) one dense array.

Two kinds of gradient skip the dense array for speed, and both implement the small
interface below, so that the engine and the optimizers test one thing,
``isinstance(g, SparseGrad)``, and then call its methods:

- ``IndexedGrad`` (indexed_grad.py): the gradient of a tensor read piece by piece
  (``x[:, t]`` in a loop), kept as (index, values) parts; the engine makes it dense
  before any rule, hook or ``.grad`` sees it (``kept_in_grad = False``).
- ``RowSparseGrad`` (sparse.py): an embedding table's gradient, the touched rows
  only; it stays sparse in ``.grad`` (``kept_in_grad = True``) for the optimizers.

Their array kernels (add at an index, scatter-add scaled rows, coalesce) live in
backend/kernels.py and backend/row_sparse.py, one per device.
"""


class SparseGrad:
    """What every non-dense gradient provides. ``shape`` and ``dtype`` are those of the
    dense gradient it stands for."""
    __slots__ = ()
    is_sparse = True            # PyTorch's attribute, for users' code
    kept_in_grad = False        # True: stored sparse in .grad; False: densified first
    __array_ufunc__ = None      # ndarray + SparseGrad: NumPy defers to __radd__

    def __add__(self, other):
        """self + another of its kind, or + a dense array (or Tensor) of the full shape."""
        raise NotImplementedError

    def __radd__(self, other):
        return self.__add__(other)

    def add_to_(self, array, alpha=1.0):
        """array += alpha * self, in place on a dense array of the full shape; returns it."""
        raise NotImplementedError

    def dense_array(self):
        """The gradient as one backend array."""
        raise NotImplementedError

    def mul_(self, scalar):
        """Scale in place by a number; returns self."""
        raise NotImplementedError

    def is_finite(self):
        """Whether every stored value is finite (detect_anomaly)."""
        raise NotImplementedError

    def _owned(self, given):
        """Before the engine stores it in ``.grad`` (kept_in_grad kinds): make sure it
        shares no memory with arrays in `given` (ids already handed out)."""
        return self
