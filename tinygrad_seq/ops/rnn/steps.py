"""The step code shared by the fused recurrent primitives (RNNSequence, GRUSequence,
LSTMSequence): argument checks, the input projection of all steps, the (T+1)-slot state
buffers, the rows of the gate gradients and the weight gradients of all steps at once.
The conventions are in the package docstring (``ops/rnn/__init__.py``)."""
from ... import backend
from ...autograd import Tensor, call
from ...backend import pool
from ...errors import ShapeError
from ..broadcast import grad_like
from ..movement import Cat


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
    a (T, N, G*H) array from the pool (a workspace of the node). ``hh_bias_columns``
    limits which columns get b_hh (the GRU with reset_after keeps b_hn inside the
    reset gate)."""
    T, N, I = x.shape
    G = w_ih.shape[0]
    mod = backend.array_module(x)
    if pool.serves(mod) and x.dtype == dtype and w_ih.dtype == dtype:
        out = pool.take(mod, (T, N, G), dtype)
        mod.matmul(x.reshape(T * N, I), w_ih.T, out=out.reshape(T * N, G))
    else:
        out = (x.reshape(T * N, I) @ w_ih.T).astype(dtype, copy=False).reshape(T, N, G)
    if biases:
        b_ih, b_hh = biases
        if hh_bias_columns is None:
            out += b_ih + b_hh
        else:
            out += b_ih
            out[:, :, hh_bias_columns] += b_hh[hh_bias_columns]
    return out


def _state_buffer(mod, T, N, H, dtype, initial, reverse):
    """The (T+1)-slot state buffer (from the pool), the initial state in its slot."""
    buf = pool.take(mod, (T + 1, N, H), dtype)
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
    together as (T, N, width): written in place into one array on the fast path (a
    pool array, kept as the node's workspace `name`, so that freeing the node gives it
    back), concatenated from Tensors when the backward is recorded."""

    def __init__(self, node, name, like, T, N, width, dtype):
        if isinstance(like, Tensor):
            self.buffer, self.rows = None, [None] * T
        else:
            self.buffer = pool.take(backend.array_module(like), (T, N, width), dtype)
            setattr(node, name, self.buffer)

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
