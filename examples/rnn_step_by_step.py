"""RNN and LSTM step by step: the notes' cells written from Tensor primitives, unrolled
over time, and their gradients three ways.

The notes' shapes: x (n_x, m, T_x), hidden states a (n_a, m, T_x), one column per
example. Both cells use the stacked weight W = [W_aa | W_ax] on the stacked input
[a<t-1>; x<t>], so that W [a<t-1>; x<t>] = W_aa a<t-1> + W_ax x<t>:

RNN cell:   a<t> = tanh(W_a [a<t-1>; x<t>] + b_a),   y<t> = softmax(W_ya a<t> + b_y)
LSTM cell:  f = sigmoid(W_f [a<t-1>; x<t>] + b_f)      forget gate
            i = sigmoid(W_i [a<t-1>; x<t>] + b_i)      update gate
            cc = tanh(W_c [a<t-1>; x<t>] + b_c)        candidate
            o = sigmoid(W_o [a<t-1>; x<t>] + b_o)      output gate
            c<t> = f * c<t-1> + i * cc,  a<t> = o * tanh(c<t>)

For each cell, the loss L = sum(a * da) over every time step (da a fixed random
upstream gradient, as the notes' rnn_backward / lstm_backward receive it) is
differentiated three ways, in float64:

1. autograd (loss.backward() through the unrolled graph);
2. backpropagation through time derived by hand, in NumPy (the notes'
   rnn_cell_backward / lstm_cell_backward, walked from t = T_x back to 1);
3. ts.gradcheck: float64 central differences of the whole unrolled function.

Success criterion: autograd agrees with hand-derived BPTT to 1e-7 (largest absolute
difference over every gradient: x, a0, W, b) and gradcheck passes with atol = 1e-7,
rtol = 0, for both cells.

    python examples/rnn_step_by_step.py            # a second or two
    python examples/rnn_step_by_step.py --quick    # the same, smaller (CI)
"""
import argparse
import sys

import numpy as np

import tinygrad_seq as ts
import tinygrad_seq.functional as F

TOL = 1e-7


# ---------------------------------------------------------------- the cells from primitives

def rnn_cell_forward(xt, a_prev, W_a, b_a, W_ya, b_y):
    """One step of the notes' RNN cell: (a_next (n_a, m), yt_pred (n_y, m))."""
    stacked = ts.cat([a_prev, xt], axis=0)                  # [a<t-1>; x<t>]
    a_next = (W_a @ stacked + b_a).tanh()
    yt_pred = F.softmax(W_ya @ a_next + b_y, axis=0)
    return a_next, yt_pred


def rnn_forward(x, a0, W_a, b_a, W_ya, b_y):
    """x (n_x, m, T_x) -> a (n_a, m, T_x), y_pred (n_y, m, T_x)."""
    a_next, states, preds = a0, [], []
    for t in range(x.shape[2]):
        a_next, yt = rnn_cell_forward(x[:, :, t], a_next, W_a, b_a, W_ya, b_y)
        states.append(a_next)
        preds.append(yt)
    return ts.stack(states, axis=2), ts.stack(preds, axis=2)


def lstm_cell_forward(xt, a_prev, c_prev, W_f, b_f, W_i, b_i, W_c, b_c, W_o, b_o):
    """One step of the notes' LSTM cell: (a_next, c_next)."""
    stacked = ts.cat([a_prev, xt], axis=0)
    ft = (W_f @ stacked + b_f).sigmoid()
    it = (W_i @ stacked + b_i).sigmoid()
    cct = (W_c @ stacked + b_c).tanh()
    c_next = ft * c_prev + it * cct
    ot = (W_o @ stacked + b_o).sigmoid()
    a_next = ot * c_next.tanh()
    return a_next, c_next


def lstm_forward(x, a0, *params):
    """x (n_x, m, T_x) -> a (n_a, m, T_x), c (n_a, m, T_x); c<0> = 0 as in the notes."""
    a_next, c_next = a0, ts.zeros(a0.shape, dtype=a0.dtype)
    states, cells = [], []
    for t in range(x.shape[2]):
        a_next, c_next = lstm_cell_forward(x[:, :, t], a_next, c_next, *params)
        states.append(a_next)
        cells.append(c_next)
    return ts.stack(states, axis=2), ts.stack(cells, axis=2)


