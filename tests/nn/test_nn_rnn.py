"""Recurrent modules: RNNCell, GRUCell, LSTMCell, RNN, GRU, LSTM.

- against the notes' formulas in plain NumPy (``numpy_layer`` of
  test_nn_rnn_primitives.py, with the stacked matrices W_a = [W_hh | W_ih]), layer by
  layer and direction by direction, for Hypothesis-drawn options;
- gradcheck in float64 on small sizes (inputs, initial states and every parameter);
- PyTorch parity (torch.nn weights loaded through load_state_dict of NumPy arrays):
  outputs, final states and the gradient of every parameter, of the input and of the
  initial states, across layers, directions, batch_first, initial states, unbatched
  inputs and variable lengths (against pack_padded_sequence / pad_packed_sequence);
- fused == composed (the modules' ``fused=False`` path) for all gradients;
- variable lengths: each padded sequence gives what it gives alone;
- dropout between layers, truncated BPTT with detach (the graph does not grow),
  errors, dtypes, and the benchmark's NumPy floor (benchmarks/numpy_rnn.py) against
  tinygrad_seq.
"""
import importlib.util

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_seq as ts
from paths import BENCHMARKS
from rnn_torch_check import assert_layer_matches_torch
from tinygrad_seq import nn
from tinygrad_seq.ops.rnn import GRUSequence, LSTMSequence, RNNSequence

from strategies import ops_in_graph
from test_nn_rnn_primitives import numpy_layer

F64 = ts.float64
LAYERS = {"RNN": nn.RNN, "RNN_relu": nn.RNN, "GRU": nn.GRU, "GRU_notes": nn.GRU, "LSTM": nn.LSTM}
CELLS = {"RNN": nn.RNNCell, "RNN_relu": nn.RNNCell, "GRU": nn.GRUCell, "GRU_notes": nn.GRUCell,
         "LSTM": nn.LSTMCell}
FUSED_OP = {"RNN": RNNSequence, "RNN_relu": RNNSequence, "GRU": GRUSequence,
            "GRU_notes": GRUSequence, "LSTM": LSTMSequence}


def options(name):
    """Constructor keywords of each variant (GRU_notes: the notes' full GRU)."""
    return {"RNN_relu": {"nonlinearity": "relu"}, "GRU_notes": {"reset_after": False}}.get(name, {})


def make(table, name, *args, **kwargs):
    return table[name](*args, **options(name), **kwargs, dtype=F64)


def numpy_kind(m):
    return {"RNN_TANH": ("rnn", "tanh"), "RNN_RELU": ("rnn", "relu"),
            "GRU": ("gru", getattr(m, "reset_after", True)), "LSTM": ("lstm", None)}[m.mode]


def numpy_module(m, x, hx=None, lengths=None):
    """What a layer module computes, in NumPy: numpy_layer for each layer and direction,
    the directions' outputs side by side as the next layer's input."""
    kind, option = numpy_kind(m)
    p = {n: t.numpy() for n, t in m.named_parameters()}
    D, L, H = 2 if m.bidirectional else 1, m.num_layers, m.hidden_size
    batched = x.ndim == 3
    x = x[:, None] if not batched else x.transpose(1, 0, 2) if m.batch_first else x
    T, N, _ = x.shape
    states = list(hx) if isinstance(hx, tuple) else [hx]
    states = [np.zeros((D * L, N, H)) if s is None else (s if batched else s[:, None])
              for s in states + ([None] if kind == "lstm" and hx is None else [])]
    mask = None if lengths is None else np.arange(T)[:, None] < np.asarray(lengths)[None, :]
    inp, finals = x, [[], []]
    for k in range(L):
        outs = []
        for d in range(D):
            sfx, j = ("_reverse" if d else ""), k * D + d
            names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if m.bias else [])
            w = [p[f"{n}_l{k}{sfx}"] for n in names]
            c0 = states[1][j] if kind == "lstm" else None
            (o, h, c), _ = numpy_layer(kind, inp, states[0][j], c0, *w, mask=mask,
                                       reverse=d == 1, option=option)
            outs.append(o)
            finals[0].append(h)
            finals[1].append(c)
        inp = np.concatenate(outs, axis=-1)
    out, h_n, c_n = inp, np.stack(finals[0]), np.stack(finals[1]) if kind == "lstm" else None
    if not batched:
        out, h_n = out[:, 0], h_n[:, 0]
        c_n = None if c_n is None else c_n[:, 0]
    elif m.batch_first:
        out = out.transpose(1, 0, 2)
    return out, h_n, c_n


