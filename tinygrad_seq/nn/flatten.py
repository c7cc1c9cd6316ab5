"""``nn.Flatten`` and ``nn.Unflatten``, torch's reshaping modules (no parameters)."""
from ..checks import check_int
from .module import Module


class Flatten(Module):
    """Flattens dims ``start_dim..end_dim`` into one (``x.flatten(start_dim, end_dim)``);
    the default keeps the batch dim, as torch."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = check_int(start_dim, "start_dim", "Flatten")
        self.end_dim = check_int(end_dim, "end_dim", "Flatten")

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits dim ``dim`` into ``unflattened_size`` (``x.unflatten(dim, sizes)``; one
    size may be -1)."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim = check_int(dim, "dim", "Unflatten")
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError("Unflatten: unflattened_size must be a tuple or list of ints, "
                            f"got {type(unflattened_size).__name__}")
        for n in unflattened_size:
            check_int(n, "unflattened_size's entries", "Unflatten")
        self.unflattened_size = unflattened_size

    def forward(self, input):
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
