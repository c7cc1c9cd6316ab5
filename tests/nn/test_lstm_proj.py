"""nn.LSTM with projections (PyTorch's ``proj_size``): h_t = W_hr (o_t * tanh(c_t)).

- the formula in plain NumPy (gates i, f, g, o; c_t = f c + i g; h_t = W_hr (o tanh c_t))
  for one layer and one direction, padded batch included;
- parameter names, shapes, order and init as torch.nn.LSTM(proj_size=...), the repr,
  and the state_dict round trip in both directions;
- PyTorch parity: outputs, (h_n, c_n) and the gradient of every parameter, of the
  input and of both initial states across num_layers 1-2, bidirectional, batch_first,
  initial states, unbatched inputs and lengths (against pack_padded_sequence), fused and
  composed;
- gradcheck / gradgradcheck in float64 (module and the fused primitive with
  projection=True), fused == composed, dropout between layers, each padded sequence
  giving what it gives alone, float32, and the errors (torch's ValueErrors).
"""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tinygrad_seq as ts
from rnn_torch_check import assert_layer_matches_torch
from tinygrad_seq import nn
from tinygrad_seq.ops.rnn import LSTMSequence, lstm_reference

from strategies import ops_in_graph
from test_nn_rnn_primitives import leaves, problems, run_numpy

F64 = ts.float64


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def notes_lstm_proj(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, lengths=None):
    """One layer, one direction, the formula written out step by step in NumPy."""
    T, N, _ = x.shape
    H, P = w_hr.shape[1], w_hr.shape[0]
    h, c = h0.copy(), c0.copy()
    out = np.zeros((T, N, P))
    for t in range(T):
        a = x[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
        g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
        c_new = f * c + i * g
        h_new = (o * np.tanh(c_new)) @ w_hr.T           # h_t = W_hr (o_t * tanh(c_t))
        live = np.ones((N, 1), bool) if lengths is None else (t < np.asarray(lengths))[:, None]
        out[t] = np.where(live, h_new, 0.0)
        h, c = np.where(live, h_new, h), np.where(live, c_new, c)
    return out, h, c


# ---------------------------------------------------------------- the formula

@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
@pytest.mark.parametrize("lengths", [None, [5, 2, 0]], ids=["full", "padded"])
def test_one_layer_follows_the_formula(fused, lengths):
    ts.manual_seed(0)
    m = nn.LSTM(4, 5, proj_size=3, dtype=F64, fused=fused)
    rng = np.random.default_rng(0)
    x, h0, c0 = rng.standard_normal((5, 3, 4)), rng.standard_normal((1, 3, 3)), \
        rng.standard_normal((1, 3, 5))
    out, (h, c) = m(ts.tensor(x), (ts.tensor(h0), ts.tensor(c0)), lengths=lengths)
    p = {n: t.numpy() for n, t in m.named_parameters()}
    want = notes_lstm_proj(x, h0[0], c0[0], p["weight_ih_l0"], p["weight_hh_l0"],
                           p["bias_ih_l0"], p["bias_hh_l0"], p["weight_hr_l0"], lengths)
    assert out.shape == (5, 3, 3) and h.shape == (1, 3, 3) and c.shape == (1, 3, 5)
    np.testing.assert_allclose(out.numpy(), want[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h.numpy()[0], want[1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c.numpy()[0], want[2], rtol=1e-12, atol=1e-14)
    if lengths is not None:                     # length 0: the initial state, zero outputs
        np.testing.assert_array_equal(out.numpy()[:, 2], 0.0)
        np.testing.assert_array_equal(h.numpy()[0, 2], h0[0, 2])
        np.testing.assert_array_equal(c.numpy()[0, 2], c0[0, 2])


# ---------------------------------------------------------------- parameters

def test_parameter_names_shapes_order_and_init_as_torch():
    m = nn.LSTM(5, 7, num_layers=2, bidirectional=True, proj_size=3)
    want = []
    for k in range(2):
        for sfx in ("", "_reverse"):
            want += [(f"weight_ih_l{k}{sfx}", (28, 5 if k == 0 else 6)),
                     (f"weight_hh_l{k}{sfx}", (28, 3)), (f"bias_ih_l{k}{sfx}", (28,)),
                     (f"bias_hh_l{k}{sfx}", (28,)), (f"weight_hr_l{k}{sfx}", (3, 7))]
    assert [(n, tuple(p.shape)) for n, p in m.named_parameters()] == want
    assert [(n, tuple(v.shape)) for n, v in m.state_dict().items()] == want
    bound = 1 / np.sqrt(7)                       # 1/sqrt(hidden_size), weight_hr included
    for n, p in m.named_parameters():
        assert p.dtype == np.float32 and np.abs(p.numpy()).max() <= bound, n
    hr = np.concatenate([p.numpy().ravel() for n, p in m.named_parameters() if "hr" in n])
    assert abs(hr.std() - bound / np.sqrt(3)) < 0.2 * bound   # U(-b, b), not a constant
    no_bias = nn.LSTM(5, 7, bias=False, proj_size=2)
    assert [n for n, _ in no_bias.named_parameters()] == ["weight_ih_l0", "weight_hh_l0",
                                                          "weight_hr_l0"]
    assert m.proj_size == 3 and nn.LSTM(5, 7).proj_size == 0


def test_names_shapes_and_repr_match_torch():
    torch = pytest.importorskip("torch")
    for kwargs in ({}, {"bias": False}, {"num_layers": 2, "bidirectional": True},
                   {"num_layers": 3, "batch_first": True, "bias": False, "bidirectional": True}):
        tm = torch.nn.LSTM(3, 6, proj_size=2, **kwargs)
        m = nn.LSTM(3, 6, proj_size=2, **kwargs)
        assert [(n, tuple(p.shape)) for n, p in m.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in tm.named_parameters()]
        assert repr(m) == repr(tm)
    # positional, in torch's order: proj_size after bidirectional
    assert repr(nn.LSTM(3, 6, 2, True, True, 0.0, True, 4)) == \
        repr(torch.nn.LSTM(3, 6, 2, True, True, 0.0, True, 4))


def test_state_dict_round_trip_with_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tm = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2).double()
    m = nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2, dtype=F64)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    ours = m.state_dict()
    assert list(ours) == list(tm.state_dict())
    for k, v in tm.state_dict().items():
        np.testing.assert_array_equal(ours[k].numpy(), v.numpy())
    # and back: a fresh torch module loads ours and computes the same
    back = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2).double()
    back.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.items()})
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    out, (h, c) = m(ts.tensor(x))
    tout, (th, tc) = back(torch.tensor(x))
    for a, b in ((out, tout), (h, th), (c, tc)):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-14)
    # a state_dict without projections does not fit
    with pytest.raises(Exception):
        nn.LSTM(3, 5, num_layers=2, bidirectional=True, dtype=F64).load_state_dict(ours)


