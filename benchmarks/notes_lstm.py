"""The notes' LSTM cell, as a training step two ways: written from Tensor primitives (as
examples/rnn_step_by_step.py writes it) and by hand in NumPy (its floor: forward and
BPTT derived by hand). protocol.py times both; tests/engine/test_saved_memory.py compares their
memory. Shapes as in the notes: x (n_x, m, T_x), a (n_a, m) per step, one column per
example; gates f, i, c, o on the stacked [a<t-1>; x<t>]; the loss is the MSE of every
a<t> against a target.

(No thread pinning here: importing this module changes nothing; protocol.py does that.)
"""
import numpy as np

import tinygrad_seq as ts


def problem(n_x=256, n_a=512, m=64, T=100, seed=0):
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(n_a)
    params = {}
    for g in "fico":
        params[f"W_{g}"] = rng.uniform(-k, k, (n_a, n_a + n_x)).astype(np.float32)
        params[f"b_{g}"] = rng.uniform(-k, k, (n_a, 1)).astype(np.float32)
    x = rng.standard_normal((n_x, m, T)).astype(np.float32)
    y = (rng.standard_normal((n_a, m, T)) * 0.5).astype(np.float32)
    return params, x, y


NAMES = ["W_f", "b_f", "W_i", "b_i", "W_c", "b_c", "W_o", "b_o"]


def cell(xt, a_prev, c_prev, W_f, b_f, W_i, b_i, W_c, b_c, W_o, b_o):
    """The notes' LSTM cell from Tensor primitives (examples/rnn_step_by_step.py)."""
    stacked = ts.cat([a_prev, xt], axis=0)
    ft = (W_f @ stacked + b_f).sigmoid()
    it = (W_i @ stacked + b_i).sigmoid()
    cct = (W_c @ stacked + b_c).tanh()
    c_next = ft * c_prev + it * cct
    ot = (W_o @ stacked + b_o).sigmoid()
    a_next = ot * c_next.tanh()
    return a_next, c_next


def ts_runner(params, x, y, sync=lambda: None):
    n_a, m, T = y.shape
    ps = [ts.tensor(params[n], requires_grad=True) for n in NAMES]
    xt, yt = ts.tensor(x), ts.tensor(y)

    def step():
        for p in ps:
            p.grad = None
        a = c = ts.zeros((n_a, m))
        states = []
        for t in range(T):
            a, c = cell(xt[:, :, t], a, c, *ps)
            states.append(a)
        ((ts.stack(states, axis=2) - yt) ** 2).mean().backward()
        sync()
        return [p.grad.array for p in ps]
    return step


def _sigmoid_(a):
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5


def numpy_runner(params, x, y):
    """The notes' cell by hand: the four gates as one (4 n_a, n) product per step on
    the stacked [a; x] (kept for the weight gradient), activations in place and kept,
    c<t> and tanh(c<t>) kept; BPTT derived by hand (the notes' lstm_cell_backward)."""
    n_x, m, T = x.shape
    n_a = y.shape[0]
    Wg = np.concatenate([params[f"W_{g}"] for g in "fico"])     # (4 n_a, n_a + n_x)
    bg = np.concatenate([params[f"b_{g}"] for g in "fico"])     # (4 n_a, 1)
    y_t = np.ascontiguousarray(y.transpose(2, 0, 1))           # (T, n_a, m)
    xs = np.ascontiguousarray(x.transpose(2, 0, 1))            # (T, n_x, m)

    def step():
        S = np.empty((T, n_a + n_x, m), np.float32)
        G = np.empty((T, 4 * n_a, m), np.float32)
        C = np.empty((T + 1, n_a, m), np.float32)
        TC = np.empty((T, n_a, m), np.float32)
        A = np.empty((T, n_a, m), np.float32)
        C[0] = 0
        S[0, :n_a] = 0
        for t in range(T):
            if t:
                S[t, :n_a] = A[t - 1]
            S[t, n_a:] = xs[t]
            z = G[t]
            np.matmul(Wg, S[t], out=z)
            z += bg
            _sigmoid_(z[:2 * n_a])                              # f, i
            np.tanh(z[2 * n_a:3 * n_a], out=z[2 * n_a:3 * n_a])   # c~
            _sigmoid_(z[3 * n_a:])                              # o
            f, i, cc, o = z[:n_a], z[n_a:2 * n_a], z[2 * n_a:3 * n_a], z[3 * n_a:]
            np.multiply(f, C[t], out=C[t + 1])
            C[t + 1] += i * cc
            np.tanh(C[t + 1], out=TC[t])
            np.multiply(o, TC[t], out=A[t])
        diff = A - y_t
        _loss = float((diff * diff).mean())
        diff *= 2.0 / diff.size                                 # d loss / d a<t>
        dW = np.zeros_like(Wg)
        db = np.zeros_like(bg)
        dz = np.empty((4 * n_a, m), np.float32)
        da_next = np.zeros((n_a, m), np.float32)
        dc_next = np.zeros((n_a, m), np.float32)
        for t in range(T - 1, -1, -1):
            z = G[t]
            f, i, cc, o = z[:n_a], z[n_a:2 * n_a], z[2 * n_a:3 * n_a], z[3 * n_a:]
            tc = TC[t]
            da = diff[t] + da_next
            dc = dc_next + da * o * (1 - tc * tc)
            dz[:n_a] = dc * C[t] * f * (1 - f)
            dz[n_a:2 * n_a] = dc * cc * i * (1 - i)
            dz[2 * n_a:3 * n_a] = dc * i * (1 - cc * cc)
            dz[3 * n_a:] = da * tc * o * (1 - o)
            dW += dz @ S[t].T
            db += dz.sum(axis=1, keepdims=True)
            da_next = (Wg[:, :n_a].T @ dz)
            dc_next = dc * f
        out = []
        for k in range(4):
            out += [dW[k * n_a:(k + 1) * n_a], db[k * n_a:(k + 1) * n_a]]
        return out
    return step
