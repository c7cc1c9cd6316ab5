"""``torch.utils``' names: ``tinygrad_seq.utils.data`` (datasets, samplers, DataLoader)."""
from . import data

__all__ = ["data"]
