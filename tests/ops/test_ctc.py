"""CTC (ops/ctc.py, F.ctc_loss, nn.CTCLoss, decoding.ctc_*_decode).

- the loss against brute-force enumeration of all alignments (plain NumPy,
  ``ctc_brute``; also the FORWARD case of test_primitives_forward.py) and against
  torch 2.x's ctc_loss (every reduction, padded and concatenated targets, unbatched,
  blank != 0, repeated labels, empty targets, impossible alignments with and
  without zero_infinity, float32, T = 3000);
- the gradient for the logits through log_softmax against torch's, and the gradient
  for log_probs (exact: torch's minus exp(log_probs)) by gradcheck
  (``test_ctc_gradients``, registered in test_primitives_grad.py's PROPERTY_TESTS);
- create_graph refused (differentiable once);
- the decoders against enumeration.
"""
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_seq as ts
import tinygrad_seq.functional as F
import tinygrad_seq.nn as nn
from tinygrad_seq.decoding import ctc_beam_decode, ctc_greedy_decode
from tinygrad_seq.errors import AutogradError
from tinygrad_seq.ops.ctc import CTCLoss

from branch_check import check_once_differentiable
from strategies import ops_in_graph


# ---------------------------------------------------------------- brute force in NumPy

def collapse(path, blank):
    out, prev = [], None
    for k in path:
        if k != prev and k != blank:
            out.append(k)
        prev = k
    return out


def label_logprobs(lp, T, blank):
    """{labels: log p(labels)} summing every alignment of length T (lp: (T_max, C))."""
    scores = {}
    for path in itertools.product(range(lp.shape[1]), repeat=T):
        key = tuple(collapse(path, blank))
        scores.setdefault(key, []).append(sum(lp[t, k] for t, k in enumerate(path)))
    return {k: np.logaddexp.reduce(v) for k, v in scores.items()}


def ctc_brute(lp, labels, T, blank):
    """-log sum over the alignments of length T that collapse to `labels`."""
    return -label_logprobs(lp, T, blank).get(tuple(labels), -np.inf)


@st.composite
def ctc_problems(draw, max_T=4, max_C=3, max_N=2):
    T = draw(st.integers(1, max_T))
    C = draw(st.integers(2, max_C))
    N = draw(st.integers(1, max_N))
    blank = draw(st.integers(0, C - 1))
    labels = [k for k in range(C) if k != blank]
    in_len = [draw(st.integers(1, T)) for _ in range(N)]
    targets = [draw(st.lists(st.sampled_from(labels), max_size=T)) for _ in range(N)]
    x = draw(st.lists(st.floats(-2, 2), min_size=T * N * C, max_size=T * N * C))
    return np.array(x).reshape(T, N, C), targets, in_len, blank


def padded(targets):
    S = max(1, max(len(t) for t in targets))
    out = np.zeros((len(targets), S), dtype=np.int64)
    for n, t in enumerate(targets):
        out[n, :len(t)] = t
    return out, [len(t) for t in targets]


def ctc_forward_case(draw, dtype):
    """FORWARD table case: per-sequence losses against enumeration of alignments."""
    x, targets, in_len, blank = draw(ctc_problems())
    lp = x - np.logaddexp.reduce(x, axis=2, keepdims=True)
    tg, tl = padded(targets)
    t = ts.tensor(lp.astype(dtype), requires_grad=True)
    got = F.ctc_loss(t, tg, in_len, tl, blank=blank, reduction="none")
    want = [ctc_brute(lp[:, n], targets[n], in_len[n], blank) for n in range(len(targets))]
    return got, np.array(want, dtype=dtype), [t]


