"""GRUSequence: the fused GRU (gates r, z, n; both reset_after forms), one direction
over a sequence."""
from ... import backend
from ...autograd import Node, call
from ...backend import pool
from ..movement import Cat
from .reference import gru_reference
from .steps import (_before, _dtype, _input_grads, _on_device_of, _output, _project,
                    _recorded, _Rows, _stack, _state_buffer, _step_masks, _weight_grads,
                    check_shapes, time_steps)


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
    workspaces = ("A", "S", "U", "dA", "dU")     # pool arrays, given back when the node is freed

    def forward(self, x, h0, w_ih, w_hh, *biases, mask=None, reverse=False, reset_after=True):
        mod = backend.array_module(x)
        x = backend.float_array(x, "gru")
        mask = _on_device_of(mask, x)
        T, N, I, H = check_shapes("gru", x, (h0,), w_ih, w_hh, biases, 3, mask)
        dtype = _dtype(x, h0, w_ih, w_hh, *biases)
        self.mask, self.reverse, self.reset_after, self.dtype = mask, reverse, reset_after, dtype
        A = _project(x, w_ih, biases, dtype, slice(0, 2 * H) if reset_after else None)
        S = _state_buffer(mod, T, N, H, dtype, h0, reverse)
        U = pool.take(mod, (T, N, H), dtype)
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
        rows = _Rows(self, "dA", d_out, T, N, 3 * H, self.dtype)
        du_rows = _Rows(self, "dU", d_out, T, N, H, self.dtype) if self.reset_after else None
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
