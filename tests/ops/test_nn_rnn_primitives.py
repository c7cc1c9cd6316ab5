"""The fused recurrent primitives of ops/rnn/ (RNNSequence, GRUSequence, LSTMSequence):

- the notes' formulas written out in plain NumPy (``numpy_layer``; also used by
  test_nn_rnn.py), with the stacked matrices of the notes built from weight_hh and
  weight_ih;
- forward values against them (``forward_case``, registered in
  test_primitives_forward.py's FORWARD table);
- gradients and gradients of gradients against finite differences in float64
  (``test_rnn_sequence_gradients``, registered in test_primitives_grad.py's
  PROPERTY_TESTS);
- fused == composed: the primitive against the same computation composed from
  primitives (the ``*_reference`` functions), outputs and every gradient, float64.

Hypothesis draws the sizes (T 1-3, N 1-2, I 1-3, H 1-2), bias or not, direction,
lengths (including 0 and full) and each cell's variant (the LSTM: with projections,
PyTorch's proj_size, P 1-2, or not).
"""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_seq as ts
from tinygrad_seq.ops.rnn import (GRUSequence, LSTMSequence, RNNSequence, gru_reference,
                                  lstm_reference, rnn_reference)

from branch_check import check_branches, check_reference_engine, sampled
from strategies import ops_in_graph

GATES = {RNNSequence: 1, GRUSequence: 3, LSTMSequence: 4}


# ---------------------------------------------------------------- the notes in NumPy

def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_layer(kind, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, mask=None, reverse=False,
                option=None, w_hr=None):
    """One direction over x (T, N, I) with the notes' stacked matrices, in NumPy.

    kind "rnn": a<t> = g(W_a [a<t-1>; x<t>] + b_a), W_a = [W_hh | W_ih], b_a = b_ih + b_hh,
    g = tanh or relu (option).
    kind "gru" (gates r, z, n; option = reset_after):
        r = sigmoid(W_r [h; x] + b_r), z = sigmoid(W_z [h; x] + b_z) with W_r = [W_hr | W_ir],
        b_r = b_ir + b_hr (likewise z), then
        n = tanh(W_n [r * h; x] + b_n)                   (reset_after=False: the notes' GRU)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))    (reset_after=True: PyTorch's)
        h' = (1 - z) n + z h  (the notes' Gamma_u is 1 - z)
    kind "lstm": Gamma_u = i, Gamma_f = f, Gamma_o = o = sigmoid(W_. [a; x] + b_.),
        c~ = g = tanh(W_c [a; x] + b_c), c = i * c~ + f * c_prev, a = o * tanh(c);
        with w_hr (PyTorch's proj_size), a = W_hr (o * tanh(c)): a has P features, c H.
    At steps where mask is False a sequence keeps its state and outputs 0.
    Returns (outputs (T, N, H), h_T, c_T or None) and the pre-activations of every step.
    """
    T, N, _ = x.shape
    H = w_hh.shape[0] // {"rnn": 1, "gru": 3, "lstm": 4}[kind]
    if b_ih is None:
        b_ih = b_hh = np.zeros(w_hh.shape[0])
    W = np.concatenate([w_hh, w_ih], axis=1)          # [W_hh | W_ih]: acts on [h; x]
    b = b_ih + b_hh
    h, c = h0.copy(), None if c0 is None else c0.copy()
    out = np.zeros((T, N, h0.shape[1]))
    pre = []
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        hx = np.concatenate([h, x[t]], axis=1)         # [h<t-1>; x<t>]
        if kind == "rnn":
            a = hx @ W.T + b
            pre.append(a)
            h_new = np.tanh(a) if option == "tanh" else np.maximum(a, 0)
            c_new = None
        elif kind == "gru":
            rz = sigmoid(hx @ W[:2 * H].T + b[:2 * H])
            r, z = rz[:, :H], rz[:, H:]
            if option:                                 # reset_after
                n = np.tanh(x[t] @ w_ih[2 * H:].T + b_ih[2 * H:]
                            + r * (h @ w_hh[2 * H:].T + b_hh[2 * H:]))
            else:
                n = np.tanh(np.concatenate([r * h, x[t]], axis=1) @ W[2 * H:].T + b[2 * H:])
            h_new, c_new = (1 - z) * n + z * h, None
        else:
            a = hx @ W.T + b
            i, f, g, o = (sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]),
                          sigmoid(a[:, 3 * H:]))
            c_new = i * g + f * c
            h_new = o * np.tanh(c_new)
            if w_hr is not None:
                h_new = h_new @ w_hr.T
        m = np.ones((N, 1), bool) if mask is None else mask[t][:, None]
        out[t] = np.where(m, h_new, 0.0)
        h = np.where(m, h_new, h)
        if c_new is not None:
            c = np.where(m, c_new, c)
    return (out, h, c), pre


