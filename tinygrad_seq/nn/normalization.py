"""LayerNorm and BatchNorm1d: torch.nn's parameters, buffers and forward."""
from .. import backend
from ..checks import check_nonnegative, check_nonnegative_int, check_real
from ..creation import ones, tensor, zeros
from ..errors import ShapeError
from ..functional.normalization import _shape, batch_norm, layer_norm
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


class BatchNorm1d(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias per feature (channel), for an
    input (N, C) or (N, C, L), as torch.nn.BatchNorm1d (``F.batch_norm``).

    In training mode the statistics are the batch's (biased variance), and with
    ``track_running_stats`` the buffers ``running_mean`` (zeros) and ``running_var``
    (ones) follow running = (1 - m) running + m batch with the unbiased batch variance,
    m = ``momentum``, or 1 / num_batches_tracked when ``momentum=None`` (a cumulative
    average); ``num_batches_tracked`` (int64) counts the training batches. In eval
    mode the running statistics are used (the batch's when not tracked). ``weight``
    (ones) and ``bias`` (zeros) with ``affine`` (no bias with ``bias=False``)."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        name = type(self).__name__
        self.num_features = check_nonnegative_int(num_features, "num_features", name)
        self.eps = check_nonnegative(eps, "eps", name)
        self.momentum = None if momentum is None else check_real(momentum, "momentum", name)
        self.affine = affine
        self.track_running_stats = track_running_stats
        n = self.num_features
        if affine:
            self.weight = Parameter(ones(n, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(zeros(n, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(n, dtype=dtype, device=device))
            self.register_buffer("running_var", ones(n, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked",
                                 tensor(0, dtype=backend.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1.0)
            self.num_batches_tracked.zero_()

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            self.weight.detach().fill_(1.0)
            if self.bias is not None:
                self.bias.detach().zero_()

    def _check_input_dim(self, x):
        if x.ndim not in (2, 3):
            raise ShapeError(f"{type(self).__name__}: expected 2D or 3D input (got {x.ndim}D "
                             "input)")

    def forward(self, x):
        self._check_input_dim(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.array += 1
            self.num_batches_tracked._version[0] += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.array)
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return batch_norm(x, self.running_mean if keep else None,
                          self.running_var if keep else None, self.weight, self.bias,
                          use_batch, factor, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")