# ---------------------------------------------------------------- PyTorch parity

TORCH_CASES = [  # (num_layers, bidirectional, batch_first, initial state, unbatched, lengths)
    (1, False, False, False, False, None),
    (1, False, False, True, False, None),
    (1, True, False, True, False, None),
    (2, False, True, True, False, None),
    (2, True, True, False, False, None),
    (2, True, False, True, True, None),
    (1, False, True, True, True, None),
    (1, False, False, True, False, [4, 2, 1]),
    (1, True, False, True, False, [4, 2, 1]),
    (2, True, True, True, False, [1, 4, 3]),
    (2, False, False, False, False, [3, 4, 2]),
]


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda c: "L{}-bi{}-bf{}-h0{}-unb{}-len{}".format(
    *c[:5], c[5] is not None))
def test_matches_torch(case, fused):
    torch = pytest.importorskip("torch")
    L, bi, bf, with_state, unbatched, lengths = case
    I, H, P, T, N, D = 3, 5, 2, 4, 3, 2 if bi else 1
    torch.manual_seed(0)
    tm = torch.nn.LSTM(I, H, num_layers=L, bidirectional=bi, batch_first=bf,
                       proj_size=P).double()
    m = nn.LSTM(I, H, num_layers=L, bidirectional=bi, batch_first=bf, proj_size=P, dtype=F64,
                fused=fused)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    rng = np.random.default_rng(1)
    x = rng.standard_normal((T, I) if unbatched else (N, T, I) if bf else (T, N, I))
    lead = (D * L,) if unbatched else (D * L, N)
    states = [rng.standard_normal(lead + (P,)), rng.standard_normal(lead + (H,))] \
        if with_state else []
    assert_layer_matches_torch(m, tm, x, states, lengths, bf, True, rng)


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
def test_float32_matches_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tm = torch.nn.LSTM(3, 6, num_layers=2, bidirectional=True, proj_size=4)
    m = nn.LSTM(3, 6, num_layers=2, bidirectional=True, proj_size=4)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((6, 2, 3)).astype(np.float32)
    tout, (th, tc) = tm(torch.tensor(x))
    out, (h, c) = m(ts.tensor(x))
    assert out.dtype == h.dtype == c.dtype == np.float32
    for a, b in ((out, tout), (h, th), (c, tc)):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
    (tout.sum() + th.sum()).backward()
    (out.sum() + h.sum()).backward()
    tp = dict(tm.named_parameters())
    for n, p in m.named_parameters():
        assert p.grad.dtype == np.float32
        np.testing.assert_allclose(p.grad.numpy(), tp[n].grad.numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=n)


# ---------------------------------------------------------------- gradients

