"""Fused recurrent primitives: one direction of an RNN, GRU or LSTM layer over a whole
sequence as one graph node, next to the same computation composed from primitives
(``rnn_reference``, ``gru_reference``, ``lstm_reference``: the readable form, what
``fused=False`` modules run, and what the fused backward recomputes when recorded).

Why a whole sequence per node: a training step is dominated by matrix products, and the
ones that do not depend on the recurrence can be done once for all T steps instead of
T times: the input projection ``X W_ih^T + b`` (one (T*N, I) x (I, G*H) product) in the
forward, and ``dW_ih = dA^T X``, ``dW_hh = dA^T H_prev``, ``dX = dA W_ih`` in the
backward, where dA (T, N, G*H) holds the gradients of the gate pre-activations of all
steps. Only ``h_{t-1} W_hh^T`` (forward) and ``dA_t W_hh`` (backward) stay per step.
The node keeps the gate activations in the buffer of the input projection (written in
place), so the saved state is what a hand-written NumPy implementation keeps
(``benchmarks/numpy_rnn.py``, the floor that ``benchmarks/bench_rnn.py`` compares to).

Conventions of all three (time-major, one direction):

- inputs ``x (T, N, I)``, ``h0 (N, H)`` (and ``c0 (N, H)`` for the LSTM),
  ``w_ih (G*H, I)``, ``w_hh (G*H, H)`` and optionally ``b_ih, b_hh (G*H,)``, with
  PyTorch's gate order: G = 1 (RNN), 3 (GRU: r, z, n), 4 (LSTM: i, f, g, o);
- ``mask``: None or a bool array (T, N), True where step t belongs to sequence n
  (t < its length). At a masked step a sequence keeps its state and outputs 0, so a
  padded batch gives each sequence's outputs, zeros past its end (as PyTorch's
  pad_packed_sequence) and its final state at its true end;
- ``reverse``: run from t = T-1 down to 0 (the second direction of a bidirectional
  layer). With a mask the padding at the end comes first and leaves the initial state
  as it is, so each sequence starts at its own last element;
- outputs ``(output (T, N, H), h_T (N, H))`` (and ``c_T`` for the LSTM), h_T the state
  after the last step taken (t = T-1, or t = 0 in reverse);
- the LSTM with projections (PyTorch's ``proj_size``; ``projection=True`` and
  ``w_hr (P, H)`` as the last input): h_t = (o_t * tanh c_t) W_hr^T, so h0, h_T and the
  output have P features, c0 and c_T keep H, and ``w_hh`` is (4*H, P).

Backward rules are written once with operations that arrays and Tensors share. On the
fast path (no create_graph) they read the activations saved as arrays; when the backward
is recorded, the activations are recomputed as Tensors from the inputs by the composed
reference, so the graph of the gradient reaches the inputs and can be differentiated
again (gradgradcheck).
"""
from .. import backend
from ..autograd import Node, Tensor, call
from ..errors import ShapeError
from .movement import Cat
from .broadcast import grad_like


# ---------------------------------------------------------------- shared pieces

def _on_device_of(mask, x):
    """The (T, N) length mask on x's device (a host mask follows the input)."""
    return None if mask is None else backend.follow_device(mask, backend.device_of(x), "rnn",
                                                           "the length mask")


