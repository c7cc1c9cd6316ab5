"""Transformer blocks with torch.nn's names, parameters and forward signatures:
TransformerEncoderLayer, TransformerDecoderLayer, their stacks TransformerEncoder,
TransformerDecoder, and the whole encoder-decoder, Transformer (Vaswani et al., 2017).

Post-norm (``norm_first=False``, the paper and PyTorch's default):
    x = norm1(x + dropout1(self_attn(x)));  x = norm2(x + dropout2(ff(x)))
Pre-norm (``norm_first=True``):
    x = x + dropout1(self_attn(norm1(x)));  x = x + dropout2(ff(norm2(x)))
with ff(x) = linear2(dropout(activation(linear1(x)))). The decoder layer has a
cross-attention block (``multihead_attn`` over ``memory``, norm2, dropout2) between the
two, and the feed-forward block uses norm3, dropout3.

Masks follow nn.MultiheadAttention (boolean True = NOT allowed, float added);
``is_causal=True`` without a mask applies the causal mask. A query that may attend to
nothing gets a zero attention output (the residual passes through unchanged) rather
than PyTorch's NaN.
"""
import copy

from .. import backend
from . import init
from ..checks import (check_nonnegative, check_nonnegative_int, check_positive_int,
                      check_probability)
from ..functional.activations import gelu, relu
from ..functional.attention import causal_bias
from .attention import MultiheadAttention
from .containers import ModuleList
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm


def _check_layer_args(op, d_model, nhead, dim_feedforward, dropout, layer_norm_eps):
    """The numbers of an encoder or decoder layer, checked under the layer's own name
    (the sublayers would check them too, but under theirs)."""
    check_positive_int(d_model, "d_model", op)
    check_positive_int(nhead, "nhead", op)
    check_positive_int(dim_feedforward, "dim_feedforward", op)
    check_probability(dropout, "dropout", op)
    check_nonnegative(layer_norm_eps, "layer_norm_eps", op)


def _activation(activation):
    if callable(activation):
        return activation
    if activation == "relu":
        return relu
    if activation == "gelu":
        return gelu
    raise ValueError(f"activation should be 'relu', 'gelu' or a callable, got {activation!r}")


def _ff_block(layer, x, dropout_out):
    """dropout_out(linear2(dropout(activation(linear1(x))))), the position-wise network."""
    h = layer.activation(layer.linear1(x))
    return dropout_out(layer.linear2(layer.dropout(h)))


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward network, each with a residual connection and
    LayerNorm. forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 dtype=None, device=None):
        super().__init__()
        _check_layer_args(type(self).__name__, d_model, nhead, dim_feedforward, dropout,
                          layer_norm_eps)
        kw = dict(dtype=dtype, device=device)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)
        self.batch_first = batch_first

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + _ff_block(self, self.norm2(x), self.dropout2)
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + _ff_block(self, x, self.dropout2))
        return x


class TransformerDecoderLayer(Module):
    """Masked self-attention, cross-attention over the encoder's output (``memory``) and
    a feed-forward network, each with a residual connection and LayerNorm.
    forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 dtype=None, device=None):
        super().__init__()
        _check_layer_args(type(self).__name__, d_model, nhead, dim_feedforward, dropout,
                          layer_norm_eps)
        kw = dict(dtype=dtype, device=device)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation)
        self.batch_first = batch_first

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           is_causal=is_causal, need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=is_causal,
                                need_weights=False)[0]
        return self.dropout2(x)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask,
                                    memory_is_causal)
            x = x + _ff_block(self, self.norm3(x), self.dropout3)
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + _ff_block(self, x, self.dropout3))
        return x


def _clones(layer, num_layers, op):
    num_layers = check_nonnegative_int(num_layers, "num_layers", op)
    return ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])


class TransformerEncoder(Module):
    """`num_layers` deep copies of `encoder_layer` (``layers.0``, ``layers.1``, ...) applied
    in turn, then `norm` if given. forward(src, mask=None, src_key_padding_mask=None,
    is_causal=None)."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers, "TransformerEncoder")
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=bool(is_causal))
        return self.norm(x) if self.norm is not None else x


class TransformerDecoder(Module):
    """`num_layers` deep copies of `decoder_layer` (``layers.0``, ...) applied in turn,
    then `norm` if given. forward(tgt, memory, tgt_mask=None, memory_mask=None,
    tgt_key_padding_mask=None, memory_key_padding_mask=None, tgt_is_causal=None,
    memory_is_causal=False)."""

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers, "TransformerDecoder")
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return self.norm(x) if self.norm is not None else x


def generate_square_subsequent_mask(sz, dtype=None, device=None):
    """The float causal mask (sz, sz): 0 on and below the diagonal, -inf above (as
    ``nn.Transformer.generate_square_subsequent_mask``)."""
    dtype = backend.dtype(dtype) if dtype is not None else backend.get_default_dtype()
    return causal_bias(sz, sz, dtype, device or backend.current_device())



class Transformer(Module):
    """torch.nn.Transformer: an encoder (``encoder``: a TransformerEncoder of
    `num_encoder_layers` layers with a final LayerNorm) and a decoder (``decoder``: a
    TransformerDecoder with a final LayerNorm), every weight of more than one dim
    initialised xavier-uniform as torch does. forward(src, tgt, src_mask=None,
    tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
    tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None,
    tgt_is_causal=None, memory_is_causal=False) returns the decoder's output.
    Subclasses may replace ``encoder``/``decoder`` (pytorch/examples'
    word_language_model puts its output Linear in ``decoder``)."""

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation="relu", custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False,
                 bias=True, dtype=None, device=None):
        super().__init__()
        kw = dict(dtype=dtype, device=device)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation,
                                            layer_norm_eps, batch_first, norm_first, bias, **kw)
            self.encoder = TransformerEncoder(layer, num_encoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias,
                                                        **kw))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout, activation,
                                            layer_norm_eps, batch_first, norm_first, bias, **kw)
            self.decoder = TransformerDecoder(layer, num_decoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias,
                                                        **kw))
        self._reset_parameters()
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def _reset_parameters(self):
        for p in self.parameters():
            if p.dim() > 1:
                init.xavier_uniform_(p)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        batch_dim = 0 if self.batch_first else 1
        if src.dim() == 3 and tgt.dim() == 3 and src.shape[batch_dim] != tgt.shape[batch_dim]:
            raise ValueError("Transformer: the batch number of src and tgt must be equal")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError("Transformer: the feature number of src and tgt must be equal to "
                             "d_model")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """The float causal mask (sz, sz): 0 on and below the diagonal, -inf above."""
        return generate_square_subsequent_mask(sz, dtype=dtype, device=device)
