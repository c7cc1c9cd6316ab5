"""Functions on tensors, PyTorch's names: ``import tinygrad_seq.functional as F``.

Each module holds one family; all are composed from the primitives of ``ops/``
(except where a fused primitive exists for speed, noted in its docstring).
"""
from .activations import dropout, log_softmax, relu, sigmoid, softmax, tanh

__all__ = ["sigmoid", "tanh", "relu", "softmax", "log_softmax", "dropout"]
from .attention import scaled_dot_product_attention  # noqa: E402
from .embedding import cosine_similarity, embedding, one_hot  # noqa: E402
from .normalization import layer_norm  # noqa: E402
from .gelu import gelu  # noqa: E402
from .losses import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, mse_loss, nll_loss)  # noqa: E402,E501
