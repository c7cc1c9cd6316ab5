"""Layer normalization (Ba et al., 2016), PyTorch's ``F.layer_norm``."""
from ..checks import check_sizes
from ..errors import ShapeError
from ..ops.normalization import LayerNorm
from ..tensor import float16_in_float32, tensor_arg


def _shape(normalized_shape, op="layer_norm"):
    """normalized_shape (an int or a sequence of ints, each >= 0) as a tuple of ints."""
    if hasattr(normalized_shape, "__index__"):
        normalized_shape = (normalized_shape,)
    elif not isinstance(normalized_shape, (tuple, list)):
        raise TypeError(f"{op}: normalized_shape must be an integer or a sequence of integers, "
                        f"got {normalized_shape!r} ({type(normalized_shape).__name__})")
    return check_sizes(normalized_shape, op)


@float16_in_float32      # float16 variances overflow for a std above 256
def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, the mean and the (biased)
    variance taken over the trailing axes ``normalized_shape``; ``weight`` and ``bias``
    (optional) have that shape. The normalization is one fused primitive
    (``ops/normalization.py``)."""
    x = tensor_arg(x, "layer_norm")
    shape = _shape(normalized_shape)
    if not shape or tuple(x.shape[x.ndim - len(shape):]) != shape or len(shape) > x.ndim:
        raise ShapeError(f"layer_norm: input of shape {tuple(x.shape)} does not end with "
                         f"normalized_shape {shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise ShapeError(f"layer_norm: {name} must have shape {shape}, got {tuple(t.shape)}")
    y = LayerNorm.apply(x, n_axes=len(shape), eps=eps)[0]
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y
