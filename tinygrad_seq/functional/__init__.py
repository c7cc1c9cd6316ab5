"""Functions on tensors, PyTorch's names: ``import tinygrad_seq.functional as F``.

Each module holds one family; all are composed from the primitives of ``ops/``
(except where a fused primitive exists for speed, noted in its docstring).
"""
from .activations import dropout, gelu, log_softmax, relu, sigmoid, softmax, softplus, tanh
from .attention import scaled_dot_product_attention
from .conv import conv1d
from .embedding import cosine_similarity, embedding, one_hot
from .losses import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy,
                     mse_loss, nll_loss)
from .normalization import layer_norm
from .ctc import ctc_loss
from .linear import linear
from .padding import pad
