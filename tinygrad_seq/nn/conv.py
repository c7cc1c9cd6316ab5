"""Conv1d: a 1-D convolution layer with torch.nn.Conv1d's arguments, parameter names,
shapes, initialisation and repr."""
import math
import operator

from ..creation import empty
from ..errors import ShapeError
from ..functional.conv import PADDING_MODES, conv1d, same_padding
from ..functional.padding import pad
from . import init
from .module import Module, Parameter


def _int(value, name, minimum=0):
    if isinstance(value, bool):
        raise TypeError(f"Conv1d: {name} must be an int, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"Conv1d: {name} must be an int, got {type(value).__name__}") from None
    if value < minimum:
        raise ValueError(f"Conv1d: {name} must be >= {minimum}, got {value}")
    return value


def _single(value, name, minimum):
    """torch's _single: an int or a 1-tuple, stored as a 1-tuple."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"Conv1d: {name} must be an int or a 1-tuple, got {value!r}")
        value = value[0]
    return (_int(value, name, minimum),)


class Conv1d(Module):
    """y = conv1d(x, weight, bias) over input (N, C_in, L) or (C_in, L) (see F.conv1d);
    weight (out_channels, in_channels / groups, kernel_size) and bias (out_channels,),
    both U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels / groups *
    kernel_size, as in PyTorch (kaiming_uniform_(a=sqrt(5)) on the weight).
    padding: an int, 'valid' or 'same'; padding_mode 'zeros', 'reflect', 'replicate'
    or 'circular' (the input is padded with that mode, then convolved without padding)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        self.in_channels = _int(in_channels, "in_channels")
        self.out_channels = _int(out_channels, "out_channels")
        self.groups = _int(groups, "groups")
        if self.groups <= 0:
            raise ValueError("Conv1d: groups must be a positive integer")
        if self.in_channels % self.groups != 0:
            raise ValueError("Conv1d: in_channels must be divisible by groups")
        if self.out_channels % self.groups != 0:
            raise ValueError("Conv1d: out_channels must be divisible by groups")
        self.kernel_size = _single(kernel_size, "kernel_size", 1)
        self.stride = _single(stride, "stride", 1)
        self.dilation = _single(dilation, "dilation", 1)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Conv1d: invalid padding string {padding!r}, should be one of "
                                 f"{{'valid', 'same'}}")
            if padding == "same" and self.stride != (1,):
                raise ValueError("Conv1d: padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = _single(padding, "padding", 0)
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"Conv1d: padding_mode must be one of {list(PADDING_MODES)}, but got "
                             f"padding_mode={padding_mode!r}")
        self.padding_mode = padding_mode
        self.transposed = False
        self.output_padding = (0,)
        if self.padding == "same":
            self._pads = same_padding(self.kernel_size[0], self.dilation[0])
        elif self.padding == "valid":
            self._pads = (0, 0)
        else:
            self._pads = (self.padding[0], self.padding[0])
        self.weight = Parameter(empty(self.out_channels, self.in_channels // self.groups,
                                      self.kernel_size[0], dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(self.out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        fan_in = (self.in_channels // self.groups) * self.kernel_size[0]
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        if x.ndim not in (2, 3) or x.shape[-2] != self.in_channels:
            raise ShapeError(f"Conv1d: expected input (N, {self.in_channels}, L) or "
                             f"({self.in_channels}, L), got shape {tuple(x.shape)}")
        if self.padding_mode != "zeros":
            x = pad(x, self._pads, mode=self.padding_mode)     # as torch's Conv1d
            padding = 0
        else:
            padding = self.padding if isinstance(self.padding, str) else self.padding[0]
        return conv1d(x, self.weight, self.bias, self.stride[0], padding, self.dilation[0],
                      self.groups)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,):
            s += f", padding={self.padding}"
        if self.dilation != (1,):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s
