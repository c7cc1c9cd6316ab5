"""Connectionist temporal classification (Graves et al. 2006): the loss of a batch of
label sequences under per-frame log-probabilities, one fused primitive.

For sequence n with input length T_n and labels l (length S_n), the extended label
l' = (blank, l_1, blank, l_2, ..., l_S, blank) has L_n = 2 S_n + 1 states. With
y_t(k) = log_probs[t, n, k], in log space:

    alpha_0(0) = y_0(blank),  alpha_0(1) = y_0(l_1),  alpha_0(s) = -inf for s >= 2
    alpha_t(s) = y_t(l'_s) + logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1),
                                        alpha_{t-1}(s-2) if l'_s != blank and l'_s != l'_{s-2})
    log p(l | x) = logsumexp(alpha_{T-1}(L-1), alpha_{T-1}(L-2))
    loss_n = -log p(l | x)

and the backward variables without the current frame,

    beta_{T-1}(s) = 0 for s in {L-1, L-2}, -inf otherwise
    beta_t(s) = logsumexp over s' in {s, s+1, s+2 (same rule)} of beta_{t+1}(s') + y_{t+1}(l'_{s'})

so that gamma_t(s) = exp(alpha_t(s) + beta_t(s) - log p) is the posterior probability
of being in state s at frame t. The gradient is the exact one with respect to the
log-probabilities as free inputs,

    d loss_n / d y_t(k) = -sum_{s : l'_s = k} gamma_t(s)     (0 for t >= T_n)

PyTorch's ctc_loss instead returns exp(y) - gamma, which is only the gradient with
respect to the logits under the assumption that y = log_softmax(logits); through
log_softmax both give the same gradient for the logits (exp(y) - gamma).

Everything runs in log space with a guarded log-sum-exp (stable for T in the
thousands); one Python loop over time with whole-batch array steps on each device.
An impossible alignment (T_n too short for the labels and their repeats) gives an
infinite loss and NaN gradients, or 0 and 0 with ``zero_infinity``. The primitive
is differentiable once: its backward refuses ``create_graph``.
"""
from .. import backend
from ..autograd import Node


def _logsumexp(*terms):
    """log(sum exp(terms)) elementwise; -inf where all are -inf, without warnings."""
    mod = backend.array_module(terms[0])
    m = terms[0]
    for t in terms[1:]:
        m = mod.maximum(m, t)
    finite = m != -mod.inf
    shift = mod.where(finite, m, 0)
    total = mod.exp(terms[0] - shift)
    for t in terms[1:]:
        total += mod.exp(t - shift)
    return mod.where(finite, shift + mod.log(mod.where(finite, total, 1)), -mod.inf)


def _shift(a, k, fill):
    """a moved k places to the right along the last axis, `fill` coming in."""
    mod = backend.array_module(a)
    out = mod.full(a.shape, fill, dtype=a.dtype)
    out[..., k:] = a[..., :-k]
    return out