# ---------------------------------------------------------------- problems

SMALL = st.floats(-1.2, 1.2, allow_nan=False, allow_infinity=False)


@st.composite
def problems(draw, primitive, dtype=np.float64):
    """Arguments of one primitive call: (tensors, options, numpy kind, numpy option)."""
    G = GATES[primitive]
    T, N = draw(st.integers(1, 3), label="T"), draw(st.integers(1, 2), label="N")
    I, H = draw(st.integers(1, 3), label="I"), draw(st.integers(1, 2), label="H")

    def arr(*shape):
        return draw(hnp.arrays(np.float64, shape, elements=SMALL)).astype(dtype)

    projection = primitive is LSTMSequence and draw(st.booleans(), label="projection")
    P = draw(st.integers(1, 2), label="P") if projection else H
    x, h0 = arr(T, N, I), arr(N, P)
    states = [h0, arr(N, H)] if primitive is LSTMSequence else [h0]
    weights = [arr(G * H, I), arr(G * H, P)]
    if draw(st.booleans(), label="bias"):
        weights += [arr(G * H), arr(G * H)]
    if projection:
        weights.append(arr(P, H))           # w_hr last, PyTorch's order
    lengths = draw(st.none() | st.lists(st.integers(0, T), min_size=N, max_size=N), label="lengths")
    mask = None if lengths is None else np.arange(T)[:, None] < np.array(lengths)[None, :]
    options = {"mask": mask, "reverse": draw(st.booleans(), label="reverse")}
    if primitive is RNNSequence:
        options["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]), label="nonlinearity")
        kind, option = "rnn", options["nonlinearity"]
    elif primitive is GRUSequence:
        options["reset_after"] = draw(st.booleans(), label="reset_after")
        kind, option = "gru", options["reset_after"]
    else:
        options["projection"] = projection
        kind, option = "lstm", None
    return [x] + states + weights, options, kind, option


def run_numpy(problem):
    arrays, options, kind, option = problem
    arrays = [a.astype(np.float64) for a in arrays]
    n_states = 2 if kind == "lstm" else 1
    x, states, weights = arrays[0], arrays[1:1 + n_states], arrays[1 + n_states:]
    c0 = states[1] if kind == "lstm" else None
    w_hr = weights.pop() if options.get("projection") else None
    return numpy_layer(kind, x, states[0], c0, *weights, mask=options["mask"],
                       reverse=options["reverse"], option=option, w_hr=w_hr)


def away_from_relu_kink(problem):
    """Finite differences across relu's kink disagree with the derivative: keep every
    pre-activation of a relu RNN at least 1e-3 from 0."""
    if problem[2] == "rnn" and problem[3] == "relu":
        _, pre = run_numpy(problem)
        return min(np.abs(a).min() for a in pre) > 1e-3
    return True


def leaves(arrays):
    return [ts.tensor(a, requires_grad=True) for a in arrays]


# ---------------------------------------------------------------- forward (FORWARD table)

def forward_case(primitive):
    """A case for test_primitives_forward.py: (outputs, NumPy's, tracked inputs)."""
    def case(draw, dtype):
        problem = draw(problems(primitive, dtype))
        inputs = leaves(problem[0])
        got = primitive.apply(*inputs, **problem[1])
        (out, h, c), _ = run_numpy(problem)
        want = (out, h) if c is None else (out, h, c)
        return got, tuple(w.astype(dtype) for w in want), inputs
    return case


# ---------------------------------------------------------------- gradients (PROPERTY_TESTS)

@pytest.mark.parametrize("primitive", list(GATES), ids=lambda c: c.__name__)
@given(data=st.data())
def test_rnn_sequence_gradients(primitive, data):
    problem = data.draw(problems(primitive), label="problem")
    assume(away_from_relu_kink(problem))
    inputs, options = leaves(problem[0]), problem[1]

    def fn(*args):
        return primitive.apply(*args, **options)
    assert primitive in ops_in_graph(*fn(*inputs))
    assert ts.gradcheck(fn, inputs)
    assert check_branches(fn, inputs)
    if sampled():
        assert check_reference_engine(fn, inputs)


# ---------------------------------------------------------------- fused == composed

REFERENCE = {RNNSequence: rnn_reference, GRUSequence: gru_reference, LSTMSequence: lstm_reference}


@pytest.mark.parametrize("primitive", list(GATES), ids=lambda c: c.__name__)
@given(data=st.data())
def test_fused_equals_composed(primitive, data):
    """Outputs and the gradients of every input, for random upstream gradients."""
    problem = data.draw(problems(primitive), label="problem")
    assume(away_from_relu_kink(problem))
    fused_in, composed_in = leaves(problem[0]), leaves(problem[0])
    fused = primitive.apply(*fused_in, **problem[1])
    composed = REFERENCE[primitive](*composed_in, **problem[1])[:len(fused)]
    assert primitive in ops_in_graph(*fused) and primitive not in ops_in_graph(*composed)
    rng = np.random.default_rng(0)
    seeds = [rng.standard_normal(o.shape) for o in fused]
    for a, b in zip(fused, composed):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-12)
    grads_fused = ts.grad(list(fused), fused_in, [ts.tensor(s) for s in seeds])
    grads_composed = ts.grad(list(composed), composed_in, [ts.tensor(s) for s in seeds])
    for a, b in zip(grads_fused, grads_composed):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("primitive", list(GATES), ids=lambda c: c.__name__)