# ---------------------------------------------------------------- hand-derived BPTT (NumPy)

def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def rnn_backward_numpy(x, a0, W_a, b_a, da):
    """Gradients of sum(a * da) by hand: a forward pass keeping each step's values,
    then the notes' rnn_cell_backward from the last step to the first."""
    n_a = a0.shape[0]
    T = x.shape[2]
    a_prev, caches = a0, []
    for t in range(T):
        stacked = np.concatenate([a_prev, x[:, :, t]], axis=0)
        a_next = np.tanh(W_a @ stacked + b_a)
        caches.append((stacked, a_next))
        a_prev = a_next
    dx, dW_a, db_a = np.zeros_like(x), np.zeros_like(W_a), np.zeros_like(b_a)
    da_prev = np.zeros_like(a0)
    for t in reversed(range(T)):
        stacked, a_next = caches[t]
        dz = (da[:, :, t] + da_prev) * (1 - a_next ** 2)   # through tanh
        dW_a += dz @ stacked.T                                # = [dW_aa | dW_ax]
        db_a += dz.sum(axis=1, keepdims=True)
        dstacked = W_a.T @ dz
        da_prev, dx[:, :, t] = dstacked[:n_a], dstacked[n_a:]
    return {"x": dx, "a0": da_prev, "W_a": dW_a, "b_a": db_a}


def lstm_backward_numpy(x, a0, W_f, b_f, W_i, b_i, W_c, b_c, W_o, b_o, da):
    """Gradients of sum(a * da) by hand (the notes' lstm_cell_backward, step by step)."""
    n_a = a0.shape[0]
    T = x.shape[2]
    a_prev, c_prev, caches = a0, np.zeros_like(a0), []
    for t in range(T):
        s = np.concatenate([a_prev, x[:, :, t]], axis=0)
        ft, it = sigmoid(W_f @ s + b_f), sigmoid(W_i @ s + b_i)
        cct, ot = np.tanh(W_c @ s + b_c), sigmoid(W_o @ s + b_o)
        c_next = ft * c_prev + it * cct
        a_next = ot * np.tanh(c_next)
        caches.append((s, c_prev, ft, it, cct, ot, c_next))
        a_prev, c_prev = a_next, c_next
    names = ["W_f", "b_f", "W_i", "b_i", "W_c", "b_c", "W_o", "b_o"]
    weights = {"W_f": W_f, "W_i": W_i, "W_c": W_c, "W_o": W_o}
    grads = {n: np.zeros_like(v) for n, v in zip(names, [W_f, b_f, W_i, b_i, W_c, b_c, W_o, b_o])}
    dx = np.zeros_like(x)
    da_next, dc_next = np.zeros_like(a0), np.zeros_like(a0)
    for t in reversed(range(T)):
        s, c_prev, ft, it, cct, ot, c_next = caches[t]
        da_t = da[:, :, t] + da_next
        tanh_c = np.tanh(c_next)
        dc = dc_next + da_t * ot * (1 - tanh_c ** 2)          # total gradient into c<t>
        gate_grads = {
            "o": da_t * tanh_c * ot * (1 - ot),
            "c": dc * it * (1 - cct ** 2),
            "i": dc * cct * it * (1 - it),
            "f": dc * c_prev * ft * (1 - ft),
        }
        ds = np.zeros_like(s)
        for g, dz in gate_grads.items():
            grads[f"W_{g}"] += dz @ s.T
            grads[f"b_{g}"] += dz.sum(axis=1, keepdims=True)
            ds += weights[f"W_{g}"].T @ dz
        da_next, dx[:, :, t] = ds[:n_a], ds[n_a:]
        dc_next = dc * ft
    grads.update({"x": dx, "a0": da_next})
    return grads


# ---------------------------------------------------------------- the comparisons

