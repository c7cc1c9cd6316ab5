"""word2vec's compiled step (word2vec/compiled.py, Numba) against the NumPy fast step:
the same update to float32 rounding, step by step (skip-gram with shared and per-pair
negatives, CBOW mean and sum; negative sampling, hierarchical softmax and both; repeated
rows and padded slots) and over whole trainings; and the choice of step (compiled=None
/ True / False), with and without numba."""
import sys

import numpy as np
import pytest

from tinygrad_seq.word2vec import Word2Vec
from tinygrad_seq.word2vec import compiled as compiled_step
from tinygrad_seq.word2vec import corpus as C

from test_word2vec import planted_corpus

needs_numba = pytest.mark.skipif(compiled_step.load() is None, reason="numba not installed")
# (sg, shared_negatives, cbow_mean, hs, negative)
CONFIGS = [pytest.param(1, True, 1, 0, 5, id="sg-shared-ns"),
           pytest.param(1, False, 1, 0, 5, id="sg-pairs-ns"),
           pytest.param(0, True, 1, 0, 5, id="cbow-mean-ns"),
           pytest.param(0, True, 0, 0, 5, id="cbow-sum-ns"),
           pytest.param(1, True, 1, 1, 0, id="sg-shared-hs"),
           pytest.param(1, False, 1, 1, 3, id="sg-pairs-both"),
           pytest.param(0, True, 1, 1, 3, id="cbow-mean-both"),
           pytest.param(0, True, 0, 1, 0, id="cbow-sum-hs")]


def _tables(m):
    return [t.weight.array for t in (m.syn0, m.syn1neg) + ((m.syn1,) if m.hs else ())]


@needs_numba
@pytest.mark.parametrize("sg,shared,cbow_mean,hs,negative", CONFIGS)
def test_compiled_step_equals_the_numpy_step(sg, shared, cbow_mean, hs, negative):
    sents = planted_corpus(n_sent=300)          # 35 words: rows repeat within the step
    m = Word2Vec(sents, vector_size=13, window=3, min_count=1, sg=sg, epochs=0, seed=4,
                 progress=False, cbow_mean=cbow_mean, shared_negatives=shared, hs=hs,
                 negative=negative, compiled=False)
    rng = np.random.default_rng(2)
    V = len(m.vocab)
    for table in _tables(m):                    # non-zero rows: every term of the update counts
        table[:V] = rng.normal(0, 0.3, table[:V].shape).astype(np.float32)
    enc = [s for batch, _ in C.encode_batches(sents, m.vocab, 10 ** 9) for s in batch]
    inputs, targets = m.examples(enc[:150])
    assert (inputs == V).any() or inputs.shape[1] == 1                  # padded slots
    assert len(np.unique(targets[:, 0])) < targets.shape[0]             # repeated rows
    before = [t.copy() for t in _tables(m)]
    loss_numpy = m.step_fast(inputs, targets, 0.05)
    after_numpy = [t.copy() for t in _tables(m)]
    for table, b in zip(_tables(m), before):
        table[...] = b
    m.compiled = True
    loss_compiled = m.step(inputs, targets, 0.05)
    assert loss_compiled == pytest.approx(loss_numpy, rel=1e-5)
    for a, b, b0 in zip(after_numpy, _tables(m), before):
        assert np.abs(a - b0).max() > 1e-2 or a is after_numpy[1] and not negative  # moved
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=2e-6)
    assert not _tables(m)[0][V].any()                                   # the pad row: zero


@needs_numba
@pytest.mark.parametrize("sg,shared,cbow_mean,hs,negative", CONFIGS)
def test_training_compiled_equals_training_with_numpy(sg, shared, cbow_mean, hs, negative):
    kw = dict(vector_size=10, window=3, min_count=1, sg=sg, epochs=2, progress=False, seed=2,
              batch_words=500, cbow_mean=cbow_mean, shared_negatives=shared, hs=hs,
              negative=negative, compute_loss=True)
    a = Word2Vec(planted_corpus(n_sent=300), compiled=False, **kw)
    b = Word2Vec(planted_corpus(n_sent=300), compiled=True, **kw)
    np.testing.assert_allclose(b.wv.vectors, a.wv.vectors, atol=1e-5)
    for name in ("syn1neg", "syn1") if hs else ("syn1neg",):
        np.testing.assert_allclose(getattr(b, name).weight.numpy(),
                                   getattr(a, name).weight.numpy(), atol=1e-5)
    assert b.get_latest_training_loss() == pytest.approx(a.get_latest_training_loss(), rel=1e-5)


@needs_numba
def test_auto_uses_the_kernel_where_it_can_run():
    m = Word2Vec(planted_corpus(n_sent=50), min_count=1, epochs=0, progress=False)
    assert m.compiled is None and m._kernel() is not None
    m.compiled = False
    assert m._kernel() is None
    assert Word2Vec(fast_path=False)._kernel() is None       # autodiff: never compiled


@needs_numba
def test_step_refuses_indices_outside_the_tables():
    m = Word2Vec(planted_corpus(n_sent=50), min_count=1, epochs=0, progress=False, sg=1,
                 shared_negatives=False)
    V = len(m.vocab)
    with pytest.raises(IndexError, match="targets"):
        m.step(np.array([[1]]), np.array([[0, V, 1, 2, 3, 4]]), 0.01)
    with pytest.raises(IndexError, match="inputs"):
        m.step(np.array([[-1]]), np.array([[0, 1, 1, 2, 3, 4]]), 0.01)
    m.step(np.array([[V]]), np.array([[0, V - 1, 1, 2, 3, 4]]), 0.01)   # the pad: allowed


def test_compiled_setting_is_checked():
    with pytest.raises(TypeError, match="compiled"):
        Word2Vec(compiled="yes")
    with pytest.raises(ValueError, match="compiled"):
        Word2Vec(compiled=2)
    with pytest.raises(ValueError, match="fast_path=False"):
        Word2Vec(compiled=True, fast_path=False)


def test_compiled_is_not_saved(tmp_path):
    m = Word2Vec(planted_corpus(n_sent=50), min_count=1, epochs=1, progress=False,
                 compiled=False)
    m.save(tmp_path / "m.w2v")
    assert Word2Vec.load(tmp_path / "m.w2v").compiled is None
    assert Word2Vec.load(tmp_path / "m.w2v", compiled=False).compiled is False


@pytest.fixture
def without_numba(monkeypatch):
    """numba's import fails, as where it is not installed."""
    monkeypatch.setitem(sys.modules, "numba", None)
    monkeypatch.setitem(sys.modules, "tinygrad_seq.word2vec.numba_kernels", None)
    monkeypatch.setattr(compiled_step, "_kernel", None)
    monkeypatch.setattr(compiled_step, "_failed", None)


def test_compiled_true_without_numba_says_so(without_numba):
    with pytest.raises(ImportError, match=r"compiled=True needs numba.*\[fast\]"):
        Word2Vec(compiled=True)


def test_without_numba_training_uses_the_numpy_step(without_numba):
    m = Word2Vec(planted_corpus(n_sent=200), min_count=1, epochs=1, progress=False)
    assert m._kernel() is None and not compiled_step.available()
    assert np.isfinite(m.wv.vectors).all()