@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
def test_module_gradcheck(fused):
    """Two layers, both directions, padded batch: every parameter (weight_hr included),
    the input and both initial states."""
    ts.manual_seed(1)
    m = nn.LSTM(2, 3, num_layers=2, bidirectional=True, proj_size=2, dtype=F64, fused=fused)
    rng = np.random.default_rng(2)
    x = ts.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    h0 = ts.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    c0 = ts.tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)

    def fn(x, h0, c0, *params):
        out, (h, c) = m(x, (h0, c0), lengths=[3, 2])
        return out, h, c
    assert ts.gradcheck(fn, (x, h0, c0, *m.parameters()))


def test_module_gradgradcheck():
    ts.manual_seed(3)
    m = nn.LSTM(2, 3, proj_size=1, dtype=F64)
    rng = np.random.default_rng(4)
    x = ts.tensor(rng.standard_normal((2, 2, 2)), requires_grad=True)
    h0 = ts.tensor(rng.standard_normal((1, 2, 1)), requires_grad=True)
    c0 = ts.tensor(rng.standard_normal((1, 2, 3)), requires_grad=True)

    def fn(x, h0, c0, *params):
        out, (h, c) = m(x, (h0, c0), lengths=[2, 1])
        return out, h, c
    assert ts.gradgradcheck(fn, (x, h0, c0, *m.parameters()))


@given(data=st.data())
def test_primitive_gradients_with_projection(data):
    """LSTMSequence(projection=True) against finite differences, first and second order
    (the PROPERTY_TESTS entry draws projection or not; this one always projects)."""
    problem = data.draw(problems(LSTMSequence), label="problem")
    assume(problem[1]["projection"])
    inputs, options = leaves(problem[0]), problem[1]

    def fn(*args):
        return LSTMSequence.apply(*args, **options)
    out = fn(*inputs)
    assert LSTMSequence in ops_in_graph(*out)
    (o, h, c), _ = run_numpy(problem)
    for a, b in zip(out, (o, h, c)):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-12, atol=1e-12)
    assert ts.gradcheck(fn, inputs)
    assert ts.gradgradcheck(fn, inputs)