def check_shapes(op, x, states, w_ih, w_hh, biases, gates, mask, w_hr=None):
    """(T, N, I, H) of one direction's arguments; ShapeError naming `op` otherwise.
    With `w_hr` (the LSTM with projections): w_hh is (G*H, P), w_hr (P, H), the first
    state (h0) is (N, P) and the others (c0) (N, H)."""
    if x.ndim != 3:
        raise ShapeError(f"{op}: expected an input of shape (T, N, input_size), got {tuple(x.shape)}")
    T, N, I = x.shape
    if w_hr is None:
        if w_hh.ndim != 2 or w_hh.shape[0] != gates * w_hh.shape[1]:
            raise ShapeError(f"{op}: weight_hh must have shape ({gates}*H, H), got {tuple(w_hh.shape)}")
        H = P = w_hh.shape[1]
    else:
        if w_hh.ndim != 2 or w_hh.shape[0] % gates:
            raise ShapeError(f"{op}: weight_hh must have shape ({gates}*H, P) with projections, "
                             f"got {tuple(w_hh.shape)}")
        H, P = w_hh.shape[0] // gates, w_hh.shape[1]
        if tuple(w_hr.shape) != (P, H):
            raise ShapeError(f"{op}: weight_hr must have shape ({P}, {H}) (proj_size, hidden_size) "
                             f"for weight_hh of shape {tuple(w_hh.shape)}, got {tuple(w_hr.shape)}")
    if tuple(w_ih.shape) != (gates * H, I):
        raise ShapeError(f"{op}: weight_ih must have shape ({gates * H}, {I}) for an input with "
                         f"{I} features, got {tuple(w_ih.shape)}")
    for k, s in enumerate(states):
        width = P if k == 0 else H
        if tuple(s.shape) != (N, width):
            raise ShapeError(f"{op}: initial state must have shape ({N}, {width}), got {tuple(s.shape)}")
    if len(biases) not in (0, 2):
        raise ShapeError(f"{op}: expected both biases (bias_ih, bias_hh) or none, got {len(biases)}")
    for b in biases:
        if tuple(b.shape) != (gates * H,):
            raise ShapeError(f"{op}: biases must have shape ({gates * H},), got {tuple(b.shape)}")
    if mask is not None and tuple(mask.shape) != (T, N):
        raise ShapeError(f"{op}: mask must have shape ({T}, {N}), got {tuple(mask.shape)}")
    if T == 0:
        raise ShapeError(f"{op}: the input has no time steps (shape {tuple(x.shape)})")
    return T, N, I, H


def split_projection(weights, projection, op):
    """(biases, w_hr) of the inputs after w_hh, in PyTorch's order: (b_ih, b_hh, w_hr)
    with projections, w_hr last (None without)."""
    if not projection:
        return tuple(weights), None
    if not weights:
        raise ShapeError(f"{op}: projection=True needs weight_hr as the last input")
    return tuple(weights[:-1]), weights[-1]


def _dtype(*arrays):
    """The dtype of the computation: NumPy's promotion of the operands' dtypes."""
    return backend.result_type(*[a.dtype for a in arrays])


def time_steps(T, reverse):
    """The steps in the order the forward takes them: (t, slot of the previous state,
    slot of the new state) in a (T+1)-slot state buffer whose first slot (last in
    reverse) holds the initial state."""
    if reverse:
        return [(t, t + 1, t) for t in range(T - 1, -1, -1)]
    return [(t, t, t + 1) for t in range(T)]


def _project(x, w_ih, biases, dtype, hh_bias_columns=None):
    """x W_ih^T + b_ih + b_hh for all steps as one (T*N, I) x (I, G*H) product:
    a new (T, N, G*H) array. ``hh_bias_columns`` limits which columns get b_hh (the
    GRU with reset_after keeps b_hn inside the reset gate)."""
    T, N, I = x.shape
    out = (x.reshape(T * N, I) @ w_ih.T).astype(dtype, copy=False).reshape(T, N, w_ih.shape[0])
    if biases:
        b_ih, b_hh = biases
        if hh_bias_columns is None:
            out += b_ih + b_hh
        else:
            out += b_ih
            out[:, :, hh_bias_columns] += b_hh[hh_bias_columns]
    return out


def _state_buffer(mod, T, N, H, dtype, initial, reverse):
    buf = mod.empty((T + 1, N, H), dtype=dtype)
    buf[T if reverse else 0] = initial
    return buf


def _before(buf, reverse):
    """The states before each step t, (T, N, H): a view of the state buffer."""
    return buf[1:] if reverse else buf[:-1]


def _after(buf, reverse):
    """The states after each step t, (T, N, H): a view of the state buffer."""
    return buf[:-1] if reverse else buf[1:]


