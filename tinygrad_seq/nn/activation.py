"""Activation modules (torch.nn names), so that Sequential models, and their
state-dict keys, line up with PyTorch's: each wraps the function of the same name."""
from .. import functional as F
from ..checks import check_int
from .module import Module


class Identity(Module):
    def forward(self, x):
        return x


class ReLU(Module):
    def forward(self, x):
        return F.relu(x)


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class Sigmoid(Module):
    def forward(self, x):
        return F.sigmoid(x)


class GELU(Module):
    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate='{self.approximate}'"


class Softmax(Module):
    """Softmax along `dim` (PyTorch's argument name; the last axis when None)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = None if dim is None else check_int(dim, "dim", type(self).__name__)

    def forward(self, x):
        return F.softmax(x, axis=-1 if self.dim is None else self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, x):
        return F.log_softmax(x, axis=-1 if self.dim is None else self.dim)
