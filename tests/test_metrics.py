"""BLEU (tinygrad_seq/metrics.py): the notes' worked examples, Papineni's brevity
penalty, and parity with NLTK's corpus_bleu / sentence_bleu (when NLTK is installed)
on fixed sentences and on Hypothesis-generated token lists, for every smoothing
method, several weight sets and auto_reweigh."""
import math
import warnings

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tinygrad_seq.metrics import (SmoothingFunction, brevity_penalty, closest_ref_length,
                                  corpus_bleu, modified_precision, sentence_bleu)

REF1 = "the cat is on the mat".split()
REF2 = "there is a cat on the mat".split()


# ---------------------------------------------------------------- worked examples

def test_modified_unigram_precision_of_the_notes_example():
    hyp = "the the the the the the the".split()
    p = modified_precision([REF1], hyp, 1)
    assert (p.numerator, p.denominator) == (2, 7)
    p = modified_precision([REF1, REF2], hyp, 1)         # "the": at most twice (REF1)
    assert (p.numerator, p.denominator) == (2, 7)


def test_modified_bigram_precision_of_the_notes_example():
    hyp = "the cat the cat on the mat".split()
    p = modified_precision([REF1, REF2], hyp, 2)         # the cat, cat on, on the, the mat
    assert (p.numerator, p.denominator) == (4, 6)
    assert float(modified_precision([REF1, REF2], hyp, 1)) == 5 / 7


def test_brevity_penalty_and_closest_reference():
    assert closest_ref_length([[1] * 6, [1] * 7], 7) == 7
    assert closest_ref_length([[1] * 5, [1] * 7], 6) == 5          # a tie: the shorter
    assert brevity_penalty(6, 7) == 1
    assert brevity_penalty(6, 6) == 1.0
    assert brevity_penalty(6, 0) == 0
    assert brevity_penalty(7, 5) == pytest.approx(math.exp(1 - 7 / 5))


def test_bleu_by_hand():
    hyp = "the cat sat on the mat".split()
    # p1 = 5/6, p2 = 3/5 (the cat, on the, the mat), weights (1/2, 1/2), BP = 1
    expected = math.exp(0.5 * math.log(5 / 6) + 0.5 * math.log(3 / 5))
    assert sentence_bleu([REF1, REF2], hyp, weights=(0.5, 0.5)) == pytest.approx(expected)
    assert sentence_bleu([REF1], REF1) == 1.0
    short = "the cat".split()                              # BP = exp(1 - 6 / 2)
    assert sentence_bleu([REF1], short, weights=(1,)) == pytest.approx(math.exp(1 - 3))


def test_zero_precisions():
    with pytest.warns(UserWarning, match="2-gram"):
        tiny = sentence_bleu([REF1], "mat the on".split())
    assert 0 < tiny < 1e-100                                  # method0: not exactly 0
    assert sentence_bleu([REF1], "dog".split()) == 0           # no unigram matches
    assert corpus_bleu([[REF1]], [[]]) == 0
    smoothed = sentence_bleu([REF1], "mat the on".split(),
                             smoothing_function=SmoothingFunction().method1)
    assert smoothed == pytest.approx(math.exp(1 - 6 / 3) * math.exp(
        0.25 * (math.log(1) + math.log(0.1 / 2) + math.log(0.1 / 1) + math.log(0.1 / 1))))


def test_several_weight_sets_give_several_scores():
    hyp = "the cat sat on the mat".split()
    ws = [(1,), (0.5, 0.5), (1 / 3, 1 / 3, 1 / 3)]
    got = sentence_bleu([REF1], hyp, weights=ws)
    assert got == [pytest.approx(sentence_bleu([REF1], hyp, weights=w)) for w in ws]


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="as long"):
        corpus_bleu([[REF1]], [REF1, REF1])
    with pytest.raises(TypeError, match="references"):
        sentence_bleu("the cat", REF1)
    with pytest.raises(TypeError, match=r"list_of_references\[0\]\[0\]"):
        sentence_bleu(REF1, REF1)                  # forgot to wrap the reference
    with pytest.raises(TypeError, match=r"hypotheses\[0\]"):
        sentence_bleu([REF1], "the cat")
    with pytest.raises(ValueError, match="no reference"):
        sentence_bleu([], REF1)
    with pytest.raises(TypeError, match="smoothing_function"):
        sentence_bleu([REF1], REF1, smoothing_function=3)
    with pytest.raises(TypeError, match="weights"):
        sentence_bleu([REF1], REF1, weights="abc")
    with pytest.raises(ValueError, match="trigram"):
        sentence_bleu([REF1], "the cat on".split(), smoothing_function=SmoothingFunction().method6)
    with pytest.raises(TypeError, match="epsilon"):
        SmoothingFunction(epsilon="0.1")


# ---------------------------------------------------------------- parity with NLTK

try:
    from nltk.translate import bleu_score as nltk_bleu
except ImportError:
    nltk_bleu = None
needs_nltk = pytest.mark.skipif(nltk_bleu is None, reason="NLTK is not installed")

METHODS = [None] + [f"method{i}" for i in range(8)]


def _ours_and_nltk(method):
    if method is None:
        return None, None
    return (getattr(SmoothingFunction(epsilon=0.2, alpha=3, k=4), method),
            getattr(nltk_bleu.SmoothingFunction(epsilon=0.2, alpha=3, k=4), method))