def _output(buf, mask, reverse):
    """The output sequence: the states after each step, zero at masked steps."""
    out = _after(buf, reverse)
    return out if mask is None else out * mask[:, :, None]


class _Rows:
    """The gradients of the gate pre-activations, one (N, width) row per step, put
    together as (T, N, width): written in place into one array on the fast path,
    concatenated from Tensors when the backward is recorded."""

    def __init__(self, like, T, N, width, dtype):
        if isinstance(like, Tensor):
            self.buffer, self.rows = None, [None] * T
        else:
            self.buffer = backend.array_module(like).empty((T, N, width), dtype=dtype)

    def put(self, t, parts):
        """Row t is the pieces side by side; returns it."""
        if self.buffer is None:
            row = call(Cat, *parts, axis=1) if len(parts) > 1 else parts[0]
            self.rows[t] = row
            return row
        row = self.buffer[t]
        if len(parts) == 1:
            row[...] = parts[0]
            return row
        start = 0
        for p in parts:
            stop = start + p.shape[1]
            row[:, start:stop] = p
            start = stop
        return row

    def result(self):
        if self.buffer is not None:
            return self.buffer
        return call(Cat, *[r.reshape((1,) + tuple(r.shape)) for r in self.rows], axis=0)


def _stack(items):
    """Tensors (or arrays) of one shape stacked along a new first axis."""
    return call(Cat, *[a.reshape((1,) + tuple(a.shape)) for a in items], axis=0)


def _step_masks(mask, dtype):
    """(m, 1 - m) as (T, N, 1) float arrays, or (None, None) without a mask."""
    if mask is None:
        return None, None
    m = mask[:, :, None].astype(dtype)
    return m, 1.0 - m


def _carry(new, old, m, keep):
    """The state after a step: `new` where the step is taken (m = 1), `old` where it is
    masked (keep = 1 - m)."""
    return new if m is None else new * m + old * keep


def _recorded(x):
    return isinstance(x, Tensor)


def _input_grads(node, grads):
    """One gradient per input, summed/cast to each input's shape and dtype; None for
    inputs that need none."""
    return tuple(None if g is None or not need else grad_like(g, t)
                 for g, t, need in zip(grads, node.inputs, node.needs_input_grad))


def _weight_grads(node, dA, x, h_prev, n_states, n_biases=2):
    """dX = dA W_ih, dW_ih = dA^T X, dW_hh = dA^T H_prev, db = sum dA: the products over
    all steps at once (dA (T, N, G*H), H_prev (T, N, H); h_prev None: no dW_hh). The
    biases are the `n_biases` inputs after w_hh (inputs after them, as the LSTM's w_hr,
    are not)."""
    T, N, I = x.shape
    w_ih = node.saved_inputs()[n_states + 1]
    A2 = dA.reshape((T * N, dA.shape[2]))
    need = node.needs_input_grad
    dx = (A2 @ w_ih).reshape(tuple(x.shape)) if need[0] else None
    dw_ih = A2.T @ x.reshape((T * N, I)) if need[n_states + 1] else None
    dw_hh = None
    if h_prev is not None and need[n_states + 2]:
        dw_hh = A2.T @ h_prev.reshape((T * N, h_prev.shape[2]))
    db = A2.sum(axis=0) if any(need[n_states + 3:n_states + 3 + n_biases]) else None
    return dx, dw_ih, dw_hh, db


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


# ---------------------------------------------------------------- RNN

def rnn_reference(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, mask=None, reverse=False,
                  nonlinearity="tanh"):
    """The Elman RNN composed from primitives (Tensors in and out):

        h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh),  act = tanh or relu

    (the notes' a<t> = tanh(W_a [a<t-1>; x<t>] + b_a) with W_a = [W_hh | W_ih]).
    Returns (output (T, N, H), h_T, steps) with steps[t] = (h_t before masking, h_{t-1})."""
    T = x.shape[0]
    xp = _project_composed(x, w_ih, b_ih, b_hh)
    h, outs, steps = h0, [None] * T, [None] * T
    for t, _, _ in time_steps(T, reverse):
        a = xp[t] + h @ w_hh.mT
        h_new = a.tanh() if nonlinearity == "tanh" else a.relu()
        steps[t] = (h_new, h)
        m, keep = _mask_at(mask, t, h_new)
        outs[t] = h_new if m is None else h_new * m
        h = _carry(h_new, h, m, keep)
    return _stack(outs), h, steps