def finals(result):
    """(output, h_n, c_n or None) of a layer module's result."""
    out, h = result
    return (out,) + (tuple(h) if isinstance(h, tuple) else (h, None))


# ---------------------------------------------------------------- parameters

@pytest.mark.parametrize("name", list(LAYERS))
def test_parameter_names_shapes_and_init_as_pytorch(name):
    G = {"RNN": 1, "RNN_relu": 1, "GRU": 3, "GRU_notes": 3, "LSTM": 4}[name]
    m = LAYERS[name](5, 7, num_layers=2, bidirectional=True, **options(name))
    want = {}
    for k in range(2):
        for sfx in ("", "_reverse"):
            want.update({f"weight_ih_l{k}{sfx}": (G * 7, 5 if k == 0 else 14),
                         f"weight_hh_l{k}{sfx}": (G * 7, 7), f"bias_ih_l{k}{sfx}": (G * 7,),
                         f"bias_hh_l{k}{sfx}": (G * 7,)})
    got = {n: tuple(p.shape) for n, p in m.named_parameters()}
    assert got == want and list(got) == list(want)          # torch's order too
    values = np.concatenate([p.numpy().ravel() for p in m.parameters()])
    bound = 1 / np.sqrt(7)
    assert values.dtype == np.float32 and np.abs(values).max() <= bound
    assert abs(values.std() - bound / np.sqrt(3)) < 0.1 * bound   # U(-b, b) has std b / sqrt(3)
    cell = CELLS[name](5, 7, bias=False, **options(name))
    assert [(n, tuple(p.shape)) for n, p in cell.named_parameters()] == [
        ("weight_ih", (G * 7, 5)), ("weight_hh", (G * 7, 7))]
    assert cell.bias_ih is None and cell.bias_hh is None
    no_bias = LAYERS[name](5, 7, bias=False, **options(name))
    assert [n for n, _ in no_bias.named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]


def test_torch_parameter_names_match():
    torch = pytest.importorskip("torch")
    for name, ours in LAYERS.items():
        if name == "GRU_notes":
            continue
        tm = getattr(torch.nn, ours.__name__)(3, 4, num_layers=2, bidirectional=True,
                                              **options(name))
        m = ours(3, 4, num_layers=2, bidirectional=True, **options(name))
        assert [(n, tuple(p.shape)) for n, p in m.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in tm.named_parameters()]


def test_flat_weight_names_and_flatten_parameters_as_torch():
    """User code reads torch's weight lists (d2l's init_seq2seq walks
    `_flat_weights_names` and `module._parameters[name]`) and calls
    `flatten_parameters()` after loading (word_language_model)."""
    torch = pytest.importorskip("torch")
    for name, ours in LAYERS.items():
        if name == "GRU_notes":
            continue
        kwargs = dict(num_layers=2, bidirectional=True, **options(name))
        tm = getattr(torch.nn, ours.__name__)(3, 4, **kwargs)
        m = ours(3, 4, **kwargs)
        assert m._flat_weights_names == tm._flat_weights_names
        assert m._all_weights == tm._all_weights
        assert [[tuple(p.shape) for p in ps] for ps in m.all_weights] == \
            [[tuple(p.shape) for p in ps] for ps in tm.all_weights]
        assert all(p is m._parameters[n] for p, n in zip(m._flat_weights, m._flat_weights_names))
        assert m.flatten_parameters() is None


