"""The gradient protocol: a gradient that is not (yet) one dense array.

Two kinds of gradient skip the dense array for speed, and both implement the small
interface below, so that the engine and the optimizers test one thing,
``isinstance(g, SparseGrad)``, and then call its methods:

- ``IndexedGrad`` (indexed_grad.py): the gradient of a tensor read piece by piece
  (``x[:, t]`` in a loop), kept as (index, values) parts; the engine makes it dense
  before any rule, hook or ``.grad`` sees it (``kept_in_grad = False``).
- ``RowSparseGrad`` (sparse.py): an embedding table's gradient, the touched rows
  only; it stays sparse in ``.grad`` (``kept_in_grad = True``) for the optimizers.

- ``ProductGrad`` (product_grad.py): the gradient of a matrix used in many products,
  kept as factor pairs and made as one product (``kept_in_grad = False``).

Their array kernels (add at an index, scatter-add scaled rows, coalesce) live in
backend/kernels.py and backend/row_sparse.py, one per device. IndexedGrad and
ProductGrad share ``LazySum``: parts collected until used, plus an owned dense base.
"""
from . import backend



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


class LazySum(SparseGrad):
    """A sum kept as its parts (``parts``, a list) plus an owned dense ``base`` (or
    None) until ``dense_array()``; subclasses give ``shape``, ``dtype``, ``parts``,
    ``base`` and say how their parts make the array. It lives only in the engine's
    gradient slots and is referenced once, so adding to it may change it in place."""
    __slots__ = ()

    def __add__(self, other):
        """Another of the same kind joins its parts (and base); an array of the full
        shape becomes (or is added to) the owned base; anything else (another kind of
        gradient) adds the dense array."""
        if type(other) is type(self) and tuple(other.shape) == self.shape:
            self.parts.extend(other.parts)
            self.dtype = backend.result_type(self.dtype, other.dtype)
            if other.base is not None:
                self._add_base(other.base, owned=True)
            return self
        if backend.is_array(other) and tuple(other.shape) == self.shape:
            self.dtype = backend.result_type(self.dtype, other.dtype)
            self._add_base(other, owned=False)
            return self
        return other + self.dense_array()

    __radd__ = __add__

    def _add_base(self, array, owned):
        if self.base is None:
            self.base = array if owned else array.astype(self.dtype, copy=True)
        elif self.base.dtype == backend.result_type(self.base.dtype, array.dtype):
            self.base += array                  # the base is ours: add in place
        else:
            self.base = self.base + array