@settings(max_examples=40, deadline=None)
@given(problem=ctc_problems())
def test_ctc_gradients(problem):
    """Gradcheck of the exact gradient with respect to free log_probs (any values),
    and of the gradient for the logits through log_softmax."""
    x, targets, in_len, blank = problem
    tg, tl = padded(targets)
    possible = all(len(t) + sum(a == b for a, b in zip(t, t[1:])) <= T
                   for t, T in zip(targets, in_len))
    zero_inf = not possible
    leaf = ts.tensor(x, requires_grad=True)

    def free(v):
        return F.ctc_loss(v, tg, in_len, tl, blank=blank, reduction="sum",
                          zero_infinity=zero_inf)

    def through_log_softmax(v):
        return F.ctc_loss(F.log_softmax(v, dim=2), tg, in_len, tl, blank=blank,
                          reduction="mean", zero_infinity=zero_inf)
    assert CTCLoss in ops_in_graph(free(leaf))
    assert ts.gradcheck(free, (leaf,))
    assert ts.gradcheck(through_log_softmax, (leaf,))
    assert check_once_differentiable(free, (leaf,))     # CTCLoss.once_differentiable


@settings(max_examples=40, deadline=None)
@given(problem=ctc_problems())
def test_loss_equals_enumeration_of_alignments(problem):
    x, targets, in_len, blank = problem
    tg, tl = padded(targets)
    got = F.ctc_loss(ts.tensor(x), tg, in_len, tl, blank=blank, reduction="none").numpy()
    want = [ctc_brute(x[:, n], targets[n], in_len[n], blank) for n in range(len(targets))]
    np.testing.assert_allclose(got, want, rtol=1e-10)


# ---------------------------------------------------------------- against torch

try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


def both(x, targets, in_len, tgt_len, dtype=np.float64, log_softmax=True, **kw):
    """(loss, grad for x) from tinygrad_seq and from torch."""
    xt = torch.tensor(x.astype(dtype), requires_grad=True)
    lt = torch.nn.functional.ctc_loss(xt.log_softmax(-1) if log_softmax else xt,
                                      torch.as_tensor(targets), torch.as_tensor(in_len),
                                      torch.as_tensor(tgt_len), **kw)
    lt.sum().backward()
    xs = ts.tensor(x.astype(dtype), requires_grad=True)
    ls = F.ctc_loss(F.log_softmax(xs, dim=-1) if log_softmax else xs, targets, in_len,
                    tgt_len, **kw)
    ls.sum().backward()
    return (ls.numpy(), xs.grad.numpy()), (lt.detach().numpy(), xt.grad.numpy())


def random_batch(rng, T=15, N=4, C=6, blank=0, repeats=True):
    x = rng.standard_normal((T, N, C))
    labels = [k for k in range(C) if k != blank]
    targets = []
    for n in range(N):
        s = int(rng.integers(0, 6))
        t = list(rng.choice(labels, size=s))
        if repeats and s >= 2:
            t[1] = t[0]                                     # a repeated label
        targets.append(t)
    in_len = [int(rng.integers(8, T + 1)) for _ in range(N)]
    return x, targets, in_len


@needs_torch
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
@pytest.mark.parametrize("blank", [0, 3])
def test_matches_torch(reduction, layout, blank):
    rng = np.random.default_rng(blank + len(reduction))
    x, targets, in_len = random_batch(rng, blank=blank)
    targets[0] = []                                       # an empty target
    if layout == "padded":
        tg, tl = padded(targets)
    else:
        tg, tl = np.array(sum(targets, []), dtype=np.int64), [len(t) for t in targets]
    ours, theirs = both(x, tg, in_len, tl, blank=blank, reduction=reduction)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-8, atol=1e-12)


@needs_torch
def test_the_gradient_for_log_probs_is_torchs_minus_exp_log_probs():
    rng = np.random.default_rng(0)
    x, targets, in_len = random_batch(rng)
    lp = x - np.logaddexp.reduce(x, axis=2, keepdims=True)
    tg, tl = padded(targets)
    ours, theirs = both(lp, tg, in_len, tl, log_softmax=False, reduction="sum")
    mask = (np.arange(lp.shape[0])[:, None] < np.array(in_len)[None])[:, :, None]
    np.testing.assert_allclose(ours[1], theirs[1] - np.exp(lp) * mask, atol=1e-12)
    np.testing.assert_allclose(ours[1].sum(axis=2), -1.0 * mask[..., 0], atol=1e-12)  # posteriors


