"""Fused primitives for neural networks: softmax and log_softmax (stable, each with one
fused backward that is itself a differentiable primitive) and dropout.

The softmax family computes float16 inputs in float32 and returns float16 (its sums
overflow float16 on long axes otherwise), as PyTorch on the CPU."""
from .. import backend
from ..autograd import Node, call
from ..backend import float_array
from .elementwise import Exp
from .reduce import float16, float32, is_half, normalize_axes


def _axis(axis, ndim, op):
    return normalize_axes(axis, ndim, op)[0] if ndim else None


class Softmax(Node):
    """y = exp(x - max x) / sum(exp(x - max x)) along axis
    dx = y * (dy - sum(dy * y))   (SoftmaxGrad, one fused step)"""
    reads_inputs = False
    reads_outputs = True

    def forward(self, x, axis=-1):
        mod = backend.array_module(x)
        x = float_array(x, "softmax")
        if is_half(x):
            return self.forward(x.astype(float32), axis).astype(float16)
        self.axis = _axis(axis, x.ndim, "softmax")
        if not x.size:          # an empty axis has no max; the result is empty (PyTorch)
            return x.copy()
        e = mod.exp(x - x.max(axis=self.axis, keepdims=True))
        e /= e.sum(axis=self.axis, keepdims=True)
        return e

    def backward(self, g):
        return (call(SoftmaxGrad, g, self.saved_output(), axis=self.axis),)


class SoftmaxGrad(Node):
    """z = y * (g - sum(g * y))  (the backward of softmax, for y = softmax(x))
    dg = SoftmaxGrad(dz, y) = y * (dz - sum(dz * y))
    dy = dz * (g - sum(g * y)) - g * sum(dz * y)"""

    def forward(self, g, y, axis):
        self.axis = axis
        if is_half(g):
            return self.forward(g.astype(float32), y.astype(float32), axis).astype(float16)
        return y * (g - (g * y).sum(axis=axis, keepdims=True))

    def backward(self, dz):
        g, y = self.saved_inputs()
        dg = call(SoftmaxGrad, dz, y, axis=self.axis) if self.needs_input_grad[0] else None
        dy = None
        if self.needs_input_grad[1]:
            s = (g * y).sum(axis=self.axis, keepdims=True)
            dy = dz * (g - s) - g * (dz * y).sum(axis=self.axis, keepdims=True)
        return dg, dy


class LogSoftmax(Node):
    """y = x - max x - log(sum(exp(x - max x))) along axis
    dx = dy - exp(y) * sum(dy)   (LogSoftmaxGrad, one fused step)"""
    reads_inputs = False
    reads_outputs = True

    def forward(self, x, axis=-1):
        mod = backend.array_module(x)
        x = float_array(x, "log_softmax")
        if is_half(x):
            return self.forward(x.astype(float32), axis).astype(float16)
        self.axis = _axis(axis, x.ndim, "log_softmax")
        if not x.size:          # an empty axis has no max; the result is empty (PyTorch)
            return x.copy()
        shifted = x - x.max(axis=self.axis, keepdims=True)
        shifted -= mod.log(mod.exp(shifted).sum(axis=self.axis, keepdims=True))
        return shifted

    def backward(self, g):
        return (call(LogSoftmaxGrad, g, self.saved_output(), axis=self.axis),)


class LogSoftmaxGrad(Node):
    """z = g - exp(y) * sum(g)  (the backward of log_softmax, for y = log_softmax(x))
    dg = dz - sum(dz * exp(y)),   dy = -dz * exp(y) * sum(g)"""

    def forward(self, g, y, axis):
        self.axis = axis
        if is_half(g):
            return self.forward(g.astype(float32), y.astype(float32), axis).astype(float16)
        mod = backend.array_module(g)
        return g - mod.exp(y) * g.sum(axis=axis, keepdims=True)

    def backward(self, dz):
        g, y = self.saved_inputs()
        p = call(Exp, y)
        dg = dy = None
        if self.needs_input_grad[0]:
            dg = dz - (dz * p).sum(axis=self.axis, keepdims=True)
        if self.needs_input_grad[1]:
            dy = -dz * p * g.sum(axis=self.axis, keepdims=True)
        return dg, dy


class Dropout(Node):
    """y = x * m / (1 - p) with m ~ Bernoulli(1 - p) drawn from the framework's
    generator;  dx = dy * m / (1 - p)"""
    reads_inputs = False

    def forward(self, x, p):
        mod = backend.array_module(x)
        x = float_array(x, "dropout")
        keep = backend.generator(backend.device_of(x)).random(x.shape, dtype=x.dtype) >= p
        self.scale = (keep * (1.0 / (1.0 - p))).astype(x.dtype, copy=False) if p < 1 else \
            mod.zeros(x.shape, dtype=x.dtype)
        return x * self.scale

    def backward(self, g):
        return (g * self.scale,)
