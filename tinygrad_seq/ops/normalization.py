"""Fused layer normalization: one primitive for the normalization itself (the affine
part, weight and bias, is an ordinary Mul and Add in ``F.layer_norm``).

Composed from primitives, y = (x - mean) / sqrt(var + eps) records about ten nodes
whose backward makes some twenty passes over the data; the fused rule below makes
seven. It returns the reciprocal standard deviation as a second output so that its
backward reads only its own outputs (y, r) and stays differentiable: with
``create_graph=True`` the saved outputs are Tensors made by this node, and the graph
of the gradient runs through it again.
"""
from .. import backend
from ..autograd import Node, Tensor
from ..backend import float_array
from ..errors import ShapeError


class LayerNorm(Node):
    """Normalize over the last `n_axes` axes (n elements per row); two outputs:
        mu = mean(x),  r = 1 / sqrt(mean((x - mu)^2) + eps),  y = (x - mu) * r
    dx = r * (dy - mean(dy) - y * mean(dy * y)) - dr * r^2 * y / n
    (means over the normalized axes; dr has the shape of r, one value per row)"""
    reads_inputs = False
    reads_outputs = True

    def forward(self, x, n_axes, eps):
        x = float_array(x, "layer_norm")
        if not 0 < n_axes <= x.ndim:
            raise ShapeError(f"layer_norm: cannot normalize the last {n_axes} axes of a tensor "
                             f"of shape {x.shape}")
        self.axes = tuple(range(x.ndim - n_axes, x.ndim))
        n = 1
        for a in self.axes:
            n *= x.shape[a]
        self.n = n
        mod = backend.array_module(x)
        centred = x - x.mean(axis=self.axes, keepdims=True)
        var = mod.square(centred).mean(axis=self.axes, keepdims=True)
        r = 1.0 / mod.sqrt(var + eps)
        r = r.astype(x.dtype, copy=False)
        centred *= r
        return centred, r

    def backward(self, gy, gr):
        y, r = self.saved_output(0), self.saved_output(1)
        axes = self.axes
        dx = (gy - gy.mean(axis=axes, keepdims=True)
              - y * (gy * y).mean(axis=axes, keepdims=True)) * r
        # the second output's gradient: zeros (filled in by the engine) unless r was used
        data = gr.array if isinstance(gr, Tensor) else gr
        if getattr(gr, "requires_grad", False) or bool(data.any()):
            dx = dx - gr * r * r * y * (1.0 / self.n)
        return (dx,)
