"""LSTMSequence: the fused LSTM (gates i, f, g, o; optionally with projections,
PyTorch's proj_size), one direction over a sequence."""
from ... import backend
from ...autograd import Node
from ...backend import pool
from .reference import lstm_reference
from .steps import (_before, _dtype, _input_grads, _on_device_of, _output, _project,
                    _recorded, _Rows, _stack, _state_buffer, _step_masks, _weight_grads,
                    check_shapes, split_projection, time_steps)


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
    workspaces = ("A", "S", "C", "TC", "M", "dA", "dH")     # pool arrays, given back when the node is freed

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
        TC = pool.take(mod, (T, N, H), dtype)
        M = None if w_hr is None else pool.take(mod, (T, N, H), dtype)
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
        rows = _Rows(self, "dA", d_out, T, N, 4 * H, self.dtype)
        dh_rows = None if w_hr is None else _Rows(self, "dH", d_out, T, N, P, self.dtype)
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
