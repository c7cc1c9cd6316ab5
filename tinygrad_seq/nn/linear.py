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
