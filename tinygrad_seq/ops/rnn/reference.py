"""The recurrent layers composed from primitives (Tensors in and out): the readable
form of each cell, what ``fused=False`` modules run, and what the fused primitives'
backward recomputes when it is recorded (create_graph). One function per cell:
``rnn_reference``, ``gru_reference``, ``lstm_reference``."""
from .steps import _carry, _stack, split_projection, time_steps


def _project_composed(x, w_ih, b_ih, b_hh, hh_bias=True):
    """x_t W_ih^T + b_ih (+ b_hh) for every step, as a list of T (N, G*H) Tensors: one
    matrix product for all steps, cut by one Split (whose backward is one Cat; indexing
    step by step would scatter each step's gradient into a zero array of all steps)."""
    T, N, I = x.shape
    xp = x.reshape(T * N, I) @ w_ih.mT
    if b_ih is not None:
        xp = xp + (b_ih + b_hh if hh_bias else b_ih)
    return xp.split([N] * T, axis=0)        # sections, not a size: N may be 0 (empty batch)


def _mask_at(mask, t, like):
    """(m, 1 - m) of step t as (N, 1) arrays in like's dtype, or (None, None)."""
    if mask is None:
        return None, None
    m = mask[t][:, None].astype(like.dtype)
    return m, 1.0 - m


def rnn_reference(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, mask=None, reverse=False,
                  nonlinearity="tanh"):
    """The Elman RNN composed from primitives (Tensors in and out):

        h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh),  act = tanh or relu

    (the notes' a<t> = tanh(W_a [a<t-1>; x<t>] + b_a) with W_a = [W_hh | W_ih]).
    Returns (output (T, N, H), h_T, steps) with steps[t] = (h_t before masking, h_{t-1})."""
    T = x.shape[0]
    xp = _project_composed(x, w_ih, b_ih, b_hh)
    w_hh_t = w_hh.mT                  # one transpose node for all steps
    h, outs, steps = h0, [None] * T, [None] * T
    for t, _, _ in time_steps(T, reverse):
        a = xp[t] + h @ w_hh_t
        h_new = a.tanh() if nonlinearity == "tanh" else a.relu()
        steps[t] = (h_new, h)
        m, keep = _mask_at(mask, t, h_new)
        outs[t] = h_new if m is None else h_new * m
        h = _carry(h_new, h, m, keep)
    return _stack(outs), h, steps


def gru_reference(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, mask=None, reverse=False,
                  reset_after=True):
    """The GRU composed from primitives (Tensors in and out), gates r, z, n:

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))      reset_after=True (PyTorch)
        n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)      reset_after=False (the notes'
                                                           full GRU: relevance gate first)
        h' = (1 - z) * n + z * h

    Returns (output, h_T, steps) with steps[t] = (r, z, n, u, h_{t-1}) where u is
    W_hn h + b_hn (reset_after) or r * h (not)."""
    T = x.shape[0]
    H = w_hh.shape[1]
    xp = _project_composed(x, w_ih, b_ih, b_hh, hh_bias=False)
    w_rz_t, w_n_t = w_hh[:2 * H].mT, w_hh[2 * H:].mT     # transposed once for all steps
    b_rz = b_n = None
    if b_hh is not None:
        b_rz, b_n = b_hh[:2 * H], b_hh[2 * H:]
    h, outs, steps = h0, [None] * T, [None] * T
    for t, _, _ in time_steps(T, reverse):
        x_r, x_z, x_n = xp[t].split(H, axis=-1)
        h_rz = h @ w_rz_t
        if b_rz is not None:
            h_rz = h_rz + b_rz
        h_r, h_z = h_rz.split(H, axis=-1)
        r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
        # u on its own, not a view of one (N, 3H) product: the product r * u keeps u,
        # which would keep the whole product alive until backward
        if reset_after:
            u = h @ w_n_t
            u = u + b_n if b_n is not None else u
            n = (x_n + r * u).tanh()
        else:
            u = r * h
            hn = u @ w_n_t
            n = (x_n + (hn + b_n if b_n is not None else hn)).tanh()
        h_new = (1.0 - z) * n + z * h
        steps[t] = (r, z, n, u, h)
        m, keep = _mask_at(mask, t, h_new)
        outs[t] = h_new if m is None else h_new * m
        h = _carry(h_new, h, m, keep)
    return _stack(outs), h, steps


def lstm_reference(x, h0, c0, w_ih, w_hh, *weights, mask=None, reverse=False, projection=False):
    """The LSTM composed from primitives (Tensors in and out), gates i, f, g, o:

        [i, f, g, o] = x W_ih^T + b_ih + h W_hh^T + b_hh, then
        i, f, o = sigmoid(.),  g = tanh(.)
        c' = f * c + i * g,  m' = o * tanh(c')
        h' = m'                  (projection=False)
        h' = m' W_hr^T           (projection=True: PyTorch's LSTM with proj_size)

    `weights` are (b_ih, b_hh) or nothing, then w_hr (P, H) last with projection=True
    (PyTorch's order); with projections h is (N, P), c (N, H), W_hh (4H, P).
    Returns (output, h_T, c_T, steps) with steps[t] = (i, f, g, o, tanh c_t, c_{t-1},
    h_{t-1}, m_t)."""
    biases, w_hr = split_projection(weights, projection, "lstm")
    b_ih, b_hh = biases if biases else (None, None)
    T = x.shape[0]
    H = w_hh.shape[0] // 4
    xp = _project_composed(x, w_ih, b_ih, b_hh)
    w_hh_t = w_hh.mT                  # transposed once for all steps
    w_hr_t = None if w_hr is None else w_hr.mT
    h, c, outs, steps = h0, c0, [None] * T, [None] * T
    for t, _, _ in time_steps(T, reverse):
        i, f, g, o = (xp[t] + h @ w_hh_t).split(H, axis=-1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        c_new = f * c + i * g
        tc = c_new.tanh()
        m_new = o * tc
        h_new = m_new if w_hr_t is None else m_new @ w_hr_t
        steps[t] = (i, f, g, o, tc, c, h, m_new)
        m, keep = _mask_at(mask, t, h_new)
        outs[t] = h_new if m is None else h_new * m
        h, c = _carry(h_new, h, m, keep), _carry(c_new, c, m, keep)
    return _stack(outs), h, c, steps
