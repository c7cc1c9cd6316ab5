"""Normalization functions with PyTorch's names: ``F.layer_norm`` (Ba et al., 2016),
``F.batch_norm`` (Ioffe & Szegedy, 2015), ``F.normalize``."""
from ..checks import check_sizes
from ..errors import ShapeError
from ..ops.normalization import LayerNorm
from ..tensor import float16_in_float32, float_tensor, tensor_arg


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


@float16_in_float32
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """y = (x - mean) / sqrt(var + eps) * weight + bias per channel (axis 1), as
    torch.nn.functional.batch_norm.

    ``training=True``: mean and (biased) var are the batch's, over every axis but 1,
    and, when given, the running statistics are updated in place (outside the graph):
    running = (1 - momentum) * running + momentum * batch, with the unbiased variance
    (var * n / (n - 1), n the values per channel) for ``running_var``.
    ``training=False``: the running statistics are used (constants)."""
    x = float_tensor(tensor_arg(input, "batch_norm"), "batch_norm")
    if x.ndim < 2:
        raise ShapeError(f"batch_norm: expected an input with at least 2 axes (N, C, ...), "
                         f"got shape {tuple(x.shape)}")
    channels = x.shape[1]
    stat_shape = (1, channels) + (1,) * (x.ndim - 2)
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (channels,):
            raise ShapeError(f"batch_norm: {name} must have shape ({channels},) for an input "
                             f"of shape {tuple(x.shape)}, got {tuple(t.shape)}")
    if training:
        count = x.numel() // channels if channels else 0
        if count <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input size {tuple(x.shape)}")
        axes = (0,) + tuple(range(2, x.ndim))
        mean = x.mean(axes, keepdim=True)
        centered = x - mean
        var = (centered * centered).mean(axes, keepdim=True)
        y = centered * (var + eps).rsqrt()
        _update_running(running_mean, mean, momentum)
        _update_running(running_var, var, momentum, count / (count - 1))
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var must be given when "
                             "training=False")
        mean = running_mean.detach().reshape(stat_shape)
        var = running_var.detach().reshape(stat_shape)
        y = (x - mean) * (var + eps).rsqrt()
    if weight is not None:
        y = y * weight.reshape(stat_shape)
    if bias is not None:
        y = y + bias.reshape(stat_shape)
    return y


def _update_running(running, batch, momentum, scale=1.0):
    """running = momentum * batch * scale + (1 - momentum) * running, in place."""
    if running is None:
        return
    stat = batch.detach().array.reshape(-1)
    if scale != 1.0:
        stat = stat * scale
    r = running.array
    r[...] = momentum * stat.astype(r.dtype, copy=False) + (1 - momentum) * r
    running._version[0] += 1


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """x / max(||x||_p, eps), the p-norm taken along ``dim`` (torch.nn.functional.
    normalize; by default each row of a matrix scaled to unit Euclidean length)."""
    if out is not None:
        raise TypeError("normalize: out= is not supported; use the returned tensor")
    x = float_tensor(tensor_arg(input, "normalize"), "normalize")
    return x / x.norm(p, dim, keepdim=True).clamp(min=eps)
