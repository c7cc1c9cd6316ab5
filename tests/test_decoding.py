"""Decoding (tinygrad_seq/decoding.py): greedy search, beam search, sampling.

Checked against exhaustive enumeration of every finished hypothesis on tiny models:
a two-layer LSTM language model (state (h, c) of shape (layers, N, H): reordered on
axis 1) and a table model whose state is the prefix itself (reordered on axis 0).
"""
import itertools
import math

import numpy as np
import pytest

import tinygrad_seq as ts
import tinygrad_seq.functional as F
import tinygrad_seq.nn as nn
from tinygrad_seq.decoding import beam_search, greedy_search, index_state, sample


# ---------------------------------------------------------------- tiny models

class LSTMModel:
    """Embedding -> 2-layer LSTM -> Linear -> log_softmax; state (h, c): (2, N, H)."""

    def __init__(self, vocab, seed, hidden=5, scale=2.0):
        ts.manual_seed(seed)
        self.emb = nn.Embedding(vocab, 4)
        self.lstm = nn.LSTM(4, hidden, num_layers=2)
        self.out = nn.Linear(hidden, vocab)
        with ts.no_grad():
            self.out.weight.mul_(scale)      # peakier distributions: fewer near-ties
        self.hidden = hidden

    def init_state(self):
        return (ts.zeros(2, 1, self.hidden), ts.zeros(2, 1, self.hidden))

    def step(self, tokens, state):
        y, state = self.lstm(self.emb(tokens)[None], state)
        return F.log_softmax(self.out(y[0]), dim=-1), state

    @staticmethod
    def reorder(state, index):
        return index_state(state, index, axis=1)


class TableModel:
    """log P(next | prefix) from a dict of prefixes (default: uniform); the state is
    the prefix, an int64 Tensor (N, t), reordered on axis 0 (the default)."""

    def __init__(self, vocab, table):
        self.vocab, self.table = vocab, table

    def init_state(self):
        return ts.zeros(1, 0, dtype=ts.int64)

    def step(self, tokens, prefix):
        prefix = ts.cat([prefix, tokens[:, None]], dim=1)
        rows = []
        for p in prefix.tolist():
            probs = self.table.get(tuple(p[1:]), [1.0] * self.vocab)
            with np.errstate(divide="ignore"):
                rows.append(np.log(np.asarray(probs, dtype=np.float64) / sum(probs)))
        return ts.tensor(np.array(rows)), prefix


def sequence_logprob(step, init_state, start, tokens):
    """Sum of log P(y_t | y_<t), running the model one token at a time."""
    state, last, total = init_state, start, 0.0
    with ts.no_grad():
        for tok in tokens:
            lp, state = step(ts.tensor([last]), state)
            total += float(lp.numpy()[0, tok])
            last = tok
    return total


def all_finished(vocab, eos, max_len):
    """Every hypothesis a search can finish: eos only at the end, and ending with eos
    or holding max_len tokens."""
    others = [v for v in range(vocab) if v != eos]
    for n in range(1, max_len + 1):
        for body in itertools.product(others, repeat=n - 1):
            yield list(body) + [eos]
        if n == max_len:
            yield from (list(p) for p in itertools.product(others, repeat=n))


def enumerate_ranking(step, init_state, start, vocab, eos, max_len, alpha=0.0):
    scored = [(seq, sequence_logprob(step, init_state, start, seq))
              for seq in all_finished(vocab, eos, max_len)]
    scored = [(s, v / len(s) ** alpha) for s, v in scored]
    return sorted(scored, key=lambda r: -r[1])


def assert_same_results(got, expected):
    assert [t for t, _ in got] == [t for t, _ in expected]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], rtol=1e-5,
                               atol=1e-5)


# ---------------------------------------------------------------- greedy and beam search

@pytest.mark.parametrize("seed", range(4))
def test_beam_size_one_equals_greedy(seed):
    m = LSTMModel(vocab=6, seed=seed)
    greedy = greedy_search(m.step, m.init_state(), 0, max_len=7, eos=1)
    beam = beam_search(m.step, m.init_state(), 0, 1, 7, 1, reorder_state=m.reorder)
    assert len(greedy) == len(beam) == 1
    assert greedy[0][0] == beam[0][0]
    assert greedy[0][1] == pytest.approx(beam[0][1], abs=1e-6)
    # greedy's score is the model's log-probability of its tokens
    assert greedy[0][1] == pytest.approx(
        sequence_logprob(m.step, m.init_state(), 0, greedy[0][0]), abs=1e-5)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("alpha", [0.0, 0.7, 1.0])
