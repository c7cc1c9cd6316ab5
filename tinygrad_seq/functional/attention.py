"""Scaled dot-product attention (the notes' softmax(Q K^T / sqrt(d_k)) V) and the mask
helpers that every attention of the framework shares.

Masks. A boolean mask says per (query, key) pair whether attending is allowed; which
value means "allowed" depends on the function, as in PyTorch: True in
``scaled_dot_product_attention`` (and ``AdditiveAttention``'s ``mask``), False in
``nn.MultiheadAttention`` and the Transformer layers. Either is turned into an additive
float mask (0 where allowed, -inf where not); a float mask is added to the scores as
given (it may be a Tensor that requires grad).

Fully masked rows. A query whose every key is masked (-inf everywhere in its row of
the mask) has no softmax: PyTorch returns NaN there. Here such a row gets zero weights,
so a zero output, and zero (finite) gradients: the mask of that row is replaced by 0
before the softmax (any finite row would do) and the softmax output of the row is
multiplied by 0. Both steps run only when the mask has such a row, so the common case
pays nothing for the rule.
"""
import math

from .. import backend
from ..autograd import Tensor
from ..errors import DTypeError, ShapeError
from ..ops.nn import Dropout, Softmax
from ..tensor import tensor_arg, where

NEG_INF = float("-inf")


def _tensor(x, op, name, ref=None):
    return tensor_arg(x, op, name, like=ref)


def mask_to_bias(mask, allowed, dtype, op, name="attn_mask", ref=None):
    """The additive float mask for `mask` (None stays None).

    A boolean mask becomes an untracked array-backed Tensor with 0 where attending is
    allowed and -inf where not; `allowed` is the boolean value that means "allowed"
    (True for SDPA, False for MultiheadAttention). A float mask is returned as a Tensor
    in `dtype` (differentiable if it requires grad)."""
    if mask is None:
        return None
    m = _tensor(mask, op, name, ref)
    kind = m.dtype.kind
    if kind == "b":
        mod = backend.array_module(m.array)
        keep = m.array if allowed else ~m.array
        return Tensor._make(mod.where(keep, dtype.type(0), dtype.type(NEG_INF)))
    if kind != "f":
        raise DTypeError(f"{op}: {name} must be a bool or float tensor, got {m.dtype}")
    return m if m.dtype == dtype else m.to(dtype)


def causal_bias(L, S, dtype, device):
    """The additive causal mask (L, S): 0 on and below the diagonal, -inf above it
    (top-left aligned, as PyTorch's is_causal)."""
    mod = backend.xp(device)
    upper = mod.triu(mod.ones((L, S), dtype=bool), k=1)
    return Tensor._make(mod.where(upper, dtype.type(NEG_INF), dtype.type(0)))


def add_biases(*biases):
    """Sum of the additive masks that are not None (None if all are)."""
    out = None
    for b in biases:
        if b is not None:
            out = b if out is None else out + b
    return out


def dead_rows(bias):
    """Boolean array (bias.shape[:-1] + (1,)) marking rows where every key is masked
    (-inf), or None when there is no such row (the common case)."""
    if bias is None or bias.shape[-1] == 0:
        return None
    mod = backend.array_module(bias.array)
    dead = mod.isneginf(bias.array).all(axis=-1, keepdims=True)
    return dead if bool(dead.any()) else None


