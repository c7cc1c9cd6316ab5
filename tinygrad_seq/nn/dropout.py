"""Dropout, torch.nn.Dropout: inverted dropout in training mode, the identity in eval."""
from ..checks import check_probability
from ..functional.activations import dropout
from .module import Module


class Dropout(Module):
    """Zero each element with probability p and scale the others by 1 / (1 - p) while
    training; the identity after ``eval()``. Draws from ``ts.manual_seed``'s generator."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p, self.inplace = check_probability(p, "p", "Dropout"), inplace

    def forward(self, x):
        return dropout(x, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"