def test_full_beam_is_exact_on_an_lstm(seed, alpha):
    """A beam as large as the search space finds every hypothesis, ranked exactly as
    enumeration with the length-normalised score; the LSTM's state (layers, N, H)
    is reordered on axis 1."""
    vocab, eos, max_len = 3, 2, 4
    m = LSTMModel(vocab, seed)
    expected = enumerate_ranking(m.step, m.init_state(), 0, vocab, eos, max_len, alpha)
    got = beam_search(m.step, m.init_state(), 0, len(expected), max_len, eos,
                      length_penalty=alpha, reorder_state=m.reorder)
    assert_same_results(got, expected)
    # a smaller beam still returns at most beam_size finished hypotheses, best first
    small = beam_search(m.step, m.init_state(), 0, 3, max_len, eos, length_penalty=alpha,
                        reorder_state=m.reorder)
    assert 1 <= len(small) <= 3
    assert [s for _, s in small] == sorted((s for _, s in small), reverse=True)


def test_full_beam_returns_the_argmax_of_a_table_model():
    rng = np.random.default_rng(0)
    vocab, eos, max_len = 4, 3, 3
    table = {p: rng.random(vocab) ** 3 + 1e-3 for n in range(max_len)
             for p in itertools.product(range(3), repeat=n)}
    m = TableModel(vocab, table)
    expected = enumerate_ranking(m.step, m.init_state(), 9, vocab, eos, max_len)
    got = beam_search(m.step, m.init_state(), 9, len(expected), max_len, eos)
    assert len(expected) == 1 + 3 + 9 + 27
    assert_same_results(got, expected)


def test_length_normalisation_changes_the_choice_as_the_formula_says():
    # [eos]: log 0.5 = -0.693;  [0, eos]: log(0.45 * 0.8) = -1.022
    # alpha 0: [eos] wins (-0.693 > -1.022); alpha 1: [0, eos] wins (-0.511 > -0.693)
    m = TableModel(3, {(): [0.45, 0.05, 0.5], (0,): [0.1, 0.1, 0.8]})
    for alpha, best in [(0.0, [2]), (1.0, [0, 2])]:
        got = beam_search(m.step, m.init_state(), 0, 2, 4, 2, length_penalty=alpha)
        assert got[0][0] == best
        raw = {(2,): math.log(0.5), (0, 2): math.log(0.45 * 0.8)}
        for tokens, score in got:
            if tuple(tokens) in raw:
                assert score == pytest.approx(raw[tuple(tokens)] / len(tokens) ** alpha)
    # the formula decides between the two for every alpha
    for alpha in np.linspace(0, 1.5, 16):
        got = beam_search(m.step, m.init_state(), 0, 2, 4, 2, length_penalty=alpha)
        short, long = math.log(0.5), math.log(0.36) / 2 ** alpha
        assert got[0][0] == ([2] if short > long else [0, 2])


def test_hypotheses_stop_at_max_len_and_at_eos():
    m = TableModel(3, {(): [0.9, 0.05, 0.05]})
    (tokens, score), = greedy_search(m.step, m.init_state(), 0, max_len=4, eos=None)
    assert tokens == [0, 0, 0, 0]
    m = TableModel(3, {(): [0.1, 0.1, 0.8]})
    assert greedy_search(m.step, m.init_state(), 0, 5, 2)[0][0] == [2]
    beam = beam_search(m.step, m.init_state(), 0, 3, 2, eos=2)
    assert all(t[-1] == 2 or len(t) == 2 for t, _ in beam)


def test_impossible_extensions_are_never_kept():
    m = TableModel(3, {(): [1.0, 0.0, 0.0], (0,): [0.0, 0.0, 1.0]})
    got = beam_search(m.step, m.init_state(), 0, 5, 3, 2)
    assert got == [([0, 2], 0.0)]


def test_index_state_reorders_a_nest():
    h = ts.arange(12.).reshape(2, 3, 2)
    state = {"lstm": (h, h * 2), "step": ts.tensor(5), "name": "x"}
    idx = ts.tensor([2, 2, 0])
    out = index_state(state, idx, axis=1)
    np.testing.assert_array_equal(out["lstm"][0].numpy(), h.numpy()[:, [2, 2, 0]])
    np.testing.assert_array_equal(out["lstm"][1].numpy(), 2 * h.numpy()[:, [2, 2, 0]])
    assert out["step"] is state["step"] and out["name"] == "x"
    with pytest.raises(ValueError, match="axis 1"):
        index_state([h, ts.arange(3)], idx, axis=1)
    np.testing.assert_array_equal(index_state([ts.arange(3)], idx)[0].numpy(), [2, 2, 0])


