"""Convolution, PyTorch's ``F.conv1d`` (a cross-correlation), on the primitives of
``ops/conv.py``; the non-zero padding modes of ``nn.Conv1d`` are ``F.pad``'s."""
import operator

from ..errors import ShapeError
from ..ops.conv import Conv1d
from ..tensor import tensor_arg

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _one(value, name, op, minimum):
    """An int, or a 1-element tuple/list of one, checked to be >= minimum."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ShapeError(f"{op}: expected {name} to be a single integer value or a list of 1 "
                             f"values to match the convolution dimensions, but got "
                             f"{name}={list(value)}")
        value = value[0]
    if isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int, got {type(value).__name__}") from None
    if value < minimum:
        kind = "negative" if minimum == 0 else "non-positive"
        raise ShapeError(f"{op}: {kind} {name} is not supported (got {value})")
    return value


def same_padding(kernel_size, dilation):
    """(left, right) for padding='same': the total d * (K - 1) split as PyTorch does,
    the odd element on the right."""
    total = dilation * (kernel_size - 1)
    return total // 2, total - total // 2


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """y[n, o, l] = bias[o] + sum_{c, k} weight[o, c, k] * x_pad[n, g * C/G + c,
    l * stride + k * dilation], input (N, C_in, L) or unbatched (C_in, L), weight
    (C_out, C_in / groups, K), bias (C_out,) or None; padding an int (zeros on both
    sides), 'valid' (none) or 'same' (output as long as the input; stride 1 only)."""
    op = "conv1d"
    x = tensor_arg(input, op)
    w = tensor_arg(weight, op, "weight", like=x)
    stride = _one(stride, "stride", op, 1)
    dilation = _one(dilation, "dilation", op, 1)
    if isinstance(groups, bool) or not isinstance(groups, int):
        raise TypeError(f"{op}: groups must be an int, got {groups!r}")
    if groups < 1:
        raise ShapeError(f"{op}: non-positive groups is not supported (got {groups})")
    if x.ndim not in (2, 3):
        raise ShapeError(f"{op}: expected 2D (unbatched) or 3D (batched) input to conv1d, but "
                         f"got input of size: {list(x.shape)}")
    if w.ndim != 3:
        raise ShapeError(f"{op}: expected a 3-D weight (out_channels, in_channels / groups, "
                         f"kernel_size), got size {list(w.shape)}")
    if isinstance(padding, str):
        if padding == "valid":
            pads = (0, 0)
        elif padding == "same":
            if stride != 1:
                raise ShapeError(f"{op}: padding='same' is not supported for strided convolutions")
            pads = same_padding(w.shape[2], dilation)
        else:
            raise ShapeError(f"{op}: invalid padding string: {padding!r} (use 'valid' or 'same')")
    else:
        p = _one(padding, "padding", op, 0)
        pads = (p, p)
    if bias is not None:
        bias = tensor_arg(bias, op, "bias", like=x)
        if tuple(bias.shape) != (w.shape[0],):
            raise ShapeError(f"{op}: given weight of size {list(w.shape)}, expected bias to be "
                             f"1-dimensional with {w.shape[0]} elements, but got bias of size "
                             f"{list(bias.shape)} instead")
    unbatched = x.ndim == 2
    if unbatched:
        x = x.reshape((1,) + tuple(x.shape))
    y = Conv1d.apply(x, w, stride=stride, padding=pads, dilation=dilation, groups=groups)
    if bias is not None:
        y = y + bias.reshape(-1, 1)
    return y.reshape(tuple(y.shape[1:])) if unbatched else y