def test_forward_matches_the_notes_in_float64(primitive):
    # tighter than the FORWARD table's float64 check can be for every draw: one fixed case
    rng = np.random.default_rng(3)
    G, T, N, I, H = GATES[primitive], 4, 3, 5, 3
    states = [rng.standard_normal((N, H)) for _ in range(2 if primitive is LSTMSequence else 1)]
    arrays = [rng.standard_normal((T, N, I))] + states + [
        rng.standard_normal((G * H, I)), rng.standard_normal((G * H, H)),
        rng.standard_normal(G * H), rng.standard_normal(G * H)]
    mask = np.arange(T)[:, None] < np.array([4, 0, 2])[None, :]
    for reverse in (False, True):
        options = {"mask": mask, "reverse": reverse}
        kind, option = {RNNSequence: ("rnn", "tanh"), GRUSequence: ("gru", False),
                        LSTMSequence: ("lstm", None)}[primitive]
        if primitive is GRUSequence:
            options["reset_after"] = False
        got = primitive.apply(*[ts.tensor(a) for a in arrays], **options)
        (out, h, c), _ = run_numpy((arrays, options, kind, option))
        for g, w in zip(got, (out, h, c)):
            np.testing.assert_allclose(g.numpy(), w, rtol=1e-12, atol=1e-14)
        # sequence 1 has length 0: zero outputs, its initial state unchanged
        np.testing.assert_array_equal(got[0].numpy()[:, 1], 0.0)
        np.testing.assert_array_equal(got[1].numpy()[1], states[0][1])


def test_errors_name_the_primitive_and_the_shapes():
    x, h = ts.zeros(2, 3, 4), ts.zeros(3, 5)
    with pytest.raises(ts.ShapeError, match=r"lstm: weight_ih must have shape \(20, 4\)"):
        LSTMSequence.apply(x, h, h, ts.zeros(20, 3), ts.zeros(20, 5))
    with pytest.raises(ts.ShapeError, match=r"gru: initial state must have shape \(3, 5\)"):
        GRUSequence.apply(x, ts.zeros(2, 5), ts.zeros(15, 4), ts.zeros(15, 5))
    with pytest.raises(ts.ShapeError, match=r"rnn: mask must have shape \(2, 3\)"):
        RNNSequence.apply(x, h, ts.zeros(5, 4), ts.zeros(5, 5), mask=np.ones((3, 2), bool))
    with pytest.raises(ts.ShapeError, match="rnn: expected an input of shape"):
        RNNSequence.apply(ts.zeros(3, 4), h, ts.zeros(5, 4), ts.zeros(5, 5))
    with pytest.raises(ts.DTypeError, match="lstm: expected a float"):
        LSTMSequence.apply(ts.zeros(2, 3, 4, dtype=ts.bool), h, h, ts.zeros(20, 4), ts.zeros(20, 5))