class RNNSequence(Node):
    """One direction of an Elman RNN over a sequence (see the module docstring):

        A = x W_ih^T + b_ih + b_hh  (all steps, one product)
        h_t = act(A_t + h_{t-1} W_hh^T),  act = tanh or relu

    backward, from the last step taken to the first, with dh the gradient of h_t:
        dA_t = dh * (1 - h_t^2)   (tanh)   or   dh * (h_t > 0)   (relu)
        dh_{t-1} = dA_t W_hh
    then dX = dA W_ih, dW_ih = dA^T X, dW_hh = dA^T H_prev, db_ih = db_hh = sum dA.
    """
    reads_outputs = True

    def forward(self, x, h0, w_ih, w_hh, *biases, mask=None, reverse=False, nonlinearity="tanh"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"rnn: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        mod = backend.array_module(x)
        x = backend.float_array(x, "rnn")
        mask = _on_device_of(mask, x)
        T, N, I, H = check_shapes("rnn", x, (h0,), w_ih, w_hh, biases, 1, mask)
        dtype = _dtype(x, h0, w_ih, w_hh, *biases)
        self.mask, self.reverse, self.nonlinearity, self.dtype = mask, reverse, nonlinearity, dtype
        A = _project(x, w_ih, biases, dtype)
        S = _state_buffer(mod, T, N, H, dtype, h0, reverse)
        keep = None if mask is None else ~mask[:, :, None]
        w_hh_t = w_hh.T
        for t, p, n in time_steps(T, reverse):
            a = A[t]
            a += S[p] @ w_hh_t
            if nonlinearity == "tanh":
                mod.tanh(a, out=S[n])
            else:
                mod.maximum(a, 0, out=S[n])
            if keep is not None:
                mod.copyto(S[n], S[p], where=keep[t])
        self.S = S
        return _output(S, mask, reverse), S[0 if reverse else T].copy()

    def _saved(self, recorded):
        """(h_t per step, h_{t-1} per step, H_prev (T, N, H))."""
        if not recorded:
            return _after(self.S, self.reverse), _before(self.S, self.reverse), \
                _before(self.S, self.reverse)
        x, h0, w_ih, w_hh, *b = self.inputs
        _, _, steps = rnn_reference(x, h0, w_ih, w_hh, *b, mask=self.mask, reverse=self.reverse,
                                    nonlinearity=self.nonlinearity)
        h_prev = [s[1] for s in steps]
        return [s[0] for s in steps], h_prev, _stack(h_prev)

    def backward(self, d_out, d_h):
        x, h0, w_ih, w_hh, *biases = self.saved_inputs()
        recorded = _recorded(x)
        h_new, _, h_prev_all = self._saved(recorded)
        T, N, _ = x.shape
        H = w_hh.shape[1]
        m_all, keep_all = _step_masks(self.mask, self.dtype)
        rows = _Rows(d_out, T, N, H, self.dtype)
        for t, _, _ in reversed(time_steps(T, self.reverse)):
            d = d_h + d_out[t] if m_all is None else (d_h + d_out[t]) * m_all[t]
            h = h_new[t]
            da = d * (1.0 - h * h) if self.nonlinearity == "tanh" else d * (h > 0)
            row = rows.put(t, (da,))
            d_prev = row @ w_hh
            d_h = d_prev if m_all is None else d_prev + d_h * keep_all[t]
        dx, dw_ih, dw_hh, db = _weight_grads(self, rows.result(), x, h_prev_all, 1)
        return _input_grads(self, (dx, d_h, dw_ih, dw_hh) + (db,) * len(biases))


# ---------------------------------------------------------------- GRU

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
    w_rz, w_n = w_hh[:2 * H], w_hh[2 * H:]
    b_rz = b_n = None
    if b_hh is not None:
        b_rz, b_n = b_hh[:2 * H], b_hh[2 * H:]
    h, outs, steps = h0, [None] * T, [None] * T
    for t, _, _ in time_steps(T, reverse):
        x_r, x_z, x_n = xp[t].split(H, axis=-1)
        h_rz = h @ w_rz.mT
        if b_rz is not None:
            h_rz = h_rz + b_rz
        h_r, h_z = h_rz.split(H, axis=-1)
        r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
        if reset_after:
            u = h @ w_n.mT
            u = u + b_n if b_n is not None else u
            n = (x_n + r * u).tanh()
        else:
            u = r * h
            hn = u @ w_n.mT
            n = (x_n + (hn + b_n if b_n is not None else hn)).tanh()
        h_new = (1.0 - z) * n + z * h
        steps[t] = (r, z, n, u, h)
        m, keep = _mask_at(mask, t, h_new)
        outs[t] = h_new if m is None else h_new * m
        h = _carry(h_new, h, m, keep)
    return _stack(outs), h, steps


class GRUSequence(Node):
    """One direction of a GRU over a sequence (gates r, z, n; see gru_reference for the
    cell, both reset_after forms). Forward: A = x W_ih^T + b_ih (+ the part of b_hh
    outside the reset gate) for all steps, then per step the recurrent products and
    the gates, in place in A.

    backward, with dh the gradient of h_t and h = h_{t-1}:
        dn = dh (1 - z),  dz = dh (h - n),  da_n = dn (1 - n^2),  da_z = dz z (1 - z)
      reset_after (u = W_hn h + b_hn):
        da_r = da_n u r (1 - r),  du = da_n r
        dh_{t-1} = dh z + [da_r, da_z] W_hh[:2H] + du W_hh[2H:]
        dW_hh = [[da_r, da_z]^T H_prev ; du^T H_prev],  db_hh = [sum [da_r, da_z] ; sum du]
      not reset_after (u = r * h):
        du = da_n W_hn,  da_r = du h r (1 - r)
        dh_{t-1} = dh z + du r + [da_r, da_z] W_hh[:2H]
        dW_hh = [[da_r, da_z]^T H_prev ; da_n^T U],  db_hh = sum dA
    with dA = [da_r, da_z, da_n]: dX = dA W_ih, dW_ih = dA^T X, db_ih = sum dA.
    """
    reads_outputs = True

    def forward(self, x, h0, w_ih, w_hh, *biases, mask=None, reverse=False, reset_after=True):
        mod = backend.array_module(x)
        x = backend.float_array(x, "gru")
        mask = _on_device_of(mask, x)
        T, N, I, H = check_shapes("gru", x, (h0,), w_ih, w_hh, biases, 3, mask)
        dtype = _dtype(x, h0, w_ih, w_hh, *biases)
        self.mask, self.reverse, self.reset_after, self.dtype = mask, reverse, reset_after, dtype
        A = _project(x, w_ih, biases, dtype, slice(0, 2 * H) if reset_after else None)
        S = _state_buffer(mod, T, N, H, dtype, h0, reverse)
        U = mod.empty((T, N, H), dtype=dtype)
        keep = None if mask is None else ~mask[:, :, None]
        w_rz_t, w_n_t = w_hh[:2 * H].T, w_hh[2 * H:].T
        b_n = biases[1][2 * H:] if biases and reset_after else None
        for t, p, n in time_steps(T, reverse):
            a, h, u = A[t], S[p], U[t]
            if reset_after:
                hh = h @ w_hh.T
                a[:, :2 * H] += hh[:, :2 * H]
                backend.sigmoid(a[:, :2 * H], out=a[:, :2 * H])
                if b_n is None:
                    u[...] = hh[:, 2 * H:]
                else:
                    mod.add(hh[:, 2 * H:], b_n, out=u)
                a[:, 2 * H:] += a[:, :H] * u
            else:
                a[:, :2 * H] += h @ w_rz_t
                backend.sigmoid(a[:, :2 * H], out=a[:, :2 * H])
                mod.multiply(a[:, :H], h, out=u)
                a[:, 2 * H:] += u @ w_n_t
            cand = a[:, 2 * H:]
            mod.tanh(cand, out=cand)
            # h' = (1 - z) n + z h = n + z (h - n)
            new = S[n]
            mod.subtract(h, cand, out=new)
            new *= a[:, H:2 * H]
            new += cand
            if keep is not None:
                mod.copyto(new, S[p], where=keep[t])
        self.A, self.S, self.U = A, S, U
        return _output(S, mask, reverse), S[0 if reverse else T].copy()

    def _saved(self, recorded):
        """(r, z, n, u, h_{t-1} per step, H_prev (T, N, H))."""
        if not recorded:
            H = self.S.shape[2]
            A, h_prev = self.A, _before(self.S, self.reverse)
            return A[:, :, :H], A[:, :, H:2 * H], A[:, :, 2 * H:], self.U, h_prev, h_prev
        x, h0, w_ih, w_hh, *b = self.inputs
        _, _, steps = gru_reference(x, h0, w_ih, w_hh, *b, mask=self.mask, reverse=self.reverse,
                                    reset_after=self.reset_after)
        r, z, n, u, h_prev = ([s[k] for s in steps] for k in range(5))
        return r, z, n, u, h_prev, _stack(h_prev)

    def backward(self, d_out, d_h):
        x, h0, w_ih, w_hh, *biases = self.saved_inputs()
        recorded = _recorded(x)
        r_all, z_all, n_all, u_all, h_prev, h_prev_all = self._saved(recorded)
        T, N, _ = x.shape
        H = w_hh.shape[1]
        w_rz, w_n = w_hh[:2 * H], w_hh[2 * H:]
        m_all, keep_all = _step_masks(self.mask, self.dtype)
        rows = _Rows(d_out, T, N, 3 * H, self.dtype)
        du_rows = _Rows(d_out, T, N, H, self.dtype) if self.reset_after else None
        for t, _, _ in reversed(time_steps(T, self.reverse)):
            d = d_h + d_out[t] if m_all is None else (d_h + d_out[t]) * m_all[t]
            r, z, n, u, h = r_all[t], z_all[t], n_all[t], u_all[t], h_prev[t]
            da_n = d * (1.0 - z) * (1.0 - n * n)
            da_z = d * (h - n) * z * (1.0 - z)
            if self.reset_after:
                da_r = da_n * u * r * (1.0 - r)
                row = rows.put(t, (da_r, da_z, da_n))
                du = du_rows.put(t, (da_n * r,))
                d_prev = d * z + row[:, :2 * H] @ w_rz + du @ w_n
            else:
                du = da_n @ w_n
                da_r = du * h * r * (1.0 - r)
                row = rows.put(t, (da_r, da_z, da_n))
                d_prev = d * z + du * r + row[:, :2 * H] @ w_rz
            d_h = d_prev if m_all is None else d_prev + d_h * keep_all[t]
        dA = rows.result()
        dx, dw_ih, _, db = _weight_grads(self, dA, x, None, 1)   # dW_hh below, by parts
        A2 = dA.reshape((T * N, 3 * H))
        Hp = h_prev_all.reshape((T * N, H))
        dw_hh = db_hh = None
        if self.reset_after:
            dU = du_rows.result().reshape((T * N, H))
            if self.needs_input_grad[3]:
                dw_hh = call(Cat, A2[:, :2 * H].T @ Hp, dU.T @ Hp, axis=0)
            if biases:
                db_hh = call(Cat, A2[:, :2 * H].sum(axis=0), dU.sum(axis=0), axis=0)
        else:
            if self.needs_input_grad[3]:
                U = _stack(u_all) if recorded else u_all
                dw_hh = call(Cat, A2[:, :2 * H].T @ Hp,
                             A2[:, 2 * H:].T @ U.reshape((T * N, H)), axis=0)
            db_hh = db
        return _input_grads(self, (dx, d_h, dw_ih, dw_hh) + ((db, db_hh) if biases else ()))


# ---------------------------------------------------------------- LSTM

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
    h, c, outs, steps = h0, c0, [None] * T, [None] * T
    for t, _, _ in time_steps(T, reverse):
        i, f, g, o = (xp[t] + h @ w_hh.mT).split(H, axis=-1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        c_new = f * c + i * g
        tc = c_new.tanh()
        m_new = o * tc
        h_new = m_new if w_hr is None else m_new @ w_hr.mT
        steps[t] = (i, f, g, o, tc, c, h, m_new)
        m, keep = _mask_at(mask, t, h_new)
        outs[t] = h_new if m is None else h_new * m
        h, c = _carry(h_new, h, m, keep), _carry(c_new, c, m, keep)
    return _stack(outs), h, c, steps


class LSTMSequence(Node):
    """One direction of an LSTM over a sequence (gates i, f, g, o; see lstm_reference):
    A = x W_ih^T + b_ih + b_hh for all steps, then per step A_t += h_{t-1} W_hh^T and the
    activations in place; c_t, tanh(c_t) and h_t saved.

    Inputs (x, h0, c0, w_ih, w_hh[, b_ih, b_hh][, w_hr]); w_hr (P, H) only with
    ``projection=True`` (PyTorch's LSTM with proj_size = P): m_t = o * tanh(c_t),
    h_t = m_t W_hr^T, so h is (N, P), c is (N, H) and W_hh is (4H, P); the m_t are
    saved too. Without projection h_t = m_t (P = H).

    backward, with dh, dc the gradients of h_t, c_t:
        dm = dh W_hr   (projection; dm = dh without)
        dc~ = dc + dm o (1 - tanh^2 c_t)
        da_i = dc~ g i (1 - i),  da_f = dc~ c_{t-1} f (1 - f)
        da_g = dc~ i (1 - g^2),  da_o = dm tanh(c_t) o (1 - o)
        dh_{t-1} = dA_t W_hh,  dc_{t-1} = dc~ f
    then dX = dA W_ih, dW_ih = dA^T X, dW_hh = dA^T H_prev, db_ih = db_hh = sum dA and,
    with projection, dW_hr = dH^T M (dH (T, N, P) the dh of every step, M (T, N, H) the
    m_t), one product over all steps.
    """
    reads_outputs = True

    def forward(self, x, h0, c0, w_ih, w_hh, *weights, mask=None, reverse=False,
                projection=False):
        mod = backend.array_module(x)
        x = backend.float_array(x, "lstm")
        mask = _on_device_of(mask, x)
        biases, w_hr = split_projection(weights, projection, "lstm")
        T, N, I, H = check_shapes("lstm", x, (h0, c0), w_ih, w_hh, biases, 4, mask, w_hr)
        P = w_hh.shape[1]
        dtype = _dtype(x, h0, c0, w_ih, w_hh, *weights)
        self.mask, self.reverse, self.dtype = mask, reverse, dtype
        self.projection = bool(projection)
        A = _project(x, w_ih, biases, dtype)
        S = _state_buffer(mod, T, N, P, dtype, h0, reverse)
        C = _state_buffer(mod, T, N, H, dtype, c0, reverse)
        TC = mod.empty((T, N, H), dtype=dtype)
        M = None if w_hr is None else mod.empty((T, N, H), dtype=dtype)
        w_hr_t = None if w_hr is None else w_hr.T
        keep = None if mask is None else ~mask[:, :, None]
        w_hh_t = w_hh.T
        for t, p, n in time_steps(T, reverse):
            a = A[t]
            a += S[p] @ w_hh_t
            backend.sigmoid(a[:, :2 * H], out=a[:, :2 * H])
            g = a[:, 2 * H:3 * H]
            mod.tanh(g, out=g)
            backend.sigmoid(a[:, 3 * H:], out=a[:, 3 * H:])
            c = C[n]
            mod.multiply(a[:, H:2 * H], C[p], out=c)
            c += a[:, :H] * g
            mod.tanh(c, out=TC[t])
            if M is None:
                mod.multiply(a[:, 3 * H:], TC[t], out=S[n])
            else:
                mod.multiply(a[:, 3 * H:], TC[t], out=M[t])
                S[n] = M[t] @ w_hr_t
            if keep is not None:
                mod.copyto(S[n], S[p], where=keep[t])
                mod.copyto(c, C[p], where=keep[t])
        self.A, self.S, self.C, self.TC, self.M = A, S, C, TC, M
        end = 0 if reverse else T
        return _output(S, mask, reverse), S[end].copy(), C[end].copy()

    def _saved(self, recorded):
        """(i, f, g, o, tanh c_t, c_{t-1} per step, H_prev (T, N, P), M (T, N, H) or
        None without projection)."""
        if not recorded:
            H, A = self.C.shape[2], self.A
            return (A[:, :, :H], A[:, :, H:2 * H], A[:, :, 2 * H:3 * H], A[:, :, 3 * H:],
                    self.TC, _before(self.C, self.reverse), _before(self.S, self.reverse),
                    self.M)
        x, h0, c0, w_ih, w_hh, *w = self.inputs
        *_, steps = lstm_reference(x, h0, c0, w_ih, w_hh, *w, mask=self.mask,
                                   reverse=self.reverse, projection=self.projection)
        i, f, g, o, tc, c_prev, h_prev, m = ([s[k] for s in steps] for k in range(8))
        return i, f, g, o, tc, c_prev, _stack(h_prev), _stack(m) if self.projection else None

    def backward(self, d_out, d_h, d_c):
        x, h0, c0, w_ih, w_hh, *weights = self.saved_inputs()
        biases, w_hr = split_projection(weights, self.projection, "lstm")
        recorded = _recorded(x)
        i_all, f_all, g_all, o_all, tc_all, c_prev, h_prev_all, m_all_steps = \
            self._saved(recorded)
        T, N, _ = x.shape
        H, P = w_hh.shape[0] // 4, w_hh.shape[1]
        m_all, keep_all = _step_masks(self.mask, self.dtype)
        rows = _Rows(d_out, T, N, 4 * H, self.dtype)
        dh_rows = None if w_hr is None else _Rows(d_out, T, N, P, self.dtype)
        for t, _, _ in reversed(time_steps(T, self.reverse)):
            if m_all is None:
                dh, dc = d_h + d_out[t], d_c
            else:
                dh, dc = (d_h + d_out[t]) * m_all[t], d_c * m_all[t]
            dm = dh if dh_rows is None else dh_rows.put(t, (dh,)) @ w_hr
            i, f, g, o, tc = i_all[t], f_all[t], g_all[t], o_all[t], tc_all[t]
            dct = dc + dm * o * (1.0 - tc * tc)
            row = rows.put(t, (dct * g * i * (1.0 - i), dct * c_prev[t] * f * (1.0 - f),
                               dct * i * (1.0 - g * g), dm * tc * o * (1.0 - o)))
            dh_prev, dc_prev = row @ w_hh, dct * f
            if m_all is None:
                d_h, d_c = dh_prev, dc_prev
            else:
                d_h, d_c = dh_prev + d_h * keep_all[t], dc_prev + d_c * keep_all[t]
        dx, dw_ih, dw_hh, db = _weight_grads(self, rows.result(), x, h_prev_all, 2, len(biases))
        grads = (dx, d_h, d_c, dw_ih, dw_hh) + (db,) * len(biases)
        if w_hr is not None:
            dw_hr = None
            if self.needs_input_grad[-1]:
                dw_hr = dh_rows.result().reshape((T * N, P)).T @ m_all_steps.reshape((T * N, H))
            grads += (dw_hr,)
        return _input_grads(self, grads)
