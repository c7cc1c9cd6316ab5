"""Primitives that move or convert elements without arithmetic: reshape, permute,
concatenation and splitting, casts. (Broadcasting is in reduce.py beside its adjoint,
sum; indexing in indexing.py.)

Views: reshape, permute and split return arrays that may share memory with their
input; their outputs share the input's version counter (``is_view``), so an in-place
change through either is seen by every node that saved the other.
"""
from .. import backend
from ..autograd import Node, call
from ..errors import ShapeError


class Reshape(Node):
    """y = x.reshape(shape);  dx = dy.reshape(x.shape)"""
    reads_inputs = False
    is_view = True

    def forward(self, x, shape):
        self.in_shape = x.shape
        return x.reshape(shape)

    def backward(self, g):
        return (g.reshape(self.in_shape),)


class Permute(Node):
    """y = x.transpose(axes);  dx = dy.transpose(argsort(axes))"""
    reads_inputs = False
    is_view = True

    def forward(self, x, axes):
        if sorted(a % x.ndim if x.ndim else a for a in axes) != list(range(x.ndim)) or len(axes) != x.ndim:
            raise ShapeError(f"permute: axes {tuple(axes)} are not a permutation of the "
                             f"{x.ndim} axes of a tensor of shape {x.shape}")
        self.axes = tuple(a % x.ndim for a in axes)
        return x.transpose(self.axes)

    def backward(self, g):
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return (call(Permute, g, axes=tuple(inverse)),)


class Cat(Node):
    """y = concatenate(xs, axis);  dx_i = dy[..., start_i:end_i, ...] (one Split)"""
    reads_inputs = False

    def forward(self, *xs, axis):
        if not xs:
            raise ShapeError("cat: expected a non-empty sequence of tensors")
        mod = backend.array_module(xs[0])
        try:
            out = mod.concatenate(xs, axis=axis)
        except ValueError as e:
            raise ShapeError(f"cat: cannot concatenate shapes {[x.shape for x in xs]} along "
                             f"axis {axis}: {e}") from e
        self.axis = axis % out.ndim
        self.dtypes = tuple([x.dtype for x in xs])   # each input's gradient in its dtype
        sizes = [x.shape[self.axis] for x in xs]
        self.bounds = [sum(sizes[:i + 1]) for i in range(len(sizes) - 1)]
        return out

    def backward(self, g):
        parts = call(Split, g, bounds=self.bounds, axis=self.axis)
        parts = parts if isinstance(parts, tuple) else (parts,)
        # mixed dtypes: each input gets its gradient in its own dtype
        return tuple(p if p.dtype == d else p.astype(d) for p, d in zip(parts, self.dtypes))


class Split(Node):
    """ys = split(x, bounds, axis) (pieces between the bounds);  dx = concatenate(dys)
    (a missing dy counts as zeros)"""
    reads_inputs = False
    is_view = True

    def forward(self, x, bounds, axis):
        mod = backend.array_module(x)
        self.axis = axis
        pieces = mod.split(x, list(bounds), axis=axis)
        return tuple(pieces) if len(pieces) > 1 else pieces[0]

    def backward(self, *gs):
        return (call(Cat, *gs, axis=self.axis),)


class Cast(Node):
    """y = x as `dtype` on `device` (always a new array: also ``clone``)
    dx = dy cast back to x's dtype and device"""
    reads_inputs = False

    def forward(self, x, dtype, device):
        self.in_dtype, self.in_device = x.dtype, backend.device_of(x)
        return backend.to_device(x, device).astype(dtype, copy=True)

    def backward(self, g):
        return (call(Cast, g, dtype=self.in_dtype, device=self.in_device),)
