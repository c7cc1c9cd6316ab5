"""RNNSequence: the fused Elman RNN (tanh or relu), one direction over a sequence."""
from ... import backend
from ...autograd import Node
from .reference import rnn_reference
from .steps import (_after, _before, _dtype, _input_grads, _on_device_of, _output,
                    _project, _recorded, _Rows, _stack, _state_buffer, _step_masks,
                    _weight_grads, check_shapes, time_steps)


class RNNSequence(Node):
    """One direction of an Elman RNN over a sequence (conventions: ops/rnn/__init__.py):

        A = x W_ih^T + b_ih + b_hh  (all steps, one product)
        h_t = act(A_t + h_{t-1} W_hh^T),  act = tanh or relu

    backward, from the last step taken to the first, with dh the gradient of h_t:
        dA_t = dh * (1 - h_t^2)   (tanh)   or   dh * (h_t > 0)   (relu)
        dh_{t-1} = dA_t W_hh
    then dX = dA W_ih, dW_ih = dA^T X, dW_hh = dA^T H_prev, db_ih = db_hh = sum dA.
    """
    reads_outputs = True
    workspaces = ("A", "S", "dA")     # pool arrays, given back when the node is freed

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
        self.A, self.S = A, S
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
        rows = _Rows(self, "dA", d_out, T, N, H, self.dtype)
        for t, _, _ in reversed(time_steps(T, self.reverse)):
            d = d_h + d_out[t] if m_all is None else (d_h + d_out[t]) * m_all[t]
            h = h_new[t]
            da = d * (1.0 - h * h) if self.nonlinearity == "tanh" else d * (h > 0)
            row = rows.put(t, (da,))
            d_prev = row @ w_hh
            d_h = d_prev if m_all is None else d_prev + d_h * keep_all[t]
        dx, dw_ih, dw_hh, db = _weight_grads(self, rows.result(), x, h_prev_all, 1)
        return _input_grads(self, (dx, d_h, dw_ih, dw_hh) + (db,) * len(biases))