def _both(fn_name, refs, hyps, **kw):
    """(ours, NLTK's) or None where NLTK fails (method6's own errors are ours too)."""
    method = kw.pop("method", None)
    ours_fn, theirs_fn = _ours_and_nltk(method)
    ours = sentence_bleu if fn_name == "sentence" else corpus_bleu
    theirs = nltk_bleu.sentence_bleu if fn_name == "sentence" else nltk_bleu.corpus_bleu
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            expected = theirs(refs, hyps, smoothing_function=theirs_fn, **kw)
        except AssertionError:        # NLTK's method6 without a trigram match
            with pytest.raises(ValueError):
                ours(refs, hyps, smoothing_function=ours_fn, **kw)
            return None
        except (ZeroDivisionError, IndexError):   # NLTK's own failures (method6 corners)
            return None
        got = ours(refs, hyps, smoothing_function=ours_fn, **kw)
    return got, expected


def _assert_close(got, expected):
    if isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected)
        for g, e in zip(got, expected):
            _assert_close(g, e)
        return
    assert got == pytest.approx(expected, rel=1e-9, abs=0)


SENTENCES = [
    ([REF1, REF2], "the the the the the the the".split()),
    ([REF1, REF2], "the cat the cat on the mat".split()),
    ([REF1, REF2], "the cat sat on the mat".split()),
    ([REF1], "there is a cat on the mat today".split()),
    ([REF1, REF2], "a cat is on a mat on the mat".split()),
    ([REF1], "cat".split()),
    ([REF1], REF1),
]


@needs_nltk
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("i", range(len(SENTENCES)))
def test_sentence_bleu_matches_nltk_on_examples(method, i):
    refs, hyp = SENTENCES[i]
    for kw in [{}, dict(weights=(0.5, 0.5)), dict(weights=(0.4, 0.3, 0.2, 0.1, 0.0))]:
        pair = _both("sentence", refs, hyp, method=method, **kw)
        if pair is not None:
            _assert_close(*pair)


@needs_nltk
@pytest.mark.parametrize("method", METHODS)
def test_corpus_bleu_matches_nltk_on_examples(method):
    refs = [r for r, _ in SENTENCES]
    hyps = [h for _, h in SENTENCES]
    pair = _both("corpus", refs, hyps, method=method)
    if pair is not None:
        _assert_close(*pair)
    # corpus BLEU is not the mean of sentence BLEUs
    assert corpus_bleu(refs, hyps) != pytest.approx(
        sum(sentence_bleu(r, h) for r, h in zip(refs, hyps)) / len(hyps))


TOKENS = st.lists(st.integers(0, 4), max_size=10)
CORPUS = st.lists(st.tuples(st.lists(TOKENS, min_size=1, max_size=3), TOKENS),
                  min_size=1, max_size=4)
WEIGHTS = st.sampled_from([(0.25, 0.25, 0.25, 0.25), (1,), (0.5, 0.5), (0.1, 0.2, 0.3, 0.4),
                           [(0.25, 0.25, 0.25, 0.25), (0.5, 0.5), (1 / 3, 1 / 3, 1 / 3)]])


@needs_nltk
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpus=CORPUS, method=st.sampled_from(METHODS), weights=WEIGHTS,
       auto_reweigh=st.booleans())
def test_corpus_bleu_matches_nltk_on_random_token_lists(corpus, method, weights, auto_reweigh):
    refs = [r for r, _ in corpus]
    hyps = [h for _, h in corpus]
    pair = _both("corpus", refs, hyps, method=method, weights=weights,
                 auto_reweigh=auto_reweigh)
    assume(pair is not None)
    _assert_close(*pair)


@needs_nltk
@settings(max_examples=150, deadline=None)
@given(refs=st.lists(TOKENS, min_size=1, max_size=3), hyp=TOKENS,
       method=st.sampled_from(METHODS), auto_reweigh=st.booleans())
def test_sentence_bleu_matches_nltk_on_random_token_lists(refs, hyp, method, auto_reweigh):
    pair = _both("sentence", refs, hyp, method=method, auto_reweigh=auto_reweigh)
    assume(pair is not None)
    _assert_close(*pair)


@needs_nltk
@given(refs=st.lists(TOKENS, min_size=1, max_size=3), hyp=TOKENS, n=st.integers(1, 5))
def test_modified_precision_matches_nltk(refs, hyp, n):
    ours = modified_precision(refs, hyp, n)
    theirs = nltk_bleu.modified_precision(refs, hyp, n)
    assert (ours.numerator, ours.denominator) == (theirs.numerator, theirs.denominator)
    assert float(ours) == theirs.numerator / theirs.denominator


def test_corpus_bleu_matches_sacrebleu_without_smoothing():
    """A second reference implementation: sacreBLEU on pre-tokenised text (score in
    percent; the same closest-reference brevity penalty), where no precision is 0."""
    sacrebleu = pytest.importorskip("sacrebleu")
    refs = [[REF1, REF2], [REF1, REF2], ["a b c d e f".split(), "a b c x e f".split()]]
    hyps = ["the cat sat on the mat".split(), "there is a cat on the mat".split(),
            "a b c d e".split()]
    streams = [[" ".join(r[k]) for r in refs] for k in range(2)]
    theirs = sacrebleu.corpus_bleu([" ".join(h) for h in hyps], streams,
                                   smooth_method="none", tokenize="none")
    assert corpus_bleu(refs, hyps) == pytest.approx(theirs.score / 100, rel=1e-9)
