"""Word2Vec's optional compiled step: the fast path's SGD step (``Word2Vec._step_fast``)
as a Numba kernel on the CPU's float32 tables, for the jobs of ``train()``.

Why a kernel: the NumPy step spends most of its time building (m, K, D) temporaries
and scattering them with ``add.at``; a loop over the examples does the same arithmetic
(one dot product, two axpys per (input vector, output row)) without them, as word2vec's
C loop does, and releases the GIL (``nogil``) so that ``workers=N`` threads run on N
cores. Numba (``pip install -e ".[fast]"``) compiles it on first use and caches the
machine code next to this file; without Numba everything runs on the NumPy path.

The step is the NumPy step exactly, up to float32 rounding (tests/test_word2vec_compiled.py):
every example of a step is scored against the tables from before the step and rows
used several times add their updates. For the examples i of a step, their input
vectors h (skip-gram: each real context slot; CBOW: the mean or sum of the context
vectors) and their output rows t (negative sampling: the positive, then the negatives,
a negative equal to the positive skipped; hierarchical softmax: the path's inner nodes,
padded slots skipped), with f = u_t . h and g = -lr (s(f) - label):

    pass 1 (reads only):   g for every (h, t);  in_h = sum_t g u_t;
                           loss += log(1 + exp(-f)) (label 1) or log(1 + exp(f)) (label 0)
    pass 2 (output rows):  u_t += g h          (h read from syn0, not yet changed)
    pass 3 (input rows):   syn0[w] += in_h     (CBOW: every real context word w of the
                                                example gets the whole in_h, as word2vec)

Buffers: g (m, J, K + L) and in_h (m, J, D), a few hundred KB per step, the worker's
scratch arrays.
"""
import numpy as np

_FASTMATH = {"nsz", "arcp", "contract", "reassoc"}   # reorder sums (vectorised dots); keep inf
_kernel = None          # the compiled train_steps, once built
_failed = None          # the ImportError of numba, once tried


def available():
    """True when numba imports (the kernel can be built)."""
    return load() is not None


def load():
    """The compiled ``train_steps`` (built on first call, cached on disk), or None when
    numba is not installed."""
    global _kernel, _failed
    if _kernel is None and _failed is None:
        try:
            import numba
        except ImportError as e:
            _failed = e
            return None
        _kernel = numba.njit(nogil=True, cache=True, fastmath=_FASTMATH)(_train_steps)
    return _kernel


def missing_reason():
    """Why ``load`` gives None (the ImportError's text), or None."""
    load()
    return None if _failed is None else str(_failed)


def _train_steps(W0, W1, W2, inputs, targets, points, labels, bounds, lr, sg, cbow_mean,
                 negative, hs, with_loss, g_buf, in_buf, h_buf):
    """The steps [bounds[s], bounds[s+1]) of one job, in order; returns the summed loss
    (0.0 unless `with_loss`). W0 syn0 (V+1, D) with pad row V; W1 syn1neg (V, D); W2
    syn1 (V, D) with pad row V-1 (a (1, D) dummy without hs); inputs (m, J) padded with
    V; targets (m, 1+k); points, labels (V, L) the Huffman paths and 1 - code. Scratch:
    g_buf (>= m_step * J * (K+L)) float32, in_buf (>= m_step * J * D), h_buf (>= m_step
    * D)."""
    pad = W0.shape[0] - 1
    D = W0.shape[1]
    J = inputs.shape[1]
    K = targets.shape[1] if negative else 0
    L = points.shape[1] if hs else 0
    KL = K + L
    hs_pad = W2.shape[0] - 1
    total = 0.0
    for s in range(bounds.shape[0] - 1):
        lo, hi = bounds[s], bounds[s + 1]
        # ---- pass 1: errors and input steps, from the tables before the step
        for i in range(lo, hi):
            r = i - lo
            c = targets[i, 0]
            nh = J if sg else 1
            if not sg:                                   # CBOW: h = sum (or mean) of contexts
                n = 0
                for d in range(D):
                    h_buf[r * D + d] = 0.0
                for j in range(J):
                    w = inputs[i, j]
                    if w != pad:
                        n += 1
                        for d in range(D):
                            h_buf[r * D + d] += W0[w, d]
                if cbow_mean and n > 0:
                    inv = np.float32(1.0) / np.float32(n)
                    for d in range(D):
                        h_buf[r * D + d] *= inv
            for j in range(nh):
                base = (r * J + j) * KL
                o = (r * J + j) * D
                for d in range(D):
                    in_buf[o + d] = 0.0
                if sg and inputs[i, j] == pad:           # a padded slot: weight 0
                    for k in range(KL):
                        g_buf[base + k] = 0.0
                    continue
                w = inputs[i, j]
                for k in range(KL):
                    if k < K:
                        t = targets[i, k]
                        label = np.float32(1.0) if k == 0 else np.float32(0.0)
                        if k > 0 and t == c:             # a negative that drew the positive
                            g_buf[base + k] = 0.0
                            continue
                    else:
                        t = points[c, k - K]
                        label = labels[c, k - K]
                        if t == hs_pad:                  # a padded path slot
                            g_buf[base + k] = 0.0
                            continue
                    f = np.float32(0.0)
                    if k < K:
                        if sg:
                            for d in range(D):
                                f += W0[w, d] * W1[t, d]
                        else:
                            for d in range(D):
                                f += h_buf[r * D + d] * W1[t, d]
                    else:
                        if sg:
                            for d in range(D):
                                f += W0[w, d] * W2[t, d]
                        else:
                            for d in range(D):
                                f += h_buf[r * D + d] * W2[t, d]
                    sig = np.float32(1.0) / (np.float32(1.0) + np.exp(-f))
                    g = -lr * (sig - label)
                    g_buf[base + k] = g
                    if with_loss:                        # -log s((2 label - 1) f)
                        z = f * (np.float32(1.0) - np.float32(2.0) * label)
                        total += max(z, 0.0) + np.log1p(np.exp(-abs(z)))
                    if k < K:
                        for d in range(D):
                            in_buf[o + d] += g * W1[t, d]
                    else:
                        for d in range(D):
                            in_buf[o + d] += g * W2[t, d]
        # ---- pass 2: the output rows (h read from syn0, unchanged until pass 3)
        for i in range(lo, hi):
            r = i - lo
            c = targets[i, 0]
            nh = J if sg else 1
            for j in range(nh):
                if sg and inputs[i, j] == pad:
                    continue
                w = inputs[i, j]
                base = (r * J + j) * KL
                for k in range(KL):
                    g = g_buf[base + k]
                    if g == 0.0:
                        continue
                    if k < K:
                        t = targets[i, k]
                        if sg:
                            for d in range(D):
                                W1[t, d] += g * W0[w, d]
                        else:
                            for d in range(D):
                                W1[t, d] += g * h_buf[r * D + d]
                    else:
                        t = points[c, k - K]
                        if sg:
                            for d in range(D):
                                W2[t, d] += g * W0[w, d]
                        else:
                            for d in range(D):
                                W2[t, d] += g * h_buf[r * D + d]
        # ---- pass 3: the input rows
        for i in range(lo, hi):
            r = i - lo
            for j in range(J):
                w = inputs[i, j]
                if w == pad:
                    continue
                o = (r * J + j) * D if sg else r * J * D
                for d in range(D):
                    W0[w, d] += in_buf[o + d]
    return total
