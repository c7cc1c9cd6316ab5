"""Linear: y = x W^T + b, with torch.nn.Linear's parameter shapes and initialisation."""
import math

from ..checks import check_nonnegative_int
from ..creation import empty
from ..errors import ShapeError
from . import init
from .module import Module, Parameter


class Linear(Module):
    """y = x @ weight.T + bias; weight (out_features, in_features), bias (out_features,),
    both U(-1/sqrt(in_features), 1/sqrt(in_features)) as in PyTorch (its
    kaiming_uniform_(a=sqrt(5)) on the weight works out to that bound)."""

    def __init__(self, in_features, out_features, bias=True, dtype=None, device=None):
        super().__init__()
        self.in_features = check_nonnegative_int(in_features, "in_features", "Linear")
        self.out_features = check_nonnegative_int(out_features, "out_features", "Linear")
        self.weight = Parameter(empty(out_features, in_features, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_features, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        if x.shape[-1:] != (self.in_features,):
            raise ShapeError(f"Linear: expected input with last dim {self.in_features}, got "
                             f"shape {tuple(x.shape)}")
        lead = tuple(x.shape[:-1])
        if len(lead) > 1:
            # (N, T, in) as one (N*T, in) @ (in, out): one GEMM forward and one per
            # gradient, rather than a product per batch entry
            x = x.reshape(-1, self.in_features)
        y = x @ self.weight.mT
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(lead + (self.out_features,)) if len(lead) > 1 else y

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet (torch.nn.UninitializedParameter): it
    holds no values until ``materialize(shape)`` gives it its shape and makes it an
    ordinary Parameter, as lazy modules do on their first input."""
    __slots__ = ()

    def __init__(self, requires_grad=True, device=None, dtype=None):
        super().__init__(empty(0, dtype=dtype, device=device), requires_grad=requires_grad)

    def materialize(self, shape, device=None, dtype=None):
        data = empty(*shape, dtype=self.dtype if dtype is None else dtype,
                     device=self.device if device is None else device)
        self.array = data.array
        self._version[0] += 1
        self.__class__ = Parameter

    def __repr__(self):
        return "<UninitializedParameter>"


class LazyLinear(Linear):
    """torch.nn.LazyLinear: a Linear whose in_features is read from the first input
    (d2l builds its models with it). Until then weight and bias are
    UninitializedParameters; the first forward materializes them as (out_features,
    in_features) and (out_features,), initialises them as Linear does, and the module
    becomes a Linear (torch's ``cls_to_become``), so ``type(m) == nn.Linear``."""
    cls_to_become = Linear

    def __init__(self, out_features, bias=True, dtype=None, device=None):
        Module.__init__(self)
        self.in_features = 0
        self.out_features = check_nonnegative_int(out_features, "out_features", "LazyLinear")
        self.weight = UninitializedParameter(dtype=dtype, device=device)
        if bias:
            self.bias = UninitializedParameter(dtype=dtype, device=device)
        else:
            self.register_parameter("bias", None)

    def has_uninitialized_params(self):
        return any(isinstance(p, UninitializedParameter) for p in (self.weight, self.bias))

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input):
        if self.has_uninitialized_params():
            self.in_features = int(input.shape[-1])
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()
        else:                     # materialized by load_state_dict
            self.in_features = int(self.weight.shape[1])
        self.__class__ = self.cls_to_become

    def forward(self, x):
        self.initialize_parameters(x)
        return Linear.forward(self, x)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