class CTCLoss(Node):
    """loss_n = -log p(l_n | x_n), alpha recursion in log space (module docstring);
    dy_t(k) = -g_n * sum_{s: l'_s = k} exp(alpha_t(s) + beta_t(s) - log p)
    (once differentiable: ``create_graph`` is refused)."""
    reads_inputs = False
    once_differentiable = True   # backward computes on arrays only (the engine refuses create_graph)

    def forward(self, log_probs, extended, input_lengths, target_lengths, blank,
                zero_infinity):
        """log_probs (T, N, C) float; extended (N, L) int: the extended labels, blank
        past each sequence's 2 S_n + 1 states; input_lengths, target_lengths (N,) int
        (host arrays, moved here to the device of log_probs)."""
        mod = backend.array_module(log_probs)
        y = backend.float_array(log_probs, "ctc_loss")
        device = backend.device_of(y)
        T, N, C = y.shape
        ext = backend.follow_device(extended, device, "ctc_loss", "the targets")
        in_len = backend.follow_device(input_lengths, device, "ctc_loss", "input_lengths")
        tgt_len = backend.follow_device(target_lengths, device, "ctc_loss", "target_lengths")
        L = ext.shape[1]
        neg_inf = -mod.inf
        states = mod.arange(L)[None, :]
        valid = states < (2 * tgt_len + 1)[:, None]                     # (N, L)
        # y_t(l'_s) for every frame and state: (T, N, L); -inf on states past L_n
        y_ext = y[:, mod.arange(N)[:, None], ext]
        y_ext = mod.where(valid[None], y_ext, neg_inf)
        # a skip s-2 -> s: l'_s is a label and differs from l'_{s-2}
        skip = mod.zeros((N, L), dtype=bool)
        skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
        alpha = mod.full((T, N, L), neg_inf, dtype=y.dtype)
        a = mod.full((N, L), neg_inf, dtype=y.dtype)
        a[:, :2] = y_ext[0, :, :2]
        alpha[0] = a
        for t in range(1, T):
            step = _logsumexp(a, _shift(a, 1, neg_inf),
                              mod.where(skip, _shift(a, 2, neg_inf), neg_inf)) + y_ext[t]
            a = mod.where((t < in_len)[:, None], step, a)      # frozen after T_n - 1
            alpha[t] = a
        last = 2 * tgt_len                                      # state L_n - 1
        rows = mod.arange(N)
        end = a[rows, last]
        before = mod.where(last >= 1, a[rows, mod.maximum(last - 1, 0)], neg_inf)
        log_p = _logsumexp(end, before)
        loss = -log_p
        self.infinite = mod.isinf(loss)
        if zero_infinity:
            loss = mod.where(self.infinite, 0, loss)
        self.zero_infinity = zero_infinity
        self.saved = (alpha, y_ext, skip, valid, ext, in_len, log_p, C)
        return loss

    def backward(self, g):
        alpha, y_ext, skip, valid, ext, in_len, log_p, C = self.saved
        mod = backend.array_module(alpha)
        T, N, L = alpha.shape
        neg_inf = -mod.inf
        last = 2 * ((valid.sum(axis=1) - 1) // 2)              # state L_n - 1
        init = mod.full((N, L), neg_inf, dtype=alpha.dtype)
        rows = mod.arange(N)
        init[rows, last] = 0
        init[rows[last >= 1], (last - 1)[last >= 1]] = 0
        # beta_t(s) + alpha_t(s), accumulated from the last frame down
        post = mod.empty((T, N, L), dtype=alpha.dtype)
        b = init
        post[T - 1] = alpha[T - 1] + b
        skip_from = mod.zeros((N, L), dtype=bool)                # s -> s + 2 allowed
        skip_from[:, :-2] = skip[:, 2:]
        for t in range(T - 2, -1, -1):
            nxt = b + y_ext[t + 1]
            up1 = mod.full((N, L), neg_inf, dtype=alpha.dtype)
            up1[:, :-1] = nxt[:, 1:]
            up2 = mod.full((N, L), neg_inf, dtype=alpha.dtype)
            up2[:, :-2] = nxt[:, 2:]
            step = _logsumexp(nxt, up1, mod.where(skip_from, up2, neg_inf))
            b = mod.where((t < in_len - 1)[:, None], step, init)
            post[t] = alpha[t] + b
        impossible = self.infinite
        gamma = mod.exp(post - mod.where(impossible, 0, log_p)[None, :, None])   # (T, N, L)
        keep = (mod.arange(T)[:, None] < in_len[None, :])[:, :, None] & valid[None]
        gamma = mod.where(keep, gamma, 0)
        gamma = mod.where(impossible[None, :, None], mod.nan, gamma)    # p = 0: no gradient
        scale = -g
        if self.zero_infinity:
            scale = mod.where(self.infinite, 0, scale)
            gamma = mod.where(self.infinite[None, :, None], 0, gamma)
        gamma = gamma * scale[None, :, None]
        # sum gamma over the states of each label: rows n * C + l'_s of an (N * C, T) table
        flat = (rows[:, None] * C + ext).reshape(-1)
        table = mod.zeros((N * C, T), dtype=alpha.dtype)
        values = mod.ascontiguousarray(gamma.transpose(1, 2, 0)).reshape(N * L, T)
        backend.add_rows(table, flat, values)
        return (table.reshape(N, C, T).transpose(2, 0, 1),)
