"""The gradient of a matrix used in many products, kept as its factors until needed.

A recurrent cell written from primitives multiplies the same weight at every step
(``W @ stacked`` in the notes' LSTM cell, ``h @ W_hh^T`` in a composed layer). The
weight's gradient is then a sum of T products, dW = sum_t g_t @ x_t^T: computed one by
one, that is T thin matrix products (inner size a batch) and T additions of a full
(M, K) matrix, memory-bound work that the hand-written floor does as one product over
all steps. So the backward of a 2-D matmul (ops.linalg.MatMul, without create_graph)
returns a ``ProductGrad``: the factor pairs (A_t, B_t) of sum_t A_t @ B_t and, once a
dense gradient has joined, an owned dense base. Sums of them only collect pairs; the
engine makes the array once, when the tensor's node runs its backward or its
``.grad`` is stored, as one product of the factors side by side:
[A_1 ... A_T] @ [B_1; ...; B_T]. It implements the gradient protocol of
sparse_grad.py (kept_in_grad False), as IndexedGrad does; the factors are arrays other
parts of the graph hold, never written.
"""
from . import backend
from .sparse_grad import LazySum


class ProductGrad(LazySum):
    """Lazy sum of matrix products (see the module): ``dense_array()`` gives the array."""
    __slots__ = ("shape", "dtype", "parts", "base")

    def __init__(self, shape, dtype, parts, base=None):
        self.shape, self.dtype, self.parts, self.base = tuple(shape), dtype, parts, base

    def _product(self):
        """sum_t A_t @ B_t as one product of the factors side by side."""
        if len(self.parts) == 1:
            a, b = self.parts[0]
            return a @ b
        mod = backend.array_module(self.parts[0][0])
        a = mod.concatenate([p[0] for p in self.parts], axis=1)
        b = mod.concatenate([p[1] for p in self.parts], axis=0)
        return a @ b

    def add_to_(self, array, alpha=1.0):
        """array += alpha * (base + sum_t A_t @ B_t), in place; returns array."""
        if self.base is not None:
            array += self.base if alpha == 1 else alpha * self.base
        if self.parts:
            product = self._product()
            array += product if alpha == 1 else alpha * product
        return array

    def dense_array(self):
        """The gradient as one array (the pairs are consumed: it becomes the base)."""
        out = self._product() if self.parts else None
        if out is not None and out.dtype != self.dtype:
            out = out.astype(self.dtype)
        if self.base is not None:
            out = self.base if out is None else self.base + out
        self.parts, self.base = [], out
        return out

    def mul_(self, scalar):
        """Scale in place (the factors belong to others: the first of each pair is
        replaced by a scaled copy; the base is owned)."""
        self.parts = [(a * scalar, b) for a, b in self.parts]
        if self.base is not None:
            self.base *= scalar
        return self

    def is_finite(self):
        """Whether the gradient is finite (for detect_anomaly): the dense array's check."""
        out = self.dense_array()
        return bool(backend.array_module(out).isfinite(out).all())
