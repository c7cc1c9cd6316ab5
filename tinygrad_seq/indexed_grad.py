"""The gradient of a tensor read piece by piece, kept as its pieces until it is needed.

A loop such as ``for t in range(T): h = cell(x[:, t], h)`` reads x T times. The
gradient of each read is x's shape with the read's gradient at its index; adding T of
them as full arrays costs T passes over x in backward (quadratic in T). Instead the
backward of an index read (ops.indexing.GetItem, on the CPU and without create_graph)
returns an ``IndexedGrad``: the parts (index, values) and, once a dense gradient has
joined, an owned dense base. Sums of them only collect parts; the engine makes the
array (base, or zeros, plus every part added at its index) once, when x's node runs its
backward or x's ``.grad`` is stored. An ``IndexedGrad`` lives only in the engine's
gradient slots and is referenced once, so adding to it may change it in place. It
implements the gradient protocol of sparse_grad.py (kept_in_grad False: the engine
calls ``dense_array()`` before any rule, hook or ``.grad`` sees it).
"""
from . import backend
from .sparse_grad import LazySum


class IndexedGrad(LazySum):
    """Lazy sum of index gradients (see the module): ``dense_array()`` gives the array."""
    __slots__ = ("shape", "dtype", "parts", "base")

    def __init__(self, shape, dtype, parts, base=None):
        self.shape, self.dtype, self.parts, self.base = tuple(shape), dtype, parts, base

    def add_to_(self, array, alpha=1.0):
        """array += alpha * (base + every part at its index), in place; returns array
        (repeated integer indices adding up, as ``np.add.at``)."""
        if self.base is not None:
            array += self.base if alpha == 1 else alpha * self.base
        for index, values, basic in self.parts:
            backend.add_at(array, index, values if alpha == 1 else alpha * values, unique=basic)
        return array

    def dense_array(self):
        """The gradient as one array: the base (or zeros) with every part added at its
        index. The parts are consumed: the result becomes the base."""
        out = self.base
        if out is None or out.dtype != self.dtype:
            mod = backend.array_module(self.parts[0][1] if self.parts else out)
            out = mod.zeros(self.shape, dtype=self.dtype) if out is None else out.astype(self.dtype)
        self.base = None
        self.add_to_(out)
        self.parts, self.base = [], out
        return out

    def mul_(self, scalar):
        """Scale in place (the parts' values may be views of other gradients: they are
        replaced by scaled copies; the base is owned)."""
        self.parts = [(index, values * scalar, basic) for index, values, basic in self.parts]
        if self.base is not None:
            self.base *= scalar
        return self

    def is_finite(self):
        """Whether every value (parts and base) is finite (for detect_anomaly)."""
        arrays = [v for _, v, _ in self.parts] + ([] if self.base is None else [self.base])
        return all(bool(backend.array_module(a).isfinite(a).all()) for a in arrays)