def test_repr_and_seeded_init():
    assert repr(nn.LSTM(3, 4, num_layers=2, batch_first=True)) == \
        "LSTM(3, 4, num_layers=2, batch_first=True)"
    assert repr(nn.GRUCell(3, 4, bias=False)) == "GRUCell(3, 4, bias=False)"
    assert repr(nn.RNNCell(3, 4, nonlinearity="relu")) == "RNNCell(3, 4, nonlinearity='relu')"
    ts.manual_seed(5)
    a = nn.GRU(3, 4).weight_hh_l0.numpy()
    ts.manual_seed(5)
    np.testing.assert_array_equal(a, nn.GRU(3, 4).weight_hh_l0.numpy())


# ---------------------------------------------------------------- the notes' formulas

@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
@pytest.mark.parametrize("name", list(CELLS))
def test_cells_follow_the_notes(name, fused):
    rng = np.random.default_rng(0)
    cell = make(CELLS, name, 3, 4, fused=fused)
    kind, option = numpy_kind(cell)
    w = [p.numpy() for p in cell.parameters()]
    x, h, c = rng.standard_normal((5, 3)), rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    (_, want_h, want_c), _ = numpy_layer(kind, x[None], h, c if kind == "lstm" else None, *w,
                                         option=option)
    got = cell(ts.tensor(x), (ts.tensor(h), ts.tensor(c)) if kind == "lstm" else ts.tensor(h))
    got = got if kind == "lstm" else (got,)
    np.testing.assert_allclose(got[0].numpy(), want_h, rtol=1e-12, atol=1e-12)
    if kind == "lstm":
        np.testing.assert_allclose(got[1].numpy(), want_c, rtol=1e-12, atol=1e-12)
    # unbatched input (I,) and state (H,); no state means zeros
    one = cell(ts.tensor(x[1]), (ts.tensor(h[1]), ts.tensor(c[1])) if kind == "lstm" else ts.tensor(h[1]))
    one = one if kind == "lstm" else (one,)
    assert one[0].shape == (4,)
    np.testing.assert_allclose(one[0].numpy(), want_h[1], rtol=1e-12, atol=1e-12)
    zero = cell(ts.tensor(x))
    (_, want0, _), _ = numpy_layer(kind, x[None], np.zeros((5, 4)),
                                   np.zeros((5, 4)) if kind == "lstm" else None, *w, option=option)
    np.testing.assert_allclose((zero[0] if kind == "lstm" else zero).numpy(), want0, rtol=1e-12,
                               atol=1e-12)


@st.composite
def layer_setups(draw):
    name = draw(st.sampled_from(list(LAYERS)), label="module")
    kw = dict(num_layers=draw(st.integers(1, 2)), bidirectional=draw(st.booleans()),
              batch_first=draw(st.booleans()), bias=draw(st.booleans()),
              fused=draw(st.booleans()))
    T, N = draw(st.integers(1, 4), label="T"), draw(st.integers(1, 3), label="N")
    unbatched = draw(st.booleans(), label="unbatched")
    lengths = None if unbatched else draw(
        st.none() | st.lists(st.integers(1, T), min_size=N, max_size=N), label="lengths")
    with_state = draw(st.booleans(), label="initial state")
    return name, kw, T, N, unbatched, lengths, with_state


