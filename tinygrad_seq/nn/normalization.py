"""LayerNorm, torch.nn.LayerNorm's parameters and forward."""
from ..checks import check_nonnegative
from ..creation import ones, zeros
from ..functional.normalization import _shape, layer_norm
from .module import Module, Parameter


class LayerNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the trailing axes
    ``normalized_shape`` (biased variance). ``weight`` (ones) and ``bias`` (zeros) have
    shape ``normalized_shape``; none with ``elementwise_affine=False``, no bias with
    ``bias=False``."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 dtype=None, device=None):
        super().__init__()
        self.normalized_shape = _shape(normalized_shape, "LayerNorm")
        self.eps = check_nonnegative(eps, "eps", "LayerNorm")
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(self.normalized_shape, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(zeros(self.normalized_shape, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")
