"""word2vec's gensim API beyond the walk of tests/word2vec/test_word2vec_gensim_usage.py: what
each call does (vocabulary expansion keeps the trained rows, trim_rule, max_final_vocab
as gensim's, the learning-rate schedule of total_examples / total_words / word_count,
compute_loss, callbacks), the look-ups against brute force, and KeyedVectors.save/load
(mmap, checks of every field)."""
import numpy as np
import pytest

import tinygrad_seq as ts
from tinygrad_seq.word2vec import (RULE_DEFAULT, RULE_DISCARD, RULE_KEEP, CallbackAny2Vec,
                                   KeyedVectors, Word2Vec)

from test_word2vec import planted_corpus

try:
    from gensim.models import Word2Vec as GensimWord2Vec
except Exception:  # not installed
    GensimWord2Vec = None

KW = dict(vector_size=8, min_count=1, progress=False, seed=1)
COUNTS = [["a"] * 5 + ["b"] * 4 + ["c"] * 4 + ["d"] * 3 + ["e"] * 2 + ["f"]]


# ---------------------------------------------------------------- vocabulary

def test_vocabulary_expansion_keeps_the_rows_and_adds_counts():
    sents = planted_corpus(n_sent=200)
    m = Word2Vec(sents, epochs=1, **KW)
    before, syn1neg = m.wv.vectors.copy(), m.syn1neg.weight.numpy().copy()
    wv = m.wv
    counts = dict(zip(m.vocab.index_to_key, m.vocab.counts.tolist()))
    more = [["king1", "newword", "other"], ["newword"]]
    m.build_vocab(more, update=True)
    V = len(before)
    assert m.wv is wv                                   # one KeyedVectors, as gensim
    assert m.wv.index_to_key[:V] == list(counts) and m.wv.index_to_key[V:] == ["newword", "other"]
    assert np.array_equal(m.wv.vectors[:V], before)     # the trained rows kept
    assert np.array_equal(m.syn1neg.weight.numpy()[:V], syn1neg)
    assert np.all(m.syn1neg.weight.numpy()[V:] == 0)
    assert np.abs(m.wv.vectors[V:]).max() < 0.5 / 8 and m.wv.vectors[V:].std() > 0
    assert m.wv.get_vecattr("king1", "count") == counts["king1"] + 1
    assert m.wv.get_vecattr("newword", "count") == 2
    assert (m.corpus_count, m.corpus_total_words) == (2, 4)
    assert np.all(m.syn0.weight.numpy()[-1] == 0)       # the pad row is last again
    m.train(more, total_examples=m.corpus_count, epochs=2)
    assert not np.array_equal(m.wv["newword"], m.wv.vectors[V] * 0)


def test_expansion_with_hs_rebuilds_the_tree_and_keeps_the_node_rows():
    m = Word2Vec(planted_corpus(n_sent=100), hs=1, negative=0, epochs=1, **KW)
    syn1 = m.syn1.weight.numpy().copy()
    m.build_vocab([["x", "y", "x"]], update=True)
    V = len(m.vocab)
    assert m.syn1.weight.shape == (V, 8)
    assert np.array_equal(m.syn1.weight.numpy()[:len(syn1)], syn1)
    assert m.vocab.huffman_tree()[0].shape[0] == V
    m.train([["x", "y", "x"]], total_examples=1, epochs=1)


def test_update_needs_a_vocabulary():
    with pytest.raises(RuntimeError, match="update=True"):
        Word2Vec(**KW).build_vocab([["a"]], update=True)


def test_trim_rule_keeps_discards_or_defers():
    def rule(word, count, min_count):
        return RULE_DISCARD if word == "a" else RULE_KEEP if word == "f" else RULE_DEFAULT

    m = Word2Vec(COUNTS, trim_rule=rule, **{**KW, "min_count": 3})
    assert m.wv.index_to_key == ["b", "c", "d", "f"]
    with pytest.raises(ValueError, match="trim_rule returned 7"):
        Word2Vec(COUNTS, trim_rule=lambda w, c, mc: 7, **KW)
    with pytest.raises(TypeError, match="trim_rule must be None or a callable"):
        Word2Vec(trim_rule="no", progress=False)


@pytest.mark.parametrize("max_final_vocab,kept,min_count", [
    (2, ["a"], 5), (3, ["a", "b", "c"], 4), (4, ["a", "b", "c", "d"], 3), (10, list("abcdef"), 1)])
def test_max_final_vocab_raises_min_count_as_gensim(max_final_vocab, kept, min_count):
    m = Word2Vec(COUNTS, max_final_vocab=max_final_vocab, **KW)
    assert m.wv.index_to_key == kept and m.effective_min_count == min_count
    if GensimWord2Vec is not None:
        g = GensimWord2Vec(COUNTS, max_final_vocab=max_final_vocab, min_count=1, vector_size=4,
                           workers=1)
        assert sorted(g.wv.index_to_key) == sorted(kept)
        assert g.effective_min_count == min_count