def test_fused_equals_composed():
    ts.manual_seed(7)
    fused = nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True, proj_size=2,
                    dtype=F64)
    composed = nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True, proj_size=2,
                       dtype=F64, fused=False)
    composed.load_state_dict(fused.state_dict())
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 5, 3))
    states = [rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 5))]
    results = []
    for m in (fused, composed):
        xt = ts.tensor(x, requires_grad=True)
        st_ = [ts.tensor(s, requires_grad=True) for s in states]
        out, (h, c) = m(xt, tuple(st_), lengths=[5, 1, 3])
        graph = ops_in_graph(out, h, c)
        assert (LSTMSequence in graph) == (m is fused)
        ((out * out).sum() + (h * h * h).sum() + (c * c * c).sum()).backward()
        results.append([out.numpy(), h.numpy(), c.numpy(), xt.grad.numpy()] +
                       [s.grad.numpy() for s in st_] + [p.grad.numpy() for p in m.parameters()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- lengths, dropout

def test_each_padded_sequence_gives_what_it_gives_alone():
    ts.manual_seed(2)
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=3, dtype=F64)
    rng = np.random.default_rng(5)
    lengths = [5, 2, 4]
    x = rng.standard_normal((5, 3, 3))
    out, (h, c) = m(ts.tensor(x), lengths=lengths)
    for n, ln in enumerate(lengths):
        alone, (ha, ca) = m(ts.tensor(x[:ln, n:n + 1]))
        np.testing.assert_allclose(out.numpy()[:ln, n:n + 1], alone.numpy(), rtol=1e-12,
                                   atol=1e-14)
        np.testing.assert_array_equal(out.numpy()[ln:, n], 0.0)
        np.testing.assert_allclose(h.numpy()[:, n:n + 1], ha.numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(c.numpy()[:, n:n + 1], ca.numpy(), rtol=1e-12, atol=1e-14)


def test_dropout_acts_between_layers_in_training_only():
    ts.manual_seed(0)
    m = nn.LSTM(3, 4, num_layers=2, dropout=1.0, proj_size=2, dtype=F64)   # p = 1: zeros
    x = ts.tensor(np.random.default_rng(0).standard_normal((5, 2, 3)))
    out_train = m(x)[0].numpy()
    # layer 1 alone on a zero input of D*P = 2 features
    top = nn.LSTM(2, 4, proj_size=2, dtype=F64)
    top.load_state_dict({k.replace("_l1", "_l0"): v for k, v in m.state_dict().items()
                         if "_l1" in k})
    np.testing.assert_allclose(out_train, top(ts.zeros(5, 2, 2, dtype=F64))[0].numpy(),
                               rtol=1e-12, atol=1e-14)
    m.eval()
    assert not np.allclose(m(x)[0].numpy(), out_train)


def test_unbatched_and_batch_first_shapes():
    m = nn.LSTM(3, 6, num_layers=2, bidirectional=True, batch_first=True, proj_size=2)
    out, (h, c) = m(ts.randn(4, 7, 3))
    assert out.shape == (4, 7, 4) and h.shape == (4, 4, 2) and c.shape == (4, 4, 6)
    out, (h, c) = m(ts.randn(7, 3), (ts.zeros(4, 2), ts.zeros(4, 6)))
    assert out.shape == (7, 4) and h.shape == (4, 2) and c.shape == (4, 6)
    # truncated BPTT: the final states feed the next chunk
    state = tuple(s.detach() for s in m(ts.randn(4, 7, 3))[1])
    out, _ = m(ts.randn(4, 7, 3), state)
    assert out.shape == (4, 7, 4)


# ---------------------------------------------------------------- errors

def test_errors_match_torch():
    torch = pytest.importorskip("torch")
    for bad, match in ((-1, "proj_size should be a positive integer or zero"),
                       (4, "proj_size has to be smaller than hidden_size"),
                       (5, "proj_size has to be smaller than hidden_size")):
        with pytest.raises(ValueError, match=match):
            torch.nn.LSTM(3, 4, proj_size=bad)
        with pytest.raises(ValueError, match="LSTM: " + match):
            nn.LSTM(3, 4, proj_size=bad)
    for cls in ("RNN", "GRU"):
        with pytest.raises(ValueError, match="only supported for LSTM"):
            getattr(torch.nn, cls)(3, 4, proj_size=2)
        with pytest.raises(ValueError, match=f"{cls}: proj_size argument is only supported for LSTM"):
            getattr(nn, cls)(3, 4, proj_size=2)
    for bad in (1.5, 2.0, "2", True, None):
        with pytest.raises(TypeError, match="LSTM: proj_size should be of type int, got"):
            nn.LSTM(3, 4, proj_size=bad)


def test_state_shape_errors_name_the_module():
    m = nn.LSTM(3, 4, proj_size=2)
    x = ts.zeros(5, 2, 3)
    with pytest.raises(ts.ShapeError, match=r"LSTM: expected an initial state of shape \(1, 2, 2\)"):
        m(x, (ts.zeros(1, 2, 4), ts.zeros(1, 2, 4)))          # h0 of hidden_size
    with pytest.raises(ts.ShapeError, match=r"LSTM: expected an initial state of shape \(1, 2, 4\)"):
        m(x, (ts.zeros(1, 2, 2), ts.zeros(1, 2, 2)))          # c0 of proj_size
    h, w = ts.zeros(2, 2), ts.zeros(2, 4)
    with pytest.raises(ts.ShapeError, match=r"lstm: weight_hr must have shape \(2, 4\)"):
        LSTMSequence.apply(x, h, ts.zeros(2, 4), ts.zeros(16, 3), ts.zeros(16, 2), ts.zeros(4, 2),
                           projection=True)
    with pytest.raises(ts.ShapeError, match=r"lstm: initial state must have shape \(2, 4\)"):
        LSTMSequence.apply(x, h, h, ts.zeros(16, 3), ts.zeros(16, 2), ts.zeros(2, 4),
                           projection=True)
    with pytest.raises(ts.ShapeError, match="lstm: projection=True needs weight_hr"):
        LSTMSequence.apply(x, h, w, ts.zeros(16, 3), ts.zeros(16, 2), projection=True)
    with pytest.raises(ts.ShapeError, match="lstm: projection=True needs weight_hr"):
        lstm_reference(x, h, w, ts.zeros(16, 3), ts.zeros(16, 2), projection=True)


def test_on_device(device):
    """The fused and composed paths on each device agree with the CPU."""
    ts.manual_seed(0)
    m = nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2, dtype=F64)
    rng = np.random.default_rng(0)
    x, h0, c0 = (rng.standard_normal(s) for s in ((4, 3, 3), (4, 3, 2), (4, 3, 5)))
    results = []
    for dev in ("cpu", device):
        for fused in (True, False):
            md = nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2, dtype=F64,
                         fused=fused, device=dev)
            md.load_state_dict(m.state_dict())
            xt = ts.tensor(x, requires_grad=True, device=dev)
            states = [ts.tensor(s, requires_grad=True, device=dev) for s in (h0, c0)]
            out, (h, c) = md(xt, tuple(states), lengths=[4, 1, 3])
            ((out * out).sum() + (h * c[..., :2]).sum() + c.sum()).backward()
            results.append([out.numpy(), h.numpy(), c.numpy(), xt.grad.numpy()] +
                           [s.grad.numpy() for s in states] +
                           [p.grad.numpy() for p in md.parameters()])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
