"""1-D convolution (PyTorch's cross-correlation, ``F.conv1d``) as three bilinear
primitives that are each other's adjoints, so that every order of gradient is a
convolution again:

    Conv1d(x, w)            y   = conv(x, w)             (the forward)
    Conv1dInputGrad(g, w)   dx  = conv^T(g, w)           (d<g, y>/dx, a transposed conv)
    Conv1dWeightGrad(x, g)  dw  = corr(x, g)             (d<g, y>/dw)

Shapes: x (N, C, L), w (O, C/G, K), y (N, O, L_out) with G groups,
L_out = floor((L + pad_l + pad_r - dilation * (K - 1) - 1) / stride) + 1.
Everything is computed with im2col: the (C * K, L_out) windows of the zero-padded
input are gathered with one integer index (x_pad[..., k * dilation + l * stride]),
and each group is one batched matrix product; the transpose scatters the columns
back with K strided slice additions (one per kernel tap: the positions of one tap
never collide). Only operations NumPy and CuPy share are used.
"""
from .. import backend
from ..autograd import Node, call
from ..errors import DTypeError, ShapeError


def output_length(length, kernel_size, stride, padding, dilation):
    return (length + padding[0] + padding[1] - dilation * (kernel_size - 1) - 1) // stride + 1


def _check(x, w, stride, padding, dilation, groups, op):
    if x.dtype != w.dtype:
        raise DTypeError(f"{op}: input ({x.dtype}) and weight ({w.dtype}) must have the same dtype")
    if x.ndim != 3 or w.ndim != 3:
        raise ShapeError(f"{op}: expected a 3-D input and weight, got shapes {x.shape} and "
                         f"{w.shape}")
    if x.shape[1] != w.shape[1] * groups or w.shape[0] % groups:
        raise ShapeError(f"{op}: given groups={groups}, weight of size {list(w.shape)}, expected "
                         f"input{list(x.shape)} to have {w.shape[1] * groups} channels, but got "
                         f"{x.shape[1]} channels instead")
    if output_length(x.shape[2], w.shape[2], stride, padding, dilation) < 1:
        raise ShapeError(f"{op}: calculated padded input size per channel: "
                         f"({x.shape[2] + padding[0] + padding[1]}). Kernel size: "
                         f"({dilation * (w.shape[2] - 1) + 1}). Kernel size can't be greater "
                         f"than actual input size")


def _pad(x, padding):
    """x zero-padded on the last axis by padding = (left, right)."""
    left, right = padding
    if left == 0 and right == 0:
        return x
    mod = backend.array_module(x)
    out = mod.zeros(x.shape[:-1] + (x.shape[-1] + left + right,), dtype=x.dtype)
    out[..., left:left + x.shape[-1]] = x
    return out


def _taps(kernel_size, n_out, stride, dilation, like):
    """(K, L_out) positions in the padded input: k * dilation + l * stride."""
    mod = backend.array_module(like)
    return (mod.arange(kernel_size)[:, None] * dilation
            + mod.arange(n_out)[None, :] * stride)


