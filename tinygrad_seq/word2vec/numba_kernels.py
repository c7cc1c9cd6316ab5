"""The Numba kernel of word2vec's step (see compiled.py for the update it makes and
why). Importing this module imports numba (ImportError without it); the functions
compile on first call and are cached on disk (``cache=True``).

The tables are passed flat (1-D, row r of width D at [r D, r D + D)) and the helpers
index a slice of each row with the loop counter alone: numba wraps negative indices,
and ``a[ao + d]`` keeps that test inside the loop, which LLVM then vectorises with
gathers (2x slower, measured); on ``a[ao:ao + n][d]`` with d in range(n) the test
folds away and the loops over D become SIMD loads and fused multiply-adds.
``fastmath`` lets LLVM reorder the float32 sums (the vectorised dot product), without
assuming finite values (exp may overflow to inf, which the sigmoid needs).
"""
import numba

from .. import backend

np = backend.xp("cpu")     # NumPy, asked of the backend; numba compiles its functions

_FASTMATH = {"nsz", "arcp", "contract", "reassoc"}
_jit = numba.njit(nogil=True, cache=True, fastmath=_FASTMATH)


@_jit
def _dot(a, ao, b, bo, n):
    """sum_d a[ao + d] b[bo + d] over n elements, in float32."""
    x, y = a[ao:ao + n], b[bo:bo + n]
    s = np.float32(0.0)
    for d in range(n):
        s += x[d] * y[d]
    return s


@_jit
def _axpy(g, x, xo, y, yo, n):
    """y[yo:yo+n] += g x[xo:xo+n]."""
    u, v = x[xo:xo + n], y[yo:yo + n]
    for d in range(n):
        v[d] += g * u[d]


@_jit
def train_steps(W0, W1, W2, D, inputs, targets, points, labels, bounds, lr, sg, cbow_mean,
                negative, hs, with_loss, g_buf, in_buf, h_buf):
    """The steps [bounds[s], bounds[s+1]) of one job, in order; returns the summed loss
    (0.0 unless `with_loss`). Flat float32 tables: W0 syn0 ((V+1) D, pad row V), W1
    syn1neg (V D), W2 syn1 (V D, pad row V-1; a dummy without hs). inputs (m, J) padded
    with V; targets (m, 1+k); points, labels (V, L): the Huffman paths and 1 - code.
    Scratch: g_buf (>= m_step J (K+L)), in_buf (>= m_step J D), h_buf (>= m_step D)."""
    pad = W0.shape[0] // D - 1
    J = inputs.shape[1]
    K = targets.shape[1] if negative else 0
    L = points.shape[1] if hs else 0
    KL = K + L
    hs_pad = W2.shape[0] // D - 1
    nh = J if sg else 1                  # input vectors h per example
    one, zero = np.float32(1.0), np.float32(0.0)
    total = 0.0
    for s in range(bounds.shape[0] - 1):
        lo, hi = bounds[s], bounds[s + 1]
        # ---- pass 1: errors and input steps, from the tables before the step
        for i in range(lo, hi):
            r = i - lo
            c = targets[i, 0]
            if not sg:                   # CBOW: h = the sum (or mean) of the contexts
                n = 0
                for d in range(D):
                    h_buf[r * D + d] = zero
                for j in range(J):
                    if inputs[i, j] != pad:
                        n += 1
                        _axpy(one, W0, inputs[i, j] * D, h_buf, r * D, D)
                if cbow_mean and n > 0:
                    inv = one / np.float32(n)
                    for d in range(D):
                        h_buf[r * D + d] *= inv
            for j in range(nh):
                base, o = (r * J + j) * KL, (r * J + j) * D
                for d in range(D):
                    in_buf[o + d] = zero
                w = inputs[i, j]
                if sg and w == pad:      # a padded slot: weight 0
                    for k in range(KL):
                        g_buf[base + k] = zero
                    continue
                H, ho = (W0, w * D) if sg else (h_buf, r * D)
                for k in range(KL):
                    if k < K:            # negative sampling: the positive, then negatives
                        U, t = W1, targets[i, k]
                        label = one if k == 0 else zero
                        skip = k > 0 and t == c          # a negative that drew the positive
                    else:                # hierarchical softmax: the path's inner nodes
                        U, t = W2, points[c, k - K]
                        label = labels[c, k - K]
                        skip = t == hs_pad               # a padded path slot
                    if skip:
                        g_buf[base + k] = zero
                        continue
                    f = _dot(H, ho, U, t * D, D)
                    g = -lr * (one / (one + np.exp(-f)) - label)     # -lr (s(f) - label)
                    g_buf[base + k] = g
                    if with_loss:        # -log s((2 label - 1) f), computed stably
                        z = f * (one - np.float32(2.0) * label)
                        total += max(z, zero) + np.log1p(np.exp(-abs(z)))
                    _axpy(g, U, t * D, in_buf, o, D)
        # ---- pass 2: the output rows (h read from syn0, unchanged until pass 3)
        for i in range(lo, hi):
            r = i - lo
            c = targets[i, 0]
            for j in range(nh):
                w = inputs[i, j]
                if sg and w == pad:
                    continue
                H, ho = (W0, w * D) if sg else (h_buf, r * D)
                base = (r * J + j) * KL
                for k in range(KL):
                    g = g_buf[base + k]
                    if g != zero:
                        if k < K:
                            _axpy(g, H, ho, W1, targets[i, k] * D, D)
                        else:
                            _axpy(g, H, ho, W2, points[c, k - K] * D, D)
        # ---- pass 3: the input rows (CBOW: every real context word gets the whole step)
        for i in range(lo, hi):
            r = i - lo
            for j in range(J):
                w = inputs[i, j]
                if w != pad:
                    _axpy(one, in_buf, ((r * J + j) if sg else r * J) * D, W0, w * D, D)
    return total
