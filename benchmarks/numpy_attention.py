"""Multi-head self-attention written by hand in NumPy, forward and hand-derived backward:
the floor that ``bench_attention.py`` measures tinygrad_seq against.

Same parameters and layout as ``nn.MultiheadAttention(E, H, batch_first=True)``:
in_proj_weight (3E, E), in_proj_bias (3E,), out_proj.weight (E, E), out_proj.bias (E,),
input x (N, L, E). It does what a careful NumPy programmer would: 2-D GEMMs for the
projections, heads as strided views (no copies) for the batched GEMMs, the softmax
and its backward in place, one copy to merge the heads and one to assemble dqkv.

Forward (per head, d = E / H, scale = 1 / sqrt(d)):
    [q k v] = x W_in^T + b_in;  P = softmax(q k^T * scale);  o = P v
    y = concat_heads(o) W_out^T + b_out
Backward (g = dL/dy):
    dW_out = g^T o_cat,  db_out = sum g,  do = g W_out (split into heads)
    dP = do v^T,  dv = P^T do,  dS = P * (dP - sum(dP * P)) * scale
    dq = dS k,  dk = dS^T q,  dW_in = dqkv^T x,  db_in = sum dqkv,  dx = dqkv W_in
"""
import numpy as np


def forward(x, w_in, b_in, w_out, b_out, num_heads):
    """y (N, L, E) and the cache that backward needs."""
    N, L, E = x.shape
    H, d = num_heads, E // num_heads
    x2 = x.reshape(N * L, E)
    qkv = x2 @ w_in.T
    qkv += b_in
    qkv5 = qkv.reshape(N, L, 3, H, d)
    q = qkv5[:, :, 0].transpose(0, 2, 1, 3)          # (N, H, L, d) views
    k = qkv5[:, :, 1].transpose(0, 2, 1, 3)
    v = qkv5[:, :, 2].transpose(0, 2, 1, 3)
    p = q @ k.transpose(0, 1, 3, 2)                   # (N, H, L, L)
    p *= 1.0 / np.sqrt(d)
    p -= p.max(axis=-1, keepdims=True)
    np.exp(p, out=p)
    p /= p.sum(axis=-1, keepdims=True)
    o = p @ v                                         # (N, H, L, d)
    o_cat = o.transpose(0, 2, 1, 3).reshape(N * L, E)  # one copy
    y = o_cat @ w_out.T
    y += b_out
    return y.reshape(N, L, E), (x2, q, k, v, p, o_cat, w_in, w_out, N, L, E, H, d)


def backward(g, cache, need_dx=False):
    """Gradients (dW_in, db_in, dW_out, db_out[, dx]) for dL/dy = g (N, L, E)."""
    x2, q, k, v, p, o_cat, w_in, w_out, N, L, E, H, d = cache
    g2 = g.reshape(N * L, E)
    dw_out = g2.T @ o_cat
    db_out = g2.sum(axis=0)
    do = (g2 @ w_out).reshape(N, L, H, d).transpose(0, 2, 1, 3)
    dp = do @ v.transpose(0, 1, 3, 2)                 # (N, H, L, L)
    dv = p.transpose(0, 1, 3, 2) @ do
    dp -= (dp * p).sum(axis=-1, keepdims=True)
    dp *= p
    dp *= 1.0 / np.sqrt(d)                            # dS
    dq = dp @ k
    dk = dp.transpose(0, 1, 3, 2) @ q
    dqkv = np.empty((N, L, 3, H, d), dtype=g.dtype)
    dqkv[:, :, 0] = dq.transpose(0, 2, 1, 3)
    dqkv[:, :, 1] = dk.transpose(0, 2, 1, 3)
    dqkv[:, :, 2] = dv.transpose(0, 2, 1, 3)
    dqkv = dqkv.reshape(N * L, 3 * E)
    dw_in = dqkv.T @ x2
    db_in = dqkv.sum(axis=0)
    grads = (dw_in, db_in, dw_out, db_out)
    if need_dx:
        grads += ((dqkv @ w_in).reshape(N, L, E),)
    return grads