@needs_torch
def test_unbatched_and_module_match_torch():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((9, 5))
    ours, theirs = both(x, np.array([1, 2, 2, 4]), 9, 4, reduction="mean")
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-10)
    np.testing.assert_allclose(ours[1], theirs[1], atol=1e-12)
    assert ours[0].shape == () and F.ctc_loss(ts.tensor(x), [1, 2], 9, 2, reduction="none").shape == ()
    xb, targets, in_len = random_batch(rng)
    tg, tl = padded(targets)
    loss = nn.CTCLoss(blank=0, reduction="sum")(F.log_softmax(ts.tensor(xb), dim=2), tg,
                                                ts.tensor(in_len), ts.tensor(tl))
    want = torch.nn.CTCLoss(blank=0, reduction="sum")(torch.tensor(xb).log_softmax(2),
                                                      torch.tensor(tg), torch.tensor(in_len),
                                                      torch.tensor(tl))
    assert loss.item() == pytest.approx(want.item(), rel=1e-10)


@needs_torch
@pytest.mark.parametrize("zero_infinity", [False, True])
def test_impossible_alignments(zero_infinity):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3, 4))
    targets = [[1, 2, 3, 1, 2], [1, 1, 2], [2, 3]]     # 5 labels in 4 frames; 1,1 needs a blank
    tg, tl = padded(targets)
    in_len = [4, 3, 4]
    ours, theirs = both(x, tg, in_len, tl, reduction="none", zero_infinity=zero_infinity)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-10)
    if zero_infinity:
        assert list(ours[0][:2]) == [0, 0]
        np.testing.assert_allclose(ours[1], theirs[1], atol=1e-12)
        assert not ours[1][:, :2].any()
    else:
        assert np.isinf(ours[0][:2]).all() and np.isfinite(ours[0][2])
        assert np.isnan(ours[1][:, :2]).any()
        np.testing.assert_allclose(ours[1][:, 2], theirs[1][:, 2], atol=1e-12)


@needs_torch
def test_float32_and_long_inputs_are_stable():
    rng = np.random.default_rng(2)
    T, N, C = 3000, 2, 8
    x = rng.standard_normal((T, N, C)) * 3
    targets = [list(rng.integers(1, C, size=200)), list(rng.integers(1, C, size=50))]
    tg, tl = padded(targets)
    in_len = [T, 2100]
    ours, theirs = both(x, tg, in_len, tl, reduction="none")
    assert np.isfinite(ours[0]).all() and ours[0][0] > 1000
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-10)
    np.testing.assert_allclose(ours[1], theirs[1], atol=1e-10)
    x32, targets32, in32 = random_batch(rng)
    tg32, tl32 = padded(targets32)
    ours, theirs = both(x32, tg32, in32, tl32, dtype=np.float32, reduction="mean")
    assert ours[0].dtype == np.float32
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5)
    np.testing.assert_allclose(ours[1], theirs[1], atol=1e-5)


def test_create_graph_is_refused():
    x = ts.tensor(np.random.default_rng(0).standard_normal((5, 1, 4)), requires_grad=True)
    loss = F.ctc_loss(F.log_softmax(x, dim=2), [[1, 2]], [5], [2])
    with pytest.raises(AutogradError, match="differentiable once"):
        ts.grad(loss, x, create_graph=True)
    (g,) = ts.grad(F.ctc_loss(F.log_softmax(x, dim=2), [[1, 2]], [5], [2]), x)
    assert np.isfinite(g.numpy()).all()