@settings(max_examples=40)
@given(setup=layer_setups())
def test_layers_follow_the_notes(setup):
    name, kw, T, N, unbatched, lengths, with_state = setup
    rng = np.random.default_rng(T * 10 + N)
    m = make(LAYERS, name, 3, 2, **kw)
    D = 2 if kw["bidirectional"] else 1
    shape = (T, 3) if unbatched else (N, T, 3) if kw["batch_first"] else (T, N, 3)
    x = rng.standard_normal(shape)
    hx = None
    if with_state:
        s_shape = (D * kw["num_layers"], 2) if unbatched else (D * kw["num_layers"], N, 2)
        hx = tuple(rng.standard_normal(s_shape) for _ in range(2 if name == "LSTM" else 1))
        hx = hx if name == "LSTM" else hx[0]
    t_hx = None if hx is None else tuple(map(ts.tensor, hx)) if name == "LSTM" else ts.tensor(hx)
    got = finals(m(ts.tensor(x), t_hx, lengths=lengths))
    want = numpy_module(m, x, hx, lengths)
    assert got[0].shape == want[0].shape
    for g, w in zip(got, want):
        if w is not None:
            np.testing.assert_allclose(g.numpy(), w, rtol=1e-10, atol=1e-12)
    assert (FUSED_OP[name] in ops_in_graph(got[0])) == kw["fused"]


# ---------------------------------------------------------------- gradients

@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_gradcheck(name, fused):
    """Two layers, both directions, padded batch: every parameter, the input and h0."""
    ts.manual_seed(1)
    m = make(LAYERS, name, 2, 2, num_layers=2, bidirectional=True, fused=fused)
    rng = np.random.default_rng(2)
    x = ts.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    h0 = ts.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    hx = (h0, ts.tensor(rng.standard_normal((4, 2, 2)))) if name == "LSTM" else h0
    if name == "RNN_relu":                   # keep pre-activations off relu's kink
        with ts.no_grad():
            for p in m.parameters():
                p.array[...] = np.abs(p.array) + 0.1
        x.array[...] = np.abs(x.array) + 0.1

    def fn(x, h0, *params):
        out, h = m(x, (h0, hx[1]) if name == "LSTM" else h0, lengths=[3, 2])
        return (out,) + (h if isinstance(h, tuple) else (h,))
    assert ts.gradcheck(fn, (x, h0, *m.parameters()))


@pytest.mark.parametrize("name", list(CELLS))
def test_cell_gradgradcheck(name):
    ts.manual_seed(3)
    cell = make(CELLS, name, 2, 2)
    rng = np.random.default_rng(4)
    x = ts.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    h = ts.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    if name == "RNN_relu":
        with ts.no_grad():
            for p in cell.parameters():
                p.array[...] = np.abs(p.array) + 0.1
        x.array[...] = np.abs(x.array) + 0.1

    def fn(x, h, *params):
        return cell(x, (h, h * 0.5) if name == "LSTM" else h)
    assert ts.gradgradcheck(fn, (x, h, *cell.parameters()))


@pytest.mark.parametrize("name", list(LAYERS))
def test_fused_equals_composed_in_modules(name):
    """Outputs and every gradient (parameters, input, initial states): two layers, both
    directions, batch_first, a padded batch with a sequence of length 1."""
    ts.manual_seed(7)
    fused = make(LAYERS, name, 3, 4, num_layers=2, bidirectional=True, batch_first=True)
    composed = make(LAYERS, name, 3, 4, num_layers=2, bidirectional=True, batch_first=True,
                    fused=False)
    composed.load_state_dict(fused.state_dict())
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 5, 3))
    states = [rng.standard_normal((4, 3, 4)) for _ in range(2 if name == "LSTM" else 1)]
    results = []
    for m in (fused, composed):
        xt = ts.tensor(x, requires_grad=True)
        st_ = [ts.tensor(s, requires_grad=True) for s in states]
        out, h = m(xt, tuple(st_) if name == "LSTM" else st_[0], lengths=[5, 1, 3])
        hs = h if isinstance(h, tuple) else (h,)
        loss = (out * out).sum() + sum((s * s * s).sum() for s in hs)
        loss.backward()
        results.append([out.numpy()] + [s.numpy() for s in hs] + [xt.grad.numpy()] +
                       [s.grad.numpy() for s in st_] + [p.grad.numpy() for p in m.parameters()])
    assert len(results[0]) == len(results[1])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- PyTorch parity