def test_searches_run_without_recording_a_graph():
    seen = []

    def step(tokens, state):
        lp, state = m.step(tokens, state)
        seen.append(lp.requires_grad)
        return lp, state
    m = LSTMModel(4, 0)
    beam_search(step, m.init_state(), 0, 2, 3, 1, reorder_state=m.reorder)
    greedy_search(step, m.init_state(), 0, 3, 1)
    sample(step, m.init_state(), 0, 3, 1)
    assert seen and not any(seen)


# ---------------------------------------------------------------- sampling

@pytest.mark.parametrize("seed", range(3))
def test_sampling_with_top_k_one_is_greedy(seed):
    m = LSTMModel(6, seed)
    greedy = greedy_search(m.step, m.init_state(), 0, 8, 1)
    for kwargs in [dict(top_k=1), dict(top_k=1, temperature=5.0), dict(top_p=1e-9)]:
        got = sample(m.step, m.init_state(), 0, 8, 1, generator=np.random.default_rng(seed),
                     **kwargs)
        assert got[0][0] == greedy[0][0]
        assert got[0][1] == pytest.approx(greedy[0][1], abs=1e-6)


def test_sampling_is_deterministic_for_a_seed():
    m = LSTMModel(8, 1, scale=0.3)        # flat distributions: draws differ by seed

    def draw(**kw):
        return sample(m.step, m.init_state(), 0, 12, 1, temperature=1.5, **kw)
    ts.manual_seed(5)
    a = draw()
    ts.manual_seed(5)
    assert draw() == a
    assert draw(generator=np.random.default_rng(3)) == draw(generator=np.random.default_rng(3))
    draws = {tuple(draw(generator=np.random.default_rng(s))[0][0]) for s in range(6)}
    assert len(draws) > 1
    tokens, score = a[0]
    assert score == pytest.approx(sequence_logprob(m.step, m.init_state(), 0, tokens), abs=1e-5)


def test_sampling_frequencies_follow_temperature_top_k_and_top_p():
    probs = [0.5, 0.3, 0.15, 0.05]
    m = TableModel(4, {(): probs})
    rng = np.random.default_rng(0)
    n = 3000

    def freq(**kw):
        counts = np.zeros(4)
        for _ in range(n):
            counts[sample(m.step, m.init_state(), 0, 1, None, generator=rng, **kw)[0][0][0]] += 1
        return counts / n
    np.testing.assert_allclose(freq(), probs, atol=0.04)
    np.testing.assert_allclose(freq(top_k=2), [0.5 / 0.8, 0.3 / 0.8, 0, 0], atol=0.04)
    np.testing.assert_allclose(freq(top_p=0.7), [0.5 / 0.8, 0.3 / 0.8, 0, 0], atol=0.04)
    np.testing.assert_allclose(freq(top_p=0.81), [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0],
                               atol=0.04)
    hot = np.array(probs) ** 0.5
    np.testing.assert_allclose(freq(temperature=2.0), hot / hot.sum(), atol=0.04)


# ---------------------------------------------------------------- errors

def test_argument_errors_name_the_argument():
    m = TableModel(3, {})
    s = m.init_state()
    with pytest.raises(TypeError, match="step_fn"):
        greedy_search(None, s, 0, 3, 2)
    with pytest.raises(TypeError, match="max_len"):
        greedy_search(m.step, s, 0, 3.0, 2)
    with pytest.raises(ValueError, match="max_len"):
        beam_search(m.step, s, 0, 2, 0, 2)
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(m.step, s, 0, 0, 3, 2)
    with pytest.raises(TypeError, match="beam_size"):
        beam_search(m.step, s, 0, True, 3, 2)
    with pytest.raises(TypeError, match="length_penalty"):
        beam_search(m.step, s, 0, 2, 3, 2, length_penalty="0.7")
    with pytest.raises(ValueError, match="temperature"):
        sample(m.step, s, 0, 3, 2, temperature=0)
    with pytest.raises(ValueError, match="top_p"):
        sample(m.step, s, 0, 3, 2, top_p=1.5)
    with pytest.raises(ValueError, match="top_k"):
        sample(m.step, s, 0, 3, 2, top_k=0)
    with pytest.raises(TypeError, match="generator"):
        sample(m.step, s, 0, 3, 2, generator=42)
    with pytest.raises(ValueError, match="eos 7"):
        greedy_search(m.step, s, 0, 3, 7)
    with pytest.raises(TypeError, match="pair"):
        greedy_search(lambda t, st: t, s, 0, 3, 2)
    with pytest.raises(ValueError, match=r"\(1, V\)"):
        greedy_search(lambda t, st: (ts.zeros(3), st), s, 0, 3, 2)