def test_errors_name_the_argument():
    lp = F.log_softmax(ts.randn(5, 2, 4), dim=2)
    with pytest.raises(ValueError, match="input_lengths\\[1\\]"):
        F.ctc_loss(lp, [[1], [2]], [5, 6], [1, 1])
    with pytest.raises(ValueError, match="input_lengths"):
        F.ctc_loss(lp, [[1], [2]], [5], [1, 1])
    with pytest.raises(TypeError, match="input_lengths"):
        F.ctc_loss(lp, [[1], [2]], [5.0, 5.0], [1, 1])
    with pytest.raises(ValueError, match="blank"):
        F.ctc_loss(lp, [[1], [2]], [5, 5], [1, 1], blank=4)
    with pytest.raises(ValueError, match="other than blank"):
        F.ctc_loss(lp, [[0], [2]], [5, 5], [1, 1])
    with pytest.raises(ValueError, match="target_lengths\\[0\\]"):
        F.ctc_loss(lp, [[1], [2]], [5, 5], [2, 1])
    with pytest.raises(ValueError, match="add"):
        F.ctc_loss(lp, [1, 2], [5, 5], [2, 1])
    with pytest.raises(ValueError, match="reduction"):
        F.ctc_loss(lp, [[1], [2]], [5, 5], [1, 1], reduction="avg")
    with pytest.raises(ValueError, match="log_probs"):
        F.ctc_loss(lp[0, 0], [[1]], [1], [1])
    with pytest.raises(TypeError, match="targets"):
        F.ctc_loss(lp, ts.tensor([[1.0], [2.0]]), [5, 5], [1, 1])


# ---------------------------------------------------------------- decoders

def test_ctc_greedy_decode_collapses_repeats_then_drops_blanks():
    path = [[1, 1, 0, 1, 2, 2, 0, 0, 3], [0, 0, 2, 2, 2, 0, 0, 0, 0]]
    lp = np.full((9, 2, 4), -5.0)
    for n, p in enumerate(path):
        lp[np.arange(9), n, p] = -0.1
    assert ctc_greedy_decode(ts.tensor(lp), [9, 4]) == [[1, 1, 2, 3], [2]]
    assert ctc_greedy_decode(ts.tensor(lp[:, 0]), 9) == [1, 1, 2, 3]      # unbatched
    lp2 = np.roll(lp, 1, axis=2)                  # the same paths with blank = 1
    assert ctc_greedy_decode(ts.tensor(lp2), [9, 9], blank=1) == [[2, 2, 3, 0], [3]]


@settings(max_examples=25, deadline=None)
@given(problem=ctc_problems(max_T=4, max_C=3, max_N=2))
def test_ctc_beam_decode_with_a_full_beam_equals_enumeration(problem):
    x, _, in_len, blank = problem
    lp = x - np.logaddexp.reduce(x, axis=2, keepdims=True)
    beams = ctc_beam_decode(ts.tensor(lp), in_len, beam_size=100, blank=blank)
    for n, got in enumerate(beams):
        want = label_logprobs(lp[:, n], in_len[n], blank)
        want = sorted(want.items(), key=lambda kv: -kv[1])
        assert sorted(tuple(g) for g, _ in got) == sorted(k for k, _ in want)
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-9)
        assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
        best_prob = math.exp(got[0][1])
        assert best_prob <= 1 + 1e-9


def test_ctc_beam_decode_small_beams_and_errors():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 2, 4))
    lp = x - np.logaddexp.reduce(x, axis=2, keepdims=True)
    beams = ctc_beam_decode(ts.tensor(lp), [6, 5], beam_size=3)
    assert len(beams) == 2 and all(1 <= len(b) <= 3 for b in beams)
    one = ctc_beam_decode(ts.tensor(lp[:, 0]), 6, beam_size=2)
    assert [l for l, _ in one] == [l for l, _ in beams[0]][:len(one)] or len(one) <= 2
    with pytest.raises(ValueError, match="beam_size"):
        ctc_beam_decode(ts.tensor(lp), [6, 5], beam_size=0)
    with pytest.raises(ValueError, match="input_lengths"):
        ctc_greedy_decode(ts.tensor(lp), [7, 5])
    with pytest.raises(TypeError, match="log_probs"):
        ctc_greedy_decode(lp.tolist(), [6, 5])
