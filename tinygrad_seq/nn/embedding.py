"""Embedding: a lookup table of vectors, with torch.nn.Embedding's parameter, init and
padding semantics, and an optional row-sparse gradient."""
from ..autograd import Tensor
from ..modes import no_grad
from ..checks import check_nonnegative_int
from ..creation import empty
from ..errors import ShapeError
from ..functional.embedding import embedding, embedding_options, padding_index
from . import init
from .module import Module, Parameter


class Embedding(Module):
    """y = weight[input]: ``weight (num_embeddings, embedding_dim)`` ~ N(0, 1) as in
    PyTorch; input integer indices of any shape, output input.shape + (embedding_dim,).

    ``padding_idx`` (negative counts from the end): that row starts at zero and never
    gets a gradient. ``max_norm``: each forward first rescales, in place and outside
    autograd, every looked-up row whose ``norm_type``-norm exceeds max_norm to norm
    max_norm (``F.embedding``). ``scale_grad_by_freq``: each row's gradient is divided
    by how often its index occurs in the batch. ``sparse=True``: ``weight.grad`` after
    backward is a ``tinygrad_seq.sparse.RowSparseGrad`` holding only the looked-up
    rows, which ``optim.SGD`` and ``optim.SparseAdam`` apply to those rows only."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
                 norm_type=2.0, scale_grad_by_freq=False, sparse=False, *,
                 _weight=None, _freeze=False, dtype=None, device=None):
        super().__init__()
        self.num_embeddings = check_nonnegative_int(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = check_nonnegative_int(embedding_dim, "embedding_dim", "Embedding")
        self.padding_idx = padding_index(padding_idx, self.num_embeddings, "Embedding")
        embedding_options(max_norm, norm_type, scale_grad_by_freq, "Embedding")
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = bool(sparse)
        if _weight is None:
            self.weight = Parameter(empty(num_embeddings, embedding_dim, dtype=dtype, device=device),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            data = _weight.array if isinstance(_weight, Tensor) else _weight
            if tuple(data.shape) != (self.num_embeddings, self.embedding_dim):
                raise ShapeError(f"Embedding: _weight has shape {tuple(data.shape)}, expected "
                                 f"({self.num_embeddings}, {self.embedding_dim})")
            self.weight = Parameter(Tensor(data, dtype=data.dtype if dtype is None else dtype,
                                           device=device), requires_grad=not _freeze)

    def reset_parameters(self):
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self):
        if self.padding_idx is not None:
            with no_grad():
                self.weight.array[self.padding_idx] = 0
                self.weight._version[0] += 1

    def forward(self, input):
        return embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                         self.scale_grad_by_freq, self.sparse)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None,
                        norm_type=2.0, scale_grad_by_freq=False, sparse=False):
        """An Embedding holding a copy of the 2-D `embeddings` (trainable unless
        ``freeze``); as in PyTorch, the padding row is not zeroed."""
        data = embeddings.array if isinstance(embeddings, Tensor) else embeddings
        if data.ndim != 2:
            raise ShapeError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape "
                             f"{tuple(data.shape)}")
        rows, dim = data.shape
        return cls(rows, dim, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse, _weight=embeddings,
                   _freeze=freeze)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        if self.sparse:
            s += ", sparse=True"
        return s
