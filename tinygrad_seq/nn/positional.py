"""Sinusoidal positional encoding (Vaswani et al., 2017)."""
from .. import backend
from ..autograd import Tensor
from ..checks import check_nonnegative_int, check_positive_int
from ..errors import ShapeError
from .dropout import Dropout
from .module import Module


def sinusoidal_table(max_len, d_model, dtype=None, device=None):
    """PE (max_len, d_model): PE[pos, 2i] = sin(pos / 10000^(2i/d)),
    PE[pos, 2i+1] = cos(pos / 10000^(2i/d)); computed in float64, then cast."""
    host = backend.xp("cpu")
    pos = host.arange(max_len, dtype=host.float64)[:, None]
    two_i = host.arange(0, d_model, 2, dtype=host.float64)
    angle = pos / host.power(10000.0, two_i / d_model)      # (max_len, ceil(d / 2))
    pe = host.zeros((max_len, d_model))
    pe[:, 0::2] = host.sin(angle)
    pe[:, 1::2] = host.cos(angle[:, :d_model // 2])
    dtype = backend.dtype(dtype) if dtype is not None else backend.get_default_dtype()
    return backend.to_device(pe.astype(dtype), device or backend.current_device())


class PositionalEncoding(Module):
    """x + PE[:T] for input (N, T, d_model), then dropout (none with the default p = 0):
    PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)),
    no scaling of x.

    The table is the buffer ``pe`` (max_len, d_model), registered NON-persistent: it is
    a fixed function of (max_len, d_model), rebuilt by the constructor, so keeping it out
    of ``state_dict`` saves max_len * d_model numbers per checkpoint and keeps state
    dicts loadable into models built with another max_len; ``to()`` still moves it."""

    def __init__(self, d_model, max_len=5000, dropout=0.0, dtype=None, device=None):
        super().__init__()
        self.d_model = check_positive_int(d_model, "d_model", "PositionalEncoding")
        self.max_len = check_nonnegative_int(max_len, "max_len", "PositionalEncoding")
        self.dropout = Dropout(dropout)
        self.register_buffer("pe", Tensor._make(sinusoidal_table(max_len, d_model, dtype, device)),
                             persistent=False)

    def forward(self, x):
        if x.ndim != 3 or x.shape[2] != self.d_model:
            raise ShapeError(f"PositionalEncoding: expected input (N, T, {self.d_model}), got "
                             f"shape {tuple(x.shape)}")
        T = x.shape[1]
        if T > self.max_len:
            raise ShapeError(f"PositionalEncoding: sequence length {T} exceeds max_len "
                             f"{self.max_len}")
        pe = self.pe.array[:T]
        if pe.dtype != x.dtype:
            pe = pe.astype(x.dtype)
        return self.dropout(x + pe)

    def extra_repr(self):
        return f"d_model={self.d_model}, max_len={self.max_len}, p={self.dropout.p}"