def attention(q, k, v, bias=None, dropout_p=0.0, scale=None):
    """softmax(q k^T * scale + bias) v over the last two axes, with the fully-masked-row
    rule (module docstring). Returns (output, weights, dead): `dead` is the boolean
    array of fully masked rows (None when there are none), for callers that zero
    more than the attention itself (MultiheadAttention's output)."""
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1]) if q.shape[-1] else 1.0
    # scale q (L x d elements) rather than the scores (L x S): fewer multiplications
    scores = (q * scale) @ k.mT if scale != 1.0 else q @ k.mT
    dead = dead_rows(bias)
    if bias is not None:
        if dead is not None:          # any finite row avoids NaN; it is zeroed below
            bias = where(dead, 0.0, bias)
        scores = scores + bias
    if scores.shape[-1] == 0:         # no keys at all: every row is empty
        weights = scores
    else:
        weights = Softmax.apply(scores, axis=-1)
    if dead is not None:
        weights = weights * (~dead).astype(weights.dtype)
    if dropout_p > 0.0:
        weights = Dropout.apply(weights, p=dropout_p)
    return weights @ v, weights, dead


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False, *,
                                 return_weights=False):
    """Attention(Q, K, V) = softmax(Q K^T * scale + mask) V, PyTorch's signature.

    query (..., L, E), key (..., S, E), value (..., S, Ev); leading (batch) axes
    broadcast. Returns the output (..., L, Ev), as PyTorch; with
    ``return_weights=True`` (ours: people plot them) ``(output, weights (..., L, S))``,
    the weights after dropout.

    - ``attn_mask``: boolean, True where attending is ALLOWED (PyTorch's SDPA), or float,
      added to the scores; it broadcasts to (..., L, S).
    - ``is_causal``: the top-left lower-triangular mask (query i sees keys j <= i);
      not together with ``attn_mask``.
    - ``scale``: defaults to 1 / sqrt(E).
    - ``dropout_p``: dropout on the weights, always applied when > 0 (as PyTorch's
      functional form; modules pass 0 in eval mode).
    - ``enable_gqa``: grouped-query attention: query (..., Hq, L, E) with key/value
      (..., Hkv, S, E), Hq a multiple of Hkv; each key/value head serves Hq / Hkv
      consecutive query heads (PyTorch's repeat_interleave on dim -3).

    A query row whose every key is masked gets zero weights and a zero output, with
    zero gradients (PyTorch gives NaN)."""
    op = "scaled_dot_product_attention"
    q = _tensor(query, op, "query")
    k = _tensor(key, op, "key", q)
    v = _tensor(value, op, "value", q)
    for name, t in (("query", q), ("key", k), ("value", v)):
        if t.ndim < 2:
            raise ShapeError(f"{op}: {name} must have at least 2 dims (..., length, features), "
                             f"got shape {tuple(t.shape)}")
        if t.dtype.kind != "f":
            raise DTypeError(f"{op}: {name} must be a float tensor, got {t.dtype}")
    if enable_gqa:
        k, v = _repeat_kv_heads(q, k, op), _repeat_kv_heads(q, v, op)
    if q.shape[-1] != k.shape[-1]:
        raise ShapeError(f"{op}: query and key must have the same feature size, got "
                         f"query {tuple(q.shape)} and key {tuple(k.shape)}")
    if k.shape[-2] != v.shape[-2]:
        raise ShapeError(f"{op}: key and value must have the same length, got key "
                         f"{tuple(k.shape)} and value {tuple(v.shape)}")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout_p must be in [0, 1], got {dropout_p}")
    if is_causal and attn_mask is not None:
        raise ValueError(f"{op}: give either attn_mask or is_causal=True, not both")
    L, S = q.shape[-2], k.shape[-2]
    dtype = backend.result_type(q.dtype, k.dtype)
    if is_causal:
        bias = causal_bias(L, S, dtype, q.device)
    else:
        bias = mask_to_bias(attn_mask, True, dtype, op, ref=q)
        if bias is not None:
            try:
                backend.xp("cpu").broadcast_shapes(tuple(bias.shape), tuple(q.shape[:-2]) + (L, S))
            except ValueError:
                raise ShapeError(f"{op}: attn_mask of shape {tuple(bias.shape)} does not "
                                 f"broadcast to the scores' shape (..., L={L}, S={S}) for "
                                 f"query {tuple(q.shape)} and key {tuple(k.shape)}") from None
    out, weights, _ = attention(q, k, v, bias, dropout_p, scale)
    return (out, weights) if return_weights else out


def _repeat_kv_heads(q, kv, op):
    """kv (..., Hkv, S, E) with each head repeated Hq / Hkv times in place, so that
    query head h reads key/value head h // (Hq / Hkv) (grouped-query attention)."""
    if q.ndim < 3 or kv.ndim < 3:
        raise ShapeError(f"{op}: enable_gqa needs a heads dim (-3) in query and key/value, "
                         f"got query {tuple(q.shape)} and {tuple(kv.shape)}")
    hq, hkv = q.shape[-3], kv.shape[-3]
    if hkv == hq:
        return kv
    if hq % hkv:
        raise ShapeError(f"{op}: enable_gqa needs the query heads ({hq}) to be a multiple of "
                         f"the key/value heads ({hkv})")
    lead, (S, E) = tuple(kv.shape[:-3]), kv.shape[-2:]
    grouped = kv.unsqueeze(-3).expand(*lead, hkv, hq // hkv, S, E)
    return grouped.reshape(*lead, hq, S, E)
