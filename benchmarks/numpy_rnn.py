"""The NumPy floor for recurrent layers: an LSTM and a GRU (PyTorch's cell, gates in
PyTorch's order and parameter shapes) written by hand in NumPy, forward and
hand-derived backpropagation through time. ``bench_rnn.py`` compares tinygrad_seq
and PyTorch with it; ``tests/nn/test_nn_rnn.py`` checks it against tinygrad_seq in float64.

It is the fastest plain NumPy we know how to write for one direction of one layer,
time-major (T, N, I):

- the input projection X W_ih^T + b for all steps is one matrix product; only
  h_{t-1} W_hh^T stays inside the loop;
- the gate activations are computed in place in that projection buffer (sigmoid as
  0.5 + 0.5 tanh(x / 2): one transcendental, no overflow) and kept for the backward,
  with c_t, tanh(c_t) and h_t;
- the backward writes the gradients of the gate pre-activations of every step into one
  (T, N, G*H) array, so that dW_ih = dA^T X, dW_hh = dA^T H_prev and the bias gradients
  are one product or sum each after the loop, not T small ones.

forward(x, h0, [c0,] w_ih, w_hh, b_ih, b_hh) -> (output (T, N, H), cache);
backward(d_output, cache, need_dx=False) -> dict of gradients (w_ih, w_hh, b_ih, b_hh,
h0, [c0,] and x when asked).
"""
import numpy as np


def _sigmoid_(a):
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5


# ---------------------------------------------------------------- LSTM (gates i, f, g, o)

def lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    T, N, I = x.shape
    H = w_hh.shape[1]
    acts = (x.reshape(T * N, I) @ w_ih.T).reshape(T, N, 4 * H)
    acts += b_ih + b_hh
    hs = np.empty((T + 1, N, H), x.dtype)
    cs = np.empty((T + 1, N, H), x.dtype)
    tcs = np.empty((T, N, H), x.dtype)
    hs[0], cs[0] = h0, c0
    w_hh_t = w_hh.T
    for t in range(T):
        a = acts[t]
        a += hs[t] @ w_hh_t
        _sigmoid_(a[:, :2 * H])                 # i, f
        np.tanh(a[:, 2 * H:3 * H], out=a[:, 2 * H:3 * H])   # g
        _sigmoid_(a[:, 3 * H:])                 # o
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        np.multiply(f, cs[t], out=cs[t + 1])
        cs[t + 1] += i * g
        np.tanh(cs[t + 1], out=tcs[t])
        np.multiply(o, tcs[t], out=hs[t + 1])
    return hs[1:], (x, w_ih, w_hh, acts, hs, cs, tcs)


def lstm_backward(d_out, cache, need_dx=False):
    x, w_ih, w_hh, acts, hs, cs, tcs = cache
    T, N, I = x.shape
    H = w_hh.shape[1]
    dA = np.empty_like(acts)
    dh = np.zeros((N, H), x.dtype)
    dc = np.zeros((N, H), x.dtype)
    for t in range(T - 1, -1, -1):
        a = acts[t]
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        tc = tcs[t]
        dh = dh + d_out[t]
        dc = dc + dh * o * (1 - tc * tc)
        da = dA[t]
        da[:, :H] = dc * g * i * (1 - i)
        da[:, H:2 * H] = dc * cs[t] * f * (1 - f)
        da[:, 2 * H:3 * H] = dc * i * (1 - g * g)
        da[:, 3 * H:] = dh * tc * o * (1 - o)
        dh = da @ w_hh
        dc = dc * f
    dA2 = dA.reshape(T * N, 4 * H)
    db = dA2.sum(axis=0)
    grads = {"w_ih": dA2.T @ x.reshape(T * N, I), "w_hh": dA2.T @ hs[:-1].reshape(T * N, H),
             "b_ih": db, "b_hh": db, "h0": dh, "c0": dc}
    if need_dx:
        grads["x"] = (dA2 @ w_ih).reshape(T, N, I)
    return grads


# ---------------------------------------------------------------- GRU (gates r, z, n)

def gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh):
    """PyTorch's GRU: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) n + z h."""
    T, N, I = x.shape
    H = w_hh.shape[1]
    acts = (x.reshape(T * N, I) @ w_ih.T).reshape(T, N, 3 * H)
    acts += b_ih
    acts[:, :, :2 * H] += b_hh[:2 * H]
    hs = np.empty((T + 1, N, H), x.dtype)
    hns = np.empty((T, N, H), x.dtype)          # W_hn h + b_hn, the reset gate's operand
    hs[0] = h0
    w_hh_t, b_hn = w_hh.T, b_hh[2 * H:]
    for t in range(T):
        a, h = acts[t], hs[t]
        hh = h @ w_hh_t
        a[:, :2 * H] += hh[:, :2 * H]
        _sigmoid_(a[:, :2 * H])                 # r, z
        np.add(hh[:, 2 * H:], b_hn, out=hns[t])
        n = a[:, 2 * H:]
        n += a[:, :H] * hns[t]
        np.tanh(n, out=n)
        np.subtract(h, n, out=hs[t + 1])        # h' = n + z (h - n)
        hs[t + 1] *= a[:, H:2 * H]
        hs[t + 1] += n
    return hs[1:], (x, w_ih, w_hh, acts, hs, hns)


def gru_backward(d_out, cache, need_dx=False):
    x, w_ih, w_hh, acts, hs, hns = cache
    T, N, I = x.shape
    H = w_hh.shape[1]
    dA = np.empty_like(acts)                    # gradients of the input projection
    dHn = np.empty((T, N, H), x.dtype)          # ... and of W_hn h + b_hn
    dh = np.zeros((N, H), x.dtype)
    w_rz, w_n = w_hh[:2 * H], w_hh[2 * H:]
    for t in range(T - 1, -1, -1):
        a, h = acts[t], hs[t]
        r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
        dh = dh + d_out[t]
        dan = dh * (1 - z) * (1 - n * n)
        da = dA[t]
        da[:, :H] = dan * hns[t] * r * (1 - r)
        da[:, H:2 * H] = dh * (h - n) * z * (1 - z)
        da[:, 2 * H:] = dan
        np.multiply(dan, r, out=dHn[t])
        dh = dh * z + da[:, :2 * H] @ w_rz + dHn[t] @ w_n
    dA2, dHn2, H2 = dA.reshape(T * N, 3 * H), dHn.reshape(T * N, H), hs[:-1].reshape(T * N, H)
    grads = {"w_ih": dA2.T @ x.reshape(T * N, I),
             "w_hh": np.concatenate([dA2[:, :2 * H].T @ H2, dHn2.T @ H2]),
             "b_ih": dA2.sum(axis=0),
             "b_hh": np.concatenate([dA2[:, :2 * H].sum(axis=0), dHn2.sum(axis=0)]),
             "h0": dh}
    if need_dx:
        grads["x"] = (dA2 @ w_ih).reshape(T, N, I)
    return grads
