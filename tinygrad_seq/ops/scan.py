"""Scans along one axis: cumulative sum and cumulative product.

Both take ``axis`` (an int, already normalised by the caller) and keep the input's
shape. Integer and bool inputs accumulate in int64, as in PyTorch.
"""
from .. import backend
from ..autograd import Node, Tensor, call
from .movement import Cat


def _acc_dtype(x):
    """int64 for bool and integer arrays (PyTorch's cumsum/cumprod), else x's dtype."""
    return backend.int64 if x.dtype.kind in "biu" else x.dtype


class CumSum(Node):
    """y_k = sum_{j <= k} x_j along axis (``reverse``: sum_{j >= k} x_j)
    dx_k = sum_{j >= k} dy_j   (the reverse scan of dy; a reverse scan's is the forward one)"""
    reads_inputs = False

    def forward(self, x, axis, reverse=False):
        mod = backend.array_module(x)
        self.axis, self.reverse = axis, reverse
        if not reverse:
            return mod.cumsum(x, axis=axis, dtype=_acc_dtype(x))
        return mod.flip(mod.cumsum(mod.flip(x, axis), axis=axis, dtype=_acc_dtype(x)), axis)

    def backward(self, g):
        return (call(CumSum, g, axis=self.axis, reverse=not self.reverse),)


class CumProd(Node):
    """y_k = prod_{j <= k} x_j along axis
    dx_k = sum_{j >= k} dy_j prod_{i <= j, i != k} x_i
         = reverse_cumsum(dy * y)_k / x_k                    when no x is 0,
         = y_{k-1} * S_k,  S_k = dy_k + x_{k+1} S_{k+1}      otherwise (exact at zeros,
           one step per position along the axis)"""
    reads_outputs = True

    def forward(self, x, axis):
        self.axis = axis
        return backend.array_module(x).cumprod(x, axis=axis, dtype=_acc_dtype(x))

    def backward(self, g):
        (x,) = self.saved_inputs()
        y = self.saved_output()
        raw = x.array if isinstance(x, Tensor) else x
        if not bool((raw == 0).any()):
            return (call(CumSum, g * y, axis=self.axis, reverse=True) / x,)
        axis, n = self.axis, x.shape[self.axis]

        def at(t, k):   # slice k along the axis, the axis kept with size 1
            return t[(slice(None),) * axis + (slice(k, k + 1),)]
        s = at(g, n - 1)
        parts = [None] * n
        for k in range(n - 1, -1, -1):
            if k < n - 1:
                s = at(g, k) + at(x, k + 1) * s
            parts[k] = s if k == 0 else at(y, k - 1) * s
        return (call(Cat, *parts, axis=axis),)