def test_sorted_vocab_0_keeps_first_occurrence_order():
    m = Word2Vec([["z", "y", "y", "x", "x", "x"]], sorted_vocab=0, **KW)
    assert m.wv.index_to_key == ["z", "y", "x"]
    m.train([["z", "y"]], total_examples=1, epochs=1)


def test_build_vocab_from_freq():
    m = Word2Vec(**KW).build_vocab_from_freq({"a": 3, "b": 5, "c": 1}, corpus_count=2)
    assert m.wv.index_to_key == ["b", "a", "c"] and m.corpus_count == 2
    assert m.corpus_total_words == 9


# ---------------------------------------------------------------- train()

def _learning_rates(m, monkeypatch, **train_kw):
    seen, real = [], m._train_step
    monkeypatch.setattr(m, "_train_step", lambda i, t, lr, *a: (seen.append(lr), real(i, t, lr, *a))[1])
    m.train(**train_kw)
    return sorted(set(seen), reverse=True)


def test_learning_rate_by_total_examples_total_words_and_word_count(monkeypatch):
    sents = planted_corpus(n_sent=200)          # 6 words a sentence: jobs of 12 (72 words)
    m = Word2Vec(sents, epochs=0, batch_words=70, alpha=0.02, min_alpha=0.001, **KW)
    by_words = _learning_rates(m, monkeypatch, corpus_iterable=sents, epochs=1)
    by_examples = _learning_rates(m, monkeypatch, corpus_iterable=sents, epochs=1,
                                  total_examples=m.corpus_count)
    assert by_words == pytest.approx(by_examples)    # 12 sentences = 72 words a job
    assert by_words[0] == 0.02 and by_words[-1] == pytest.approx(0.02 - 0.019 * 192 / 200)
    twice = _learning_rates(m, monkeypatch, corpus_iterable=sents, epochs=1,
                            total_words=2 * m.corpus_total_words)
    assert twice[-1] == pytest.approx(0.02 - 0.019 * 192 / 400)
    late = _learning_rates(m, monkeypatch, corpus_iterable=sents, epochs=1,
                           word_count=m.corpus_total_words // 2)
    assert late[0] == pytest.approx(0.02 - 0.019 * 0.5)
    with pytest.raises(ValueError, match="total_examples must be >= 1"):
        m.train(sents, total_examples=0, epochs=1)


def test_train_returns_trained_after_subsampling_and_raw_words():
    sents = planted_corpus(n_sent=300)
    m = Word2Vec(sents, epochs=0, sample=1e-2, **KW)
    trained, raw = m.train(sents, total_examples=m.corpus_count, epochs=2)
    assert raw == 2 * m.corpus_total_words and 0 < trained < raw
    m0 = Word2Vec(sents, epochs=0, sample=0, **KW)
    assert m0.train(sents, total_examples=m0.corpus_count, epochs=1) == (1800, 1800)


def test_compute_loss_sums_the_loss_of_each_train_call():
    sents = planted_corpus(n_sent=300)
    m = Word2Vec(sents, epochs=2, compute_loss=True, **KW)
    first = m.get_latest_training_loss()
    assert first > 0 and m.compute_loss
    m.train(sents, total_examples=m.corpus_count, epochs=1, compute_loss=True)
    one = m.get_latest_training_loss()
    assert 0 < one < first                     # reset per call: one epoch's loss
    m.train(sents, total_examples=m.corpus_count, epochs=1)
    assert m.get_latest_training_loss() == 0.0 and not m.compute_loss    # gensim's default


def test_callbacks_are_called_in_order_with_the_model():
    events = []

    class Recorder(CallbackAny2Vec):
        def on_train_begin(self, model):
            events.append(("train_begin", model.train_count))

        def on_epoch_begin(self, model):
            events.append("epoch_begin")

        def on_epoch_end(self, model):
            events.append(("epoch_end", round(model.get_latest_training_loss(), 3) > 0,
                           model.wv.most_similar("king1", topn=1)[0][0] is not None))

        def on_train_end(self, model):
            events.append(("train_end", model.train_count))

    sents = planted_corpus(n_sent=100)
    m = Word2Vec(sents, epochs=2, compute_loss=True, callbacks=[Recorder()], **KW)
    assert events == [("train_begin", 0), "epoch_begin", ("epoch_end", True, True),
                      "epoch_begin", ("epoch_end", True, True), ("train_end", 1)]
    events.clear()
    m.train(sents, total_examples=m.corpus_count, epochs=1)       # none given: none called
    assert events == []
    with pytest.raises(TypeError, match="callbacks"):
        Word2Vec(callbacks=[object()], progress=False)


# ---------------------------------------------------------------- look-ups

@pytest.fixture(scope="module")
def kv():
    rng = np.random.default_rng(0)
    return KeyedVectors(rng.normal(size=(50, 6)).astype(np.float32),
                        [f"w{i}" for i in range(50)], counts=np.arange(50, 0, -1))


def test_distances_ranks_and_normed_vectors_against_brute_force(kv):
    u = kv.vectors / np.linalg.norm(kv.vectors, axis=1, keepdims=True)
    cos = u @ u.T
    assert kv.distance("w1", "w2") == pytest.approx(1 - cos[1, 2], abs=1e-6)
    assert np.allclose(kv.distances("w3"), 1 - cos[3], atol=1e-6)
    assert np.allclose(kv.distances(kv.vectors[3], ["w4", "w5"]), 1 - cos[3, [4, 5]], atol=1e-6)
    closer = [f"w{i}" for i in np.argsort(-cos[7]) if i != 7 and cos[7, i] > cos[7, 9]]
    assert kv.closer_than("w7", "w9") == closer
    assert kv.rank("w7", "w9") == len(closer) + 1
    assert np.allclose(kv.get_normed_vectors(), u, atol=1e-6)
    assert np.allclose(kv.norms, np.linalg.norm(kv.vectors, axis=1))
    assert kv.similar_by_word("w1", topn=3) == kv.most_similar("w1", topn=3)
    assert kv.similar_by_vector(kv["w1"], topn=1)[0][0] == "w1"
    assert np.allclose(kv.get_mean_vector(["w1", "w2"]), (u[1] + u[2]) / 2, atol=1e-6)


# ---------------------------------------------------------------- KeyedVectors.save / load

def test_keyedvectors_save_load_and_mmap(kv, tmp_path):
    path = tmp_path / "kv.tsz"
    kv.save(path)
    full = KeyedVectors.load(path)
    mapped = KeyedVectors.load(str(path), mmap="r")
    for loaded in (full, mapped):
        assert loaded.index_to_key == kv.index_to_key
        assert np.array_equal(loaded.vectors, kv.vectors)
        assert loaded.get_vecattr("w3", "count") == 47
    assert not mapped.vectors.flags.writeable
    base = mapped.vectors
    while base is not None and not isinstance(base, np.memmap):
        base = base.base
    assert isinstance(base, np.memmap)                       # mapped, not read
    assert mapped.most_similar("w1", topn=3) == kv.most_similar("w1", topn=3)
    with pytest.raises(ValueError, match="mmap must be None or 'r'"):
        KeyedVectors.load(path, mmap="w+")


def test_keyedvectors_load_checks_every_field(kv, tmp_path):
    good = tmp_path / "good.tsz"
    kv.save(good)
    obj = ts.load(good, device="cpu")
    cases = [({**obj, "version": 2}, "version: 2 is newer"),
             ({k: v for k, v in obj.items() if k != "counts"}, "'counts': missing"),
             ({**obj, "extra": 1}, "'extra': unknown"),
             ({**obj, "index_to_key": obj["index_to_key"][:-1]}, "'vectors'"),
             ({**obj, "index_to_key": ["w0"] * 50}, "twice"),
             ({**obj, "vectors": np.zeros((50, 6))}, "'vectors'"),
             ({**obj, "counts": np.zeros(3, np.int64)}, "'counts'")]
    for i, (bad, match) in enumerate(cases):
        path = tmp_path / f"bad{i}.tsz"
        ts.save(bad, path)
        for mmap in (None, "r"):
            with pytest.raises(ts.SerializationError, match=match):
                KeyedVectors.load(path, mmap=mmap)
    model = tmp_path / "model.tsz"
    Word2Vec([["a", "b"]], **KW).save(model)
    with pytest.raises(ts.SerializationError, match="not a KeyedVectors save"):
        KeyedVectors.load(model)
    (tmp_path / "junk").write_bytes(b"junk")
    with pytest.raises(ts.SerializationError):
        KeyedVectors.load(tmp_path / "junk", mmap="r")


def test_model_wv_save_load_round_trip(tmp_path):
    m = Word2Vec(planted_corpus(n_sent=100), epochs=1, **KW)
    m.wv.save(tmp_path / "wv.tsz")
    wv = KeyedVectors.load(tmp_path / "wv.tsz", mmap="r")
    assert np.array_equal(wv.vectors, m.wv.vectors)
    assert wv.get_vecattr("king1", "count") == m.wv.get_vecattr("king1", "count")