def _columns(x, kernel_size, n_out, stride, padding, dilation, groups):
    """im2col: (N, G, C/G * K, L_out), cols[n, g, c * K + k, l] = x_pad[n, g*C/G + c,
    k * dilation + l * stride]."""
    n, c = x.shape[:2]
    cols = _pad(x, padding)[..., _taps(kernel_size, n_out, stride, dilation, x)]
    return cols.reshape(n, groups, (c // groups) * kernel_size, n_out)


def _conv(x, w, stride, padding, dilation, groups):
    n, o, k = x.shape[0], w.shape[0], w.shape[2]
    n_out = output_length(x.shape[2], k, stride, padding, dilation)
    cols = _columns(x, k, n_out, stride, padding, dilation, groups)
    wg = w.reshape(groups, o // groups, -1)                  # (G, O/G, C/G * K)
    return (wg @ cols).reshape(n, o, n_out)                  # (N, G, O/G, L_out)


def _conv_transpose(g, w, length, stride, padding, dilation, groups):
    n, o, n_out = g.shape
    _, cg, k = w.shape
    wg = w.reshape(groups, o // groups, cg * k)
    wt = wg.transpose(0, 2, 1)                               # (G, C/G * K, O/G)
    cols = wt @ g.reshape(n, groups, o // groups, n_out)     # (N, G, C/G * K, L_out)
    cols = cols.reshape(n, groups * cg, k, n_out)
    mod = backend.array_module(g)
    padded = mod.zeros((n, groups * cg, length + padding[0] + padding[1]), dtype=g.dtype)
    span = stride * (n_out - 1) + 1
    for tap in range(k):
        start = tap * dilation
        padded[..., start:start + span:stride] += cols[:, :, tap]
    return padded[..., padding[0]:padding[0] + length]


def _conv_weight(x, g, kernel_size, stride, padding, dilation, groups):
    n, o, n_out = g.shape
    cols = _columns(x, kernel_size, n_out, stride, padding, dilation, groups)
    ckk = cols.shape[2]
    # sum over the batch and the positions as one product per group
    gg = g.reshape(n, groups, o // groups, n_out).transpose(1, 2, 0, 3).reshape(
        groups, o // groups, n * n_out)
    cc = cols.transpose(1, 0, 3, 2).reshape(groups, n * n_out, ckk)
    return (gg @ cc).reshape(o, ckk // kernel_size, kernel_size)


class Conv1d(Node):
    """y[n, o, l] = sum_{c, k} w[o, c, k] * x_pad[n, g(o) * C/G + c, l * stride + k * dilation]
      (g(o) = o // (O/G) the group of output channel o, x_pad zero-padded by
      padding = (left, right); PyTorch's cross-correlation, no kernel flip)
    dx = Conv1dInputGrad(dy, w)    dx[n, i, j] = sum over (o, k, l) with
                                     l * stride + k * dilation = j + left  of  w[o, c, k] * dy[n, o, l]
    dw = Conv1dWeightGrad(x, dy)   dw[o, c, k] = sum_{n, l} dy[n, o, l]
                                     * x_pad[n, g(o) * C/G + c, l * stride + k * dilation]
    """

    def forward(self, x, w, stride=1, padding=(0, 0), dilation=1, groups=1):
        _check(x, w, stride, padding, dilation, groups, "conv1d")
        self.params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        return _conv(x, w, **self.params)

    def backward(self, g):
        x, w = self.saved_inputs()
        dx = dw = None
        if self.needs_input_grad[0]:
            dx = call(Conv1dInputGrad, g, w, length=x.shape[2], **self.params)
        if self.needs_input_grad[1]:
            dw = call(Conv1dWeightGrad, x, g, kernel_size=w.shape[2], **self.params)
        return dx, dw


class Conv1dInputGrad(Node):
    """z = conv^T(g, w), the adjoint of Conv1d in x: <z, v> = <g, Conv1d(v, w)> for all v
    of shape (N, C, length)  (g (N, O, L_out), z (N, C, length));
    dg = Conv1d(dz, w),  dw = Conv1dWeightGrad(dz, g)"""

    def forward(self, g, w, length, stride=1, padding=(0, 0), dilation=1, groups=1):
        if g.dtype != w.dtype or g.ndim != 3 or w.ndim != 3 or g.shape[1] != w.shape[0]:
            raise ShapeError(f"conv1d input grad: gradient {g.shape} ({g.dtype}) does not fit "
                             f"weight {w.shape} ({w.dtype})")
        self.params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        return _conv_transpose(g, w, length, **self.params)

    def backward(self, dz):
        g, w = self.saved_inputs()
        dg = dw = None
        if self.needs_input_grad[0]:
            dg = call(Conv1d, dz, w, **self.params)
        if self.needs_input_grad[1]:
            dw = call(Conv1dWeightGrad, dz, g, kernel_size=w.shape[2], **self.params)
        return dg, dw


class Conv1dWeightGrad(Node):
    """z = corr(x, g), the adjoint of Conv1d in w: <z, v> = <g, Conv1d(x, v)> for all v
    of shape (O, C/G, kernel_size)  (x (N, C, L), g (N, O, L_out));
    dx = Conv1dInputGrad(g, dz),  dg = Conv1d(x, dz)"""

    def forward(self, x, g, kernel_size, stride=1, padding=(0, 0), dilation=1, groups=1):
        if x.dtype != g.dtype or x.ndim != 3 or g.ndim != 3 or x.shape[0] != g.shape[0]:
            raise ShapeError(f"conv1d weight grad: input {x.shape} ({x.dtype}) does not fit "
                             f"gradient {g.shape} ({g.dtype})")
        self.params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        return _conv_weight(x, g, kernel_size, **self.params)

    def backward(self, dz):
        x, g = self.saved_inputs()
        dx = dg = None
        if self.needs_input_grad[0]:
            dx = call(Conv1dInputGrad, g, dz, length=x.shape[2], **self.params)
        if self.needs_input_grad[1]:
            dg = call(Conv1d, x, dz, **self.params)
        return dx, dg
