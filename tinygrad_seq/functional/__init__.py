"""Functions on tensors, PyTorch's names: ``import tinygrad_seq.functional as F``.

Each module holds one family; all are composed from the primitives of ``ops/``
(except where a fused primitive exists for speed, noted in its docstring).
"""
from .activations import (dropout, elu, gelu, hardtanh, leaky_relu, log_softmax, mish, relu,
                          sigmoid, silu, softmax, softplus, tanh)
from .attention import scaled_dot_product_attention
from .conv import conv1d
from .embedding import cosine_similarity, embedding, one_hot
from .losses import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy,
                     huber_loss, kl_div, l1_loss, mse_loss, nll_loss, smooth_l1_loss)
from .normalization import batch_norm, layer_norm, normalize
from .ctc import ctc_loss
from .linear import linear
from .padding import pad