TORCH_CASES = [  # (num_layers, bidirectional, batch_first, initial state, unbatched, lengths)
    (1, False, False, False, False, None),
    (1, True, False, True, False, None),
    (2, False, True, True, False, None),
    (2, True, True, False, False, None),
    (2, True, False, True, True, None),
    (1, False, True, False, True, None),
    (1, True, False, True, False, [4, 2, 1]),
    (2, True, True, True, False, [1, 4, 3]),
    (2, False, False, False, False, [3, 4, 2]),
]


@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda c: "L{}-bi{}-bf{}-h0{}-unb{}-len{}".format(
    *c[:5], c[5] is not None))
@pytest.mark.parametrize("name", ["RNN", "RNN_relu", "GRU", "LSTM"])
def test_layers_match_torch(name, case):
    torch = pytest.importorskip("torch")
    L, bi, bf, with_state, unbatched, lengths = case
    torch.manual_seed(0)
    tm = getattr(torch.nn, LAYERS[name].__name__)(3, 4, num_layers=L, bidirectional=bi,
                                                  batch_first=bf, **options(name)).double()
    m = make(LAYERS, name, 3, 4, num_layers=L, bidirectional=bi, batch_first=bf)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    rng = np.random.default_rng(1)
    T, N, D = 4, 3, 2 if bi else 1
    x = rng.standard_normal((T, 3) if unbatched else (N, T, 3) if bf else (T, N, 3))
    s_shape = (D * L, 4) if unbatched else (D * L, N, 4)
    states = [rng.standard_normal(s_shape) for _ in range(2 if name == "LSTM" else 1)] \
        if with_state else []
    assert_layer_matches_torch(m, tm, x, states, lengths, bf, name == "LSTM", rng)


@pytest.mark.parametrize("name", ["RNN", "RNN_relu", "GRU", "LSTM"])
def test_cells_match_torch(name):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tc = getattr(torch.nn, CELLS[name].__name__)(3, 4, **options(name)).double()
    cell = make(CELLS, name, 3, 4)
    cell.load_state_dict({k: v.detach().numpy() for k, v in tc.state_dict().items()})
    rng = np.random.default_rng(2)
    x, h, c = (rng.standard_normal(s) for s in ((5, 3), (5, 4), (5, 4)))
    for batched in (True, False):
        xs, hs, cs = (x, h, c) if batched else (x[0], h[0], c[0])
        tx, th, tcc = (torch.tensor(a, requires_grad=True) for a in (xs, hs, cs))
        ours = [ts.tensor(a, requires_grad=True) for a in (xs, hs, cs)]
        if name == "LSTM":
            t_out, out = tc(tx, (th, tcc)), cell(ours[0], (ours[1], ours[2]))
        else:
            t_out, out = (tc(tx, th),), (cell(ours[0], ours[1]),)
        for a, b in zip(out, t_out):
            np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12)
        sum((b * b).sum() for b in t_out).backward()
        sum((a * a).sum() for a in out).backward()
        for a, b in zip(ours, (tx, th, tcc)):
            if b.grad is not None:
                np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)
        tp = dict(tc.named_parameters())
        for n, p in cell.named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), tp[n].grad.numpy(), rtol=1e-10,
                                       atol=1e-12, err_msg=n)
        cell.zero_grad()
        tc.zero_grad()


def test_float32_matches_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tm = torch.nn.LSTM(8, 16, num_layers=2, bidirectional=True)
    m = nn.LSTM(8, 16, num_layers=2, bidirectional=True)
    m.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((12, 5, 8)).astype(np.float32)
    tout, _ = tm(torch.from_numpy(x))
    out, (h, c) = m(ts.tensor(x))
    assert out.dtype == h.dtype == c.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-4, atol=1e-5)
    tout.sum().backward()
    out.sum().backward()
    for n, p in m.named_parameters():
        assert p.grad.dtype == np.float32
        want = dict(tm.named_parameters())[n].grad.numpy()
        np.testing.assert_allclose(p.grad.numpy(), want, rtol=1e-3, atol=1e-4 * np.abs(want).max())