def compare(title, names, tensors, loss, hand):
    loss.backward()
    worst = 0.0
    print(f"{title}: autograd vs hand-derived BPTT (largest |difference| per gradient)")
    for name, t in zip(names, tensors):
        diff = float(np.abs(t.grad.numpy() - hand[name]).max())
        scale = float(np.abs(hand[name]).max())
        worst = max(worst, diff)
        print(f"  d{name:<3} shape {str(tuple(t.shape)):<14} max |grad| {scale:9.3e}   max |diff| {diff:.2e}")
    return worst


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (CI)")
    args = parser.parse_args(argv)
    n_x, n_a, n_y, m, T_x = (3, 5, 2, 4, 4) if args.quick else (3, 5, 2, 10, 7)
    rng = np.random.default_rng(1)
    f64 = lambda a: ts.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)  # noqa: E731

    x_np = rng.standard_normal((n_x, m, T_x))
    a0_np = rng.standard_normal((n_a, m))
    da_np = rng.standard_normal((n_a, m, T_x))
    da = ts.tensor(da_np)
    ok = True

    # ---- RNN
    W_aa, W_ax = rng.standard_normal((n_a, n_a)), rng.standard_normal((n_a, n_x))
    W_a_np = np.concatenate([W_aa, W_ax], axis=1)               # W_a = [W_aa | W_ax]
    b_a_np = rng.standard_normal((n_a, 1))
    W_ya, b_y = ts.tensor(rng.standard_normal((n_y, n_a))), ts.tensor(rng.standard_normal((n_y, 1)))
    stacked_ok = np.allclose(W_a_np @ np.concatenate([a0_np, x_np[:, :, 0]]),
                             W_aa @ a0_np + W_ax @ x_np[:, :, 0], atol=1e-12)
    print(f"W_a [a; x] == W_aa a + W_ax x: {stacked_ok}")
    ok &= stacked_ok
    x, a0, W_a, b_a = f64(x_np), f64(a0_np), f64(W_a_np), f64(b_a_np)
    a, y_pred = rnn_forward(x, a0, W_a, b_a, W_ya, b_y)
    print(f"RNN forward: a {tuple(a.shape)}, y_pred {tuple(y_pred.shape)} "
          f"(each y_pred column sums to 1: {np.allclose(y_pred.numpy().sum(axis=0), 1)})")
    hand = rnn_backward_numpy(x_np, a0_np, W_a_np, b_a_np, da_np)
    worst = compare("RNN", ["x", "a0", "W_a", "b_a"], [x, a0, W_a, b_a], (a * da).sum(), hand)
    gc = ts.gradcheck(lambda *ins: (rnn_forward(*ins, W_ya, b_y)[0] * da).sum(),
                      (x, a0, W_a, b_a), atol=TOL, rtol=0, raise_exception=False)
    print(f"  largest difference {worst:.2e} (<= {TOL:g}: {worst <= TOL}); "
          f"gradcheck (atol {TOL:g}, rtol 0): {'passed' if gc else 'FAILED'}")
    ok &= worst <= TOL and gc

    # ---- LSTM
    lstm_np = []
    for _ in range(4):                                          # gates f, i, c, o
        lstm_np += [rng.standard_normal((n_a, n_a + n_x)) * 0.7, rng.standard_normal((n_a, 1)) * 0.5]
    x, a0 = f64(x_np), f64(a0_np)
    params = [f64(p) for p in lstm_np]
    a, c = lstm_forward(x, a0, *params)
    print(f"LSTM forward: a {tuple(a.shape)}, c {tuple(c.shape)}")
    hand = lstm_backward_numpy(x_np, a0_np, *lstm_np, da_np)
    names = ["x", "a0", "W_f", "b_f", "W_i", "b_i", "W_c", "b_c", "W_o", "b_o"]
    worst = compare("LSTM", names, [x, a0] + params, (a * da).sum(), hand)
    gc = ts.gradcheck(lambda *ins: (lstm_forward(*ins)[0] * da).sum(),
                      tuple([x, a0] + params), atol=TOL, rtol=0, raise_exception=False)
    print(f"  largest difference {worst:.2e} (<= {TOL:g}: {worst <= TOL}); "
          f"gradcheck (atol {TOL:g}, rtol 0): {'passed' if gc else 'FAILED'}")
    ok &= worst <= TOL and gc

    print(f"success criterion (autograd = hand-derived BPTT = finite differences to {TOL:g}, "
          "RNN and LSTM):", "MET" if ok else "NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
