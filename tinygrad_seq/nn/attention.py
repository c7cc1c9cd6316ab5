"""Attention modules: AdditiveAttention (Bahdanau) and MultiheadAttention (PyTorch's
parameters, masks and return values)."""
from .. import backend
from ..checks import check_positive_int, check_probability
from ..creation import empty, zeros
from ..errors import ShapeError
from ..functional.attention import (add_biases, attention, causal_bias, mask_to_bias,
                                    _tensor)
from ..ops.nn import Softmax
from ..tensor import cat, where
from . import init
from .linear import Linear
from .module import Module, Parameter


class AdditiveAttention(Module):
    """Bahdanau (additive) attention: a small network scores the decoder state s<t-1>
    against every encoder state a<t'>, a softmax over t' gives the weights alpha, and
    the context is the alpha-weighted sum of the a<t'>:

        e<t'> = score(tanh(query_proj(s) + key_proj(a<t'>)))
        alpha = softmax(e) over t',   context = sum_t' alpha<t'> a<t'>

    ``query_proj``: Linear(query_dim, hidden_dim, bias=False); ``key_proj``:
    Linear(key_dim, hidden_dim); ``score``: Linear(hidden_dim, 1, bias=False).

    forward(query (N, Dq), keys (N, T, Dk), mask=None) with a boolean mask (N, T) that
    is True at valid positions; returns (context (N, Dk), alphas (N, T)). A row with no
    valid position gets a zero context and zero alphas (and finite gradients)."""

    def __init__(self, query_dim, key_dim, hidden_dim):
        super().__init__()
        op = "AdditiveAttention"
        self.query_dim = check_positive_int(query_dim, "query_dim", op)
        self.key_dim = check_positive_int(key_dim, "key_dim", op)
        self.hidden_dim = check_positive_int(hidden_dim, "hidden_dim", op)
        self.query_proj = Linear(query_dim, hidden_dim, bias=False)
        self.key_proj = Linear(key_dim, hidden_dim)
        self.score = Linear(hidden_dim, 1, bias=False)

    def forward(self, query, keys, mask=None):
        op = "AdditiveAttention"
        if query.ndim != 2 or query.shape[1] != self.query_dim:
            raise ShapeError(f"{op}: query must be (N, {self.query_dim}), got {tuple(query.shape)}")
        if keys.ndim != 3 or keys.shape[2] != self.key_dim or keys.shape[0] != query.shape[0]:
            raise ShapeError(f"{op}: keys must be (N={query.shape[0]}, T, {self.key_dim}), "
                             f"got {tuple(keys.shape)}")
        N, T, _ = keys.shape
        hidden = (self.query_proj(query).reshape(N, 1, self.hidden_dim)
                  + self.key_proj(keys.reshape(N * T, self.key_dim)).reshape(N, T, self.hidden_dim))
        e = self.score(hidden.tanh().reshape(N * T, self.hidden_dim)).reshape(N, T)
        dead = None
        if mask is not None:
            bias = mask_to_bias(mask, True, e.dtype, op, "mask", ref=e)
            if tuple(bias.shape) != (N, T):
                raise ShapeError(f"{op}: mask must be (N={N}, T={T}), got {tuple(bias.shape)}")
            mod = backend.array_module(bias.array)
            dead = mod.isneginf(bias.array).all(axis=1, keepdims=True)
            if bool(dead.any()):
                bias = where(dead, 0.0, bias)
            else:
                dead = None
            e = e + bias
        alphas = Softmax.apply(e, axis=1) if T else e
        if dead is not None:
            alphas = alphas * (~dead).astype(alphas.dtype)
        context = (alphas.reshape(N, 1, T) @ keys).reshape(N, self.key_dim)
        return context, alphas

    def extra_repr(self):
        return f"query_dim={self.query_dim}, key_dim={self.key_dim}, hidden_dim={self.hidden_dim}"


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear under the name torch gives MultiheadAttention's ``out_proj`` (torch uses
    it to keep quantization tools off that layer); here it only makes ``repr`` match."""


class MultiheadAttention(Module):
    """Multi-head attention, torch.nn.MultiheadAttention's parameters and forward:

        head_i = Attention(Q W_q_i, K W_k_i, V W_v_i),  out = concat(head_1..h) W_o^T + b_o

    Parameters: ``in_proj_weight (3E, E)`` (rows q, k, v) and ``in_proj_bias (3E,)``,
    ``out_proj`` (a Linear). With ``kdim``/``vdim`` other than E, ``q_proj_weight (E, E)``,
    ``k_proj_weight (E, kdim)``, ``v_proj_weight (E, vdim)`` replace ``in_proj_weight``.
    Initialised as PyTorch: Xavier-uniform projections, zero biases.

    Extra key/value positions, appended after the S keys (so the weights are
    (..., L, S + extra)), each one attendable by every query in every mask:

    - ``add_bias_kv=True``: parameters ``bias_k``, ``bias_v`` (1, 1, E) (Xavier-normal),
      one more projected key and value shared by the batch:
      K' = [K W_k^T + b_k; bias_k], V' = [V W_v^T + b_v; bias_v];
    - ``add_zero_attn=True``: then a zero key and value per head, k_h = [k_h; 0],
      v_h = [v_h; 0] (score 0 before the softmax).

    The masks get a 0 ("allowed") column per extra position, whether given bool or float:
    PyTorch makes the masks float before padding them. So a query that may attend to
    none of the S keys attends to the extra ones only, not to nothing.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True,
    attn_mask=None, average_attn_weights=True, is_causal=False)``:

    - inputs (L, N, E) / (S, N, kdim) / (S, N, vdim), or (N, L, E) ... with
      ``batch_first=True``, or unbatched (L, E) ...
    - boolean masks are True where attending is NOT allowed (PyTorch's MHA convention);
      float masks are added to the scores. ``key_padding_mask`` (N, S);
      ``attn_mask`` (L, S) or (N * num_heads, L, S). ``is_causal=True`` without an
      ``attn_mask`` applies the causal mask (PyTorch requires the mask as well; with
      one given, the mask is used, as PyTorch does). The extra positions above stay
      attendable under is_causal; PyTorch agrees except with need_weights=False and no
      key_padding_mask, where it gives SDPA's causal hint the S + extra keys and so
      masks the extra positions (as if they were absent) for L <= S.
    - returns ``(attn_output, attn_weights)``: the weights (after dropout) averaged over
      the heads, (N, L, S), or per head (N, num_heads, L, S) with
      ``average_attn_weights=False``; None with ``need_weights=False``.

    A query that may attend to no key at all (in every head) gets a zero output row
    and zero weights, with finite gradients (PyTorch gives NaN). Where only some heads
    are fully masked, those heads contribute zeros before ``out_proj``.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, dtype=None,
                 device=None):
        super().__init__()
        op = "MultiheadAttention"
        embed_dim = check_positive_int(embed_dim, "embed_dim", op)
        num_heads = check_positive_int(num_heads, "num_heads", op)
        dropout = check_probability(dropout, "dropout", op)
        kdim = None if kdim is None else check_positive_int(kdim, "kdim", op)
        vdim = None if vdim is None else check_positive_int(vdim, "vdim", op)
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible "
                             f"by num_heads ({num_heads})")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first = dropout, batch_first
        self.head_dim = embed_dim // num_heads
        E = embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty(3 * E, E, dtype=dtype, device=device))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(empty(E, E, dtype=dtype, device=device))
            self.k_proj_weight = Parameter(empty(E, self.kdim, dtype=dtype, device=device))
            self.v_proj_weight = Parameter(empty(E, self.vdim, dtype=dtype, device=device))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * E, dtype=dtype, device=device))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(E, E, bias=bias, dtype=dtype, device=device)
        if add_bias_kv:           # own parameters come before out_proj's, as in torch
            self.bias_k = Parameter(empty(1, 1, E, dtype=dtype, device=device))
            self.bias_v = Parameter(empty(1, 1, E, dtype=dtype, device=device))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = bool(add_zero_attn)
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)


    # ---- pieces
    def _weights(self):
        """(W_q, W_k, W_v), (b_q, b_k, b_v) as Tensors (views of the packed ones)."""
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            ws = self.in_proj_weight.split(E, axis=0)
        else:
            ws = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        bs = (None,) * 3 if self.in_proj_bias is None else self.in_proj_bias.split(E, axis=0)
        return ws, bs

    def _project(self, query, key, value):
        """q, k, v projected, each as a 2-D (rows, E) tensor: one matmul for
        self-attention (query is key is value) and one for key is value."""
        E = self.embed_dim
        b = self.in_proj_bias

        def linear(x, w, bias):
            y = x.reshape(-1, x.shape[-1]) @ w.mT     # 2-D: one GEMM, one for its weight grad
            return y if bias is None else y + bias

        if self._qkv_same_embed_dim and query is key and key is value:
            return linear(query, self.in_proj_weight, b).split(E, axis=1)
        if self._qkv_same_embed_dim and key is value:
            wq, wkv = self.in_proj_weight.split([E, 2 * E], axis=0)
            bq, bkv = (None, None) if b is None else b.split([E, 2 * E], axis=0)
            return (linear(query, wq, bq),) + linear(key, wkv, bkv).split(E, axis=1)
        (wq, wk, wv), (bq, bk, bv) = self._weights()
        return linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)

    def _check(self, query, key, value):
        op = "MultiheadAttention"
        if query.ndim not in (2, 3):
            raise ShapeError(f"{op}: query must be 3-D (batched) or 2-D (unbatched), got "
                             f"shape {tuple(query.shape)}")
        if key.ndim != query.ndim or value.ndim != query.ndim:
            raise ShapeError(f"{op}: query, key and value must have the same number of dims, "
                             f"got {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
        for name, t, dim in (("query", query, self.embed_dim), ("key", key, self.kdim),
                             ("value", value, self.vdim)):
            if t.shape[-1] != dim:
                raise ShapeError(f"{op}: {name} must have {dim} features (last dim), got "
                                 f"shape {tuple(t.shape)}")
        if key.shape[:-1] != value.shape[:-1]:
            raise ShapeError(f"{op}: key and value must have the same length and batch, got "
                             f"{tuple(key.shape)} and {tuple(value.shape)}")
        if query.ndim == 3:
            b = 0 if self.batch_first else 1
            if query.shape[b] != key.shape[b]:
                raise ShapeError(f"{op}: query and key have different batch sizes: "
                                 f"{tuple(query.shape)} and {tuple(key.shape)} "
                                 f"(batch_first={self.batch_first})")

    def _extra_kv(self, k, v):
        """k, v (N, H, S, d) with the extra positions appended: bias_k / bias_v
        (add_bias_kv), then zeros (add_zero_attn). Returns (k, v, number added)."""
        N, H, _, d = k.shape
        ks, vs = [k], [v]
        if self.bias_k is not None:
            ks.append(self.bias_k.reshape(1, H, 1, d).expand(N, H, 1, d))
            vs.append(self.bias_v.reshape(1, H, 1, d).expand(N, H, 1, d))
        if self.add_zero_attn:
            ks.append(zeros(N, H, 1, d, dtype=k.dtype, device=k.device))
            vs.append(zeros(N, H, 1, d, dtype=v.dtype, device=v.device))
        return cat(ks, axis=2), cat(vs, axis=2), len(ks) - 1

    def _bias(self, key_padding_mask, attn_mask, is_causal, N, L, S, dtype, ref, unbatched):
        """The additive mask, 4-D and broadcastable to (N, H, L, S), or None."""
        op, H = "MultiheadAttention", self.num_heads
        kpm = mask_to_bias(key_padding_mask, False, dtype, op, "key_padding_mask", ref)
        if kpm is not None:
            if tuple(kpm.shape) != (N, S):
                want = f"(N={N}, S={S})" if not unbatched else f"(S={S},)"
                raise ShapeError(f"{op}: key_padding_mask must be {want}, got "
                                 f"{tuple(key_padding_mask.shape)}")
            kpm = kpm.reshape(N, 1, 1, S)
        am = mask_to_bias(attn_mask, False, dtype, op, "attn_mask", ref)
        if am is None and is_causal:
            am = causal_bias(L, S, dtype, ref.device)
        if am is not None:
            if am.ndim == 2 and tuple(am.shape) == (L, S):
                am = am.reshape(1, 1, L, S)
            elif am.ndim == 3 and tuple(am.shape) == (N * H, L, S):
                am = am.reshape(N, H, L, S)
            else:
                raise ShapeError(f"{op}: attn_mask must be (L={L}, S={S}) or "
                                 f"(N * num_heads={N * H}, L={L}, S={S}), got "
                                 f"{tuple(attn_mask.shape)}")
        return add_biases(am, kpm)

    # ---- forward
    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        op = "MultiheadAttention"
        query = _tensor(query, op, "query")
        key = query if key is query else _tensor(key, op, "key", query)
        value = key if value is key else _tensor(value, op, "value", query)
        self._check(query, key, value)
        unbatched = query.ndim == 2
        E, H, d = self.embed_dim, self.num_heads, self.head_dim
        if unbatched:                 # (L, E): one sequence, batch axis of size 1
            N, L, S = 1, query.shape[0], key.shape[0]
            lead_q, lead_k = (1, L), (1, S)
            if key_padding_mask is not None:
                key_padding_mask = _tensor(key_padding_mask, op, "key_padding_mask", query)
                if key_padding_mask.ndim == 1:
                    key_padding_mask = key_padding_mask.reshape(1, -1)
            if attn_mask is not None:
                attn_mask = _tensor(attn_mask, op, "attn_mask", query)
        elif self.batch_first:              # (N, L, E)
            N, L, S = query.shape[0], query.shape[1], key.shape[1]
            lead_q, lead_k = (N, L), (N, S)
        else:                               # (L, N, E)
            L, N, S = query.shape[0], query.shape[1], key.shape[0]
            lead_q, lead_k = (L, N), (S, N)
        # heads: (rows, E) -> (*lead, H, d) -> (N, H, L, d), views without copies
        to_heads = (0, 2, 1, 3) if (self.batch_first or unbatched) else (1, 2, 0, 3)
        q, k, v = self._project(query, key, value)
        q = q.reshape(lead_q + (H, d)).permute(to_heads)
        k = k.reshape(lead_k + (H, d)).permute(to_heads)
        v = v.reshape(lead_k + (H, d)).permute(to_heads)

        bias = self._bias(key_padding_mask, attn_mask, is_causal, N, L, S, q.dtype, query,
                          unbatched)
        k, v, extra = self._extra_kv(k, v)
        if extra and bias is not None:    # the extra keys: allowed (0) for every query
            pad = zeros(*bias.shape[:-1], extra, dtype=bias.dtype, device=bias.device)
            bias = cat([bias, pad], axis=-1)
        p = self.dropout if self.training else 0.0
        out, weights, dead = attention(q, k, v, bias, p)      # (N, H, L, d), (N, H, L, S)

        from_heads = (0, 2, 1, 3) if (self.batch_first or unbatched) else (2, 0, 1, 3)
        out = out.permute(from_heads).reshape(-1, E)          # (rows, E): one copy
        out = self.out_proj(out)
        if dead is not None:        # queries that attend to nothing, in every head: zero
            alive = (~dead.all(axis=1)).astype(out.dtype)     # (N|1, L|1, 1)
            alive = backend.array_module(alive).broadcast_to(alive, (N, L, 1))
            if not (self.batch_first or unbatched):
                alive = alive.transpose(1, 0, 2)
            out = out * alive.reshape(-1, 1)
        out = out.reshape(lead_q[1:] + (E,) if unbatched else lead_q + (E,))
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(axis=1)                    # (N, L, S)
        if unbatched:
            weights = weights.reshape(weights.shape[1:])
        return out, weights