# ---------------------------------------------------------------- variable lengths

@pytest.mark.parametrize("name", list(LAYERS))
def test_each_padded_sequence_gives_what_it_gives_alone(name):
    ts.manual_seed(11)
    m = make(LAYERS, name, 3, 4, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(12)
    lengths = [2, 6, 1, 4]
    x = rng.standard_normal((6, 4, 3))
    x[np.arange(6)[:, None] >= np.array(lengths)] = 99.0     # padding must not matter
    out, h = m(ts.tensor(x), lengths=ts.tensor(lengths))
    h = h if isinstance(h, tuple) else (h,)
    for n, length in enumerate(lengths):
        alone_out, alone_h = m(ts.tensor(x[:length, n:n + 1]))
        alone_h = alone_h if isinstance(alone_h, tuple) else (alone_h,)
        np.testing.assert_allclose(out.numpy()[:length, n], alone_out.numpy()[:, 0], rtol=1e-12,
                                   atol=1e-13)
        np.testing.assert_array_equal(out.numpy()[length:, n], 0.0)
        for a, b in zip(h, alone_h):
            np.testing.assert_allclose(a.numpy()[:, n], b.numpy()[:, 0], rtol=1e-12, atol=1e-13)


def test_lengths_accept_lists_arrays_and_tensors_and_full_lengths_change_nothing():
    m = make(LAYERS, "GRU", 2, 3)
    x = ts.tensor(np.random.default_rng(0).standard_normal((3, 2, 2)))
    plain = m(x)[0].numpy()
    for lengths in ([3, 3], np.array([3, 3]), ts.tensor([3, 3])):
        np.testing.assert_array_equal(m(x, lengths=lengths)[0].numpy(), plain)
    short = m(x, lengths=np.array([2, 3], dtype=np.int32))[0].numpy()
    np.testing.assert_array_equal(short[2, 0], 0.0)


# ---------------------------------------------------------------- dropout, modes, TBPTT

def test_dropout_acts_between_layers_in_training_only():
    ts.manual_seed(0)
    m = nn.LSTM(3, 4, num_layers=2, dropout=1.0, dtype=F64)     # p = 1 zeroes layer 0's output
    x = ts.tensor(np.random.default_rng(0).standard_normal((5, 2, 3)))
    out_train = m(x)[0].numpy()
    zero_input = m(ts.zeros(5, 2, 3, dtype=F64))[0].numpy()
    m.eval()
    out_eval = m(x)[0].numpy()
    # training: layer 1 sees zeros, so x does not matter; eval: no dropout at all
    np.testing.assert_allclose(out_train, zero_input, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(out_eval, numpy_module(m, x.numpy())[0], rtol=1e-10, atol=1e-12)
    assert not np.allclose(out_eval, out_train)
    with pytest.warns(UserWarning, match="dropout"):
        nn.GRU(3, 4, dropout=0.5)
    half = nn.GRU(3, 4, num_layers=3, dropout=0.5)
    ts.manual_seed(3)
    a = half(ts.ones(2, 1, 3))[0].numpy()
    ts.manual_seed(3)
    np.testing.assert_array_equal(a, half(ts.ones(2, 1, 3))[0].numpy())


def count_nodes(t):
    seen, stack = set(), [t.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(getattr(node, "parents", ()))
    return len(seen)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
@pytest.mark.parametrize("name", ["GRU", "LSTM"])
def test_truncated_bptt_with_detach_keeps_the_graph_from_growing(name, fused):
    """The docstring's loop: the state carried into the next chunk is detached, so every
    loss has a graph of the same size, and backward reaches only its own chunk."""
    ts.manual_seed(0)
    m = nn.LSTM(2, 3, fused=fused) if name == "LSTM" else nn.GRU(2, 3, fused=fused)
    rng = np.random.default_rng(0)
    state, sizes = None, []
    for _ in range(4):
        chunk = ts.tensor(rng.standard_normal((5, 2, 2)).astype(np.float32))
        out, state = m(chunk, state)
        loss = (out * out).mean()
        sizes.append(count_nodes(loss))
        m.zero_grad()
        loss.backward()
        assert all(p.grad is not None for p in m.parameters())
        state = tuple(s.detach() for s in state) if name == "LSTM" else state.detach()
        assert all(s.grad_fn is None and not s.requires_grad
                   for s in (state if isinstance(state, tuple) else (state,)))
    assert sizes[0] > 1 and len(set(sizes[1:])) == 1
    # without detach the graph would have grown with every chunk
    state, grown = None, []
    for _ in range(3):
        out, state = m(ts.tensor(rng.standard_normal((5, 2, 2)).astype(np.float32)), state)
        grown.append(count_nodes((out * out).mean()))
    assert grown[0] < grown[1] < grown[2]


def test_no_grad_records_nothing_and_eval_is_deterministic():
    m = nn.LSTM(2, 3, num_layers=2, dropout=0.3).eval()
    x = ts.randn(4, 2, 2)
    with ts.no_grad():
        out, (h, c) = m(x)
    assert out.grad_fn is None and h.grad_fn is None and c.grad_fn is None
    np.testing.assert_array_equal(out.numpy(), m(x)[0].numpy())


def test_long_sequences_backprop():
    ts.manual_seed(0)
    for fused in (True, False):
        m = nn.GRU(2, 3, fused=fused)
        out, h = m(ts.randn(1500, 1, 2))
        h.sum().backward()
        assert np.isfinite(m.weight_hh_l0.grad.numpy()).all()


# ---------------------------------------------------------------- errors and dtypes

def test_errors_name_the_module_and_what_it_got():
    m = nn.LSTM(3, 4)
    with pytest.raises(ts.ShapeError, match=r"LSTM: expected input with 3 features .* \(5, 2, 7\)"):
        m(ts.zeros(5, 2, 7))
    with pytest.raises(ts.ShapeError, match="LSTM: expected a 3-D"):
        m(ts.zeros(5))
    for fused in (True, False):
        with pytest.raises(ts.ShapeError, match=r"LSTM: the input has no time steps \(shape \(0, 2, 3\)\)"):
            nn.LSTM(3, 4, fused=fused)(ts.zeros(0, 2, 3))
    with pytest.raises(ts.ShapeError, match=r"LSTM: expected an initial state of shape \(1, 2, 4\)"):
        m(ts.zeros(5, 2, 3), (ts.zeros(1, 3, 4), ts.zeros(1, 2, 4)))
    with pytest.raises(TypeError, match="LSTM: hx must be a tuple"):
        m(ts.zeros(5, 2, 3), ts.zeros(1, 2, 4))
    with pytest.raises(ts.ShapeError, match=r"lengths must be between 0 and .* 5, got \[6, 1\]"):
        m(ts.zeros(5, 2, 3), lengths=[6, 1])
    with pytest.raises(ts.ShapeError, match="lengths must be a 1-D sequence of 2"):
        m(ts.zeros(5, 2, 3), lengths=[5, 1, 1])
    with pytest.raises(ts.ShapeError, match="lengths= needs a batched"):
        m(ts.zeros(5, 3), lengths=[5])
    with pytest.raises(ts.DTypeError, match="lengths must be integers"):
        m(ts.zeros(5, 2, 3), lengths=[1.5, 2])
    with pytest.raises(ts.DTypeError, match="GRU: expected a float input"):
        nn.GRU(3, 4)(ts.zeros(5, 2, 3, dtype=ts.int64))
    with pytest.raises(ts.ShapeError, match=r"GRUCell: expected input of shape \(N, 3\)"):
        nn.GRUCell(3, 4)(ts.zeros(2, 5))
    with pytest.raises(ts.ShapeError, match=r"RNNCell: expected a hidden state of shape \(2, 4\)"):
        nn.RNNCell(3, 4)(ts.zeros(2, 3), ts.zeros(3, 4))
    with pytest.raises(TypeError, match="LSTMCell: hx must be a tuple"):
        nn.LSTMCell(3, 4)(ts.zeros(2, 3), ts.zeros(2, 4))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="num_layers"):
        nn.GRU(3, 4, num_layers=0)


def test_default_dtype_and_state_dtype_follow_the_parameters():
    m = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    out, h = m(ts.randn(5, 2, 3))
    assert out.dtype == h.dtype == np.float32 and out.shape == (5, 2, 8) and h.shape == (4, 2, 4)
    (out.sum() + h.sum()).backward()
    assert all(p.grad.dtype == np.float32 for p in m.parameters())
    m64 = nn.LSTM(3, 4, dtype=F64)
    out, (h, c) = m64(ts.randn(5, 2, 3).double())
    assert out.dtype == h.dtype == c.dtype == np.float64
    # a float64 input to float32 weights computes in float64 (NumPy's promotion); each
    # weight's gradient keeps the weight's dtype
    for fused in (True, False):
        m32 = nn.LSTM(3, 4, fused=fused)
        out, (h, c) = m32(ts.randn(5, 2, 3).double())
        assert out.dtype == h.dtype == np.float64
        out.sum().backward()
        assert all(p.grad.dtype == np.float32 for p in m32.parameters())


# ---------------------------------------------------------------- the benchmark's NumPy floor

def _numpy_rnn():
    path = BENCHMARKS / "numpy_rnn.py"
    spec = importlib.util.spec_from_file_location("numpy_rnn", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["GRU", "LSTM"])
def test_the_benchmarks_numpy_floor_equals_tinygrad_seq(name):
    """benchmarks/numpy_rnn.py (hand-derived BPTT) and the fused modules agree on the
    outputs and on every gradient, in float64."""
    floor = _numpy_rnn()
    ts.manual_seed(0)
    m = make(LAYERS, name, 3, 5)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 4, 3))
    states = [rng.standard_normal((4, 5)) for _ in range(2 if name == "LSTM" else 1)]
    d_out = rng.standard_normal((6, 4, 5))
    w = [p.numpy() for p in m.parameters()]
    if name == "LSTM":
        want_out, cache = floor.lstm_forward(x, states[0], states[1], *w)
        want = floor.lstm_backward(d_out, cache, need_dx=True)
    else:
        want_out, cache = floor.gru_forward(x, states[0], *w)
        want = floor.gru_backward(d_out, cache, need_dx=True)
    xt = ts.tensor(x, requires_grad=True)
    st_ = [ts.tensor(s[None], requires_grad=True) for s in states]
    out, _ = m(xt, tuple(st_) if name == "LSTM" else st_[0])
    (out * ts.tensor(d_out)).sum().backward()
    np.testing.assert_allclose(out.numpy(), want_out, rtol=1e-12, atol=1e-13)
    got = {"w_ih": m.weight_ih_l0, "w_hh": m.weight_hh_l0, "b_ih": m.bias_ih_l0,
           "b_hh": m.bias_hh_l0, "x": xt, "h0": st_[0]}
    if name == "LSTM":
        got["c0"] = st_[1]
    assert set(got) == set(want)
    for key, t in got.items():
        np.testing.assert_allclose(t.grad.numpy().reshape(want[key].shape), want[key], rtol=1e-10,
                                   atol=1e-12, err_msg=key)
