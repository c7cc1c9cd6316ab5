"""GloVe: co-occurrence counts against a plain Python count, Adagrad steps against a
plain NumPy implementation of the GloVe update, the loss going down, planted
analogies (the corpus of test_word2vec.py), determinism, save/load (round trip,
continued training, field checks) and the settings' errors."""
import numpy as np
import pytest

import tinygrad_seq as ts
from tinygrad_seq.word2vec import GloVe, KeyedVectors
from tinygrad_seq.word2vec.glove import cooccurrence

from test_word2vec import planted_corpus

TINY = [["a", "b", "c", "a", "x"], ["b", "a", "y", "d"], ["e", "c", "a"], ["d", "b"], ["z"],
        ["a", "a", "b", "c", "d", "e", "b"]]


def python_counts(corpus, vocab, window):
    """X[(w1, w2)] += 1/d for every in-vocabulary pair at distance d <= window (after
    dropping out-of-vocabulary tokens), both orders."""
    X = {}
    for sentence in corpus:
        words = [w for w in sentence if w in vocab]
        for i, w in enumerate(words):
            for d in range(1, window + 1):
                if i + d < len(words):
                    v = words[i + d]
                    X[(w, v)] = X.get((w, v), 0.0) + 1.0 / d
                    X[(v, w)] = X.get((v, w), 0.0) + 1.0 / d
    return X


@pytest.mark.parametrize("window", [1, 2, 3, 10])
@pytest.mark.parametrize("min_count", [1, 2])
def test_cooccurrence_counts_match_a_plain_python_count(window, min_count):
    m = GloVe(vector_size=3, window=window, min_count=min_count).build_vocab(TINY)
    keys = m.vocab.index_to_key
    assert ("x" in keys) == (min_count == 1)
    got = {(keys[i], keys[j]): v for i, j, v in zip(m.rows, m.cols, m.values)}
    want = python_counts(TINY, set(keys), window)
    assert got.keys() == want.keys()
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=1e-12), k
    # sorted by (row, column), no repeats, symmetric
    order = m.rows * len(keys) + m.cols
    assert (np.diff(order) > 0).all()
    assert all(got[(b, a)] == v for (a, b), v in got.items())


def test_cooccurrence_in_chunks_is_the_same():
    from tinygrad_seq.word2vec.corpus import Vocabulary
    corpus = planted_corpus(n_sent=300)
    vocab = Vocabulary.build(corpus, 1)
    whole = cooccurrence(corpus, vocab, 4)
    chunked = cooccurrence(corpus, vocab, 4, chunk_tokens=7)
    for a, b in zip(whole, chunked):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def numpy_glove_steps(tables, rows, cols, values, batches, x_max, alpha, lr):
    """The GloVe minibatch update with Adagrad (accumulators start at 1, eps 1e-10),
    in float64: J_batch = sum f(x) (w_i . w~_j + b_i + b~_j - log x)^2."""
    W, Wt, b, bt = (t.astype(np.float64) for t in tables)
    acc = [np.ones_like(t) for t in (W, Wt, b, bt)]
    losses = []
    for entries in batches:
        r, c, x = rows[entries], cols[entries], values[entries]
        f = np.minimum(1.0, (x / x_max) ** alpha)
        diff = (W[r] * Wt[c]).sum(1) + b[r, 0] + bt[c, 0] - np.log(x)
        losses.append((f * diff * diff).sum())
        g = 2 * f * diff
        grads = [np.zeros_like(t) for t in (W, Wt, b, bt)]
        np.add.at(grads[0], r, g[:, None] * Wt[c])
        np.add.at(grads[1], c, g[:, None] * W[r])
        np.add.at(grads[2], r, g[:, None])
        np.add.at(grads[3], c, g[:, None])
        for P, G, A, touched in zip((W, Wt, b, bt), grads, acc, (r, c, r, c)):
            t = np.unique(touched)
            A[t] += G[t] ** 2
            P[t] -= lr * G[t] / (np.sqrt(A[t]) + 1e-10)
    return (W, Wt, b, bt), losses


def test_steps_match_a_numpy_glove_update_with_adagrad():
    m = GloVe(vector_size=5, window=3, min_count=1, x_max=3.0, alpha=0.6, learning_rate=0.1,
              seed=4).build_vocab(TINY)
    tables = [getattr(m, n).weight.numpy().copy() for n in ("w", "w_tilde", "b", "b_tilde")]
    n = m.rows.shape[0]
    rng = np.random.default_rng(0)
    batches = [rng.choice(n, size=12, replace=False) for _ in range(3)]  # rows repeat inside
    want, want_losses = numpy_glove_steps(tables, m.rows, m.cols, m.values, batches, 3.0, 0.6, 0.1)
    got_losses = [m.step(e) for e in batches]
    np.testing.assert_allclose(got_losses, want_losses, rtol=1e-5)
    for name, w in zip(("w", "w_tilde", "b", "b_tilde"), want):
        np.testing.assert_allclose(getattr(m, name).weight.numpy(), w, rtol=1e-5, atol=1e-6, err_msg=name)
        assert getattr(m, name).weight.grad.is_sparse          # sparse rows, as Embedding(sparse=True)
    touched = np.unique(m.rows[np.concatenate(batches)])
    untouched = np.setdiff1d(np.arange(len(m.vocab)), touched)
    np.testing.assert_array_equal(m.w.weight.numpy()[untouched], tables[0][untouched])


def test_loss_decreases_and_wv_is_the_mean_of_both_tables():
    m = GloVe(planted_corpus(n_sent=500), vector_size=10, window=4, min_count=1, epochs=0, seed=1,
              batch_size=32)
    before = m.loss()
    m.train(epochs=15)
    assert len(m.epoch_losses) == 15 and m.epochs_trained == 15
    assert m.epoch_losses[-1] < 0.2 * m.epoch_losses[0]
    assert all(b < a for a, b in zip(m.epoch_losses, m.epoch_losses[1:4]))
    assert m.loss() < 0.2 * before
    assert isinstance(m.wv, KeyedVectors) and m.wv.index_to_key == m.vocab.index_to_key
    want = (m.w.weight.numpy() + m.w_tilde.weight.numpy()) / 2
    np.testing.assert_allclose(m.wv.vectors, want, rtol=1e-6)
    assert m.wv.vectors.dtype == np.float32


def analogy_accuracy(wv, n_topics=8):
    hits = [wv.most_similar(positive=[f"queen{i}", f"king{j}"], negative=[f"king{i}"], topn=1)[0][0]
            == f"queen{j}" for i in range(n_topics) for j in range(n_topics) if i != j]
    return sum(hits) / len(hits)


def paragraphs(sentences, per=4):
    """Sentences joined in fours: the window then crosses topics now and then, so the
    pairs of different topics get small counts (GloVe fits only nonzero entries)."""
    return [sum(sentences[k:k + per], []) for k in range(0, len(sentences), per)]


@pytest.mark.parametrize("seed", [0, 1])
def test_planted_analogies_are_learned(seed, tmp_path):
    m = GloVe(paragraphs(planted_corpus()), vector_size=20, window=5, min_count=1, epochs=100,
              batch_size=64, seed=seed)
    assert analogy_accuracy(m.wv) >= 0.9
    lines = [": royalty"] + [f"king{i} queen{i} king{j} queen{j}"
                             for i in range(8) for j in range(8) if i != j]
    path = tmp_path / "q.txt"
    path.write_text("\n".join(lines) + "\n")
    score, _ = m.wv.evaluate_word_analogies(str(path))
    assert score >= 0.9
    assert m.wv.similarity("king3", "queen3") > m.wv.similarity("king3", "queen5")


def test_deterministic_for_a_seed_and_corpus_file_is_the_same(tmp_path):
    corpus = planted_corpus(n_sent=200)
    kw = dict(vector_size=6, window=3, min_count=1, epochs=3, batch_size=32)
    a, b = GloVe(corpus, seed=5, **kw), GloVe(corpus, seed=5, **kw)
    np.testing.assert_array_equal(a.wv.vectors, b.wv.vectors)
    assert a.epoch_losses == b.epoch_losses
    assert not np.array_equal(a.wv.vectors, GloVe(corpus, seed=6, **kw).wv.vectors)
    path = tmp_path / "c.txt"
    path.write_text("\n".join(" ".join(s) for s in corpus) + "\n")
    np.testing.assert_array_equal(GloVe(corpus_file=str(path), seed=5, **kw).wv.vectors,
                                  a.wv.vectors)


def test_save_load_round_trip_and_training_continues_identically(tmp_path):
    corpus = planted_corpus(n_sent=200)
    kw = dict(vector_size=6, window=3, min_count=1, epochs=2, batch_size=32, seed=2)
    m = GloVe(corpus, **kw)
    path = tmp_path / "glove.tsg"
    m.save(str(path))
    m2 = GloVe.load(str(path))
    np.testing.assert_array_equal(m2.wv.vectors, m.wv.vectors)
    assert m2.wv.index_to_key == m.wv.index_to_key and m2.epochs_trained == 2
    for name in ("vector_size", "window", "min_count", "x_max", "alpha", "epochs",
                 "learning_rate", "seed", "batch_size"):
        assert getattr(m2, name) == getattr(m, name)
    np.testing.assert_array_equal(m2.values, m.values)
    m.train(epochs=2)
    m2.train(epochs=2)          # the same shuffles, the same Adagrad accumulators
    np.testing.assert_array_equal(m2.wv.vectors, m.wv.vectors)
    straight = GloVe(corpus, **dict(kw, epochs=4))
    np.testing.assert_array_equal(straight.wv.vectors, m.wv.vectors)


def _tampered(tmp_path, change):
    m = GloVe(planted_corpus(n_sent=50), vector_size=4, window=2, min_count=1, epochs=1)
    good = tmp_path / "good.tsg"
    m.save(str(good))
    obj = ts.load(str(good))
    change(obj)
    bad = tmp_path / "bad.tsg"
    ts.save(obj, str(bad))
    return str(bad)


@pytest.mark.parametrize("change, field", [
    (lambda o: o.pop("tables"), "'tables'"),
    (lambda o: o.update(version=99), "version"),
    (lambda o: o.update(extra=1), "'extra'"),
    (lambda o: o["settings"].update(window=0), "settings\\['window'\\]"),
    (lambda o: o["settings"].pop("x_max"), "settings\\['x_max'\\]"),
    (lambda o: o["tables"].update(w=np.zeros((3, 4), np.float32)), "tables\\['w'\\]"),
    (lambda o: o["accumulators"].update(b=np.zeros((3, 4), np.float64)), "accumulators\\['b'\\]"),
    (lambda o: o.update(rows=np.full(o["rows"].shape[0], 10 ** 6)), "'rows'"),
    (lambda o: o.update(values=-o["values"]), "'values'"),
    (lambda o: o.update(index_to_key=["a"] * len(o["index_to_key"])), "'index_to_key'"),
    (lambda o: o.update(rng={"bit_generator": "nope"}), "'rng'"),
    (lambda o: o.update(epochs_trained=-1), "'epochs_trained'"),
])
def test_load_checks_every_field_and_names_file_and_field(tmp_path, change, field):
    path = _tampered(tmp_path, change)
    with pytest.raises(ts.SerializationError, match=f"bad.tsg.*field {field}"):
        GloVe.load(path)


def test_load_refuses_a_word2vec_save(tmp_path):
    from tinygrad_seq.word2vec import Word2Vec
    w = Word2Vec(planted_corpus(n_sent=50), vector_size=4, min_count=1, epochs=1, progress=False)
    w.save(str(tmp_path / "w2v.tsg"))
    with pytest.raises(ts.SerializationError, match="w2v.tsg.*not a GloVe model"):
        GloVe.load(str(tmp_path / "w2v.tsg"))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(vector_size=0), ValueError, "vector_size must be >= 1"),
    (dict(vector_size=2.0), TypeError, "vector_size must be an int"),
    (dict(window=0), ValueError, "window must be >= 1"),
    (dict(min_count=-1), ValueError, "min_count must be >= 0"),
    (dict(x_max=0), ValueError, "x_max must be finite and > 0"),
    (dict(x_max=float("nan")), ValueError, "x_max must be finite"),
    (dict(alpha="0.75"), TypeError, "alpha must be a number"),
    (dict(epochs=-1), ValueError, "epochs must be >= 0"),
    (dict(learning_rate=-0.05), ValueError, "learning_rate must be finite and > 0"),
    (dict(seed=True), TypeError, "seed must be an int"),
    (dict(batch_size=0), ValueError, "batch_size must be >= 1"),
])
def test_settings_are_checked_naming_the_argument(kwargs, error, match):
    with pytest.raises(error, match="GloVe: " + match):
        GloVe(**kwargs)


def test_corpus_errors():
    with pytest.raises(TypeError, match="exactly one of"):
        GloVe(vector_size=3).build_vocab()
    with pytest.raises(ValueError, match="empty"):
        GloVe([], min_count=1)
    with pytest.raises(ValueError, match="nothing to train on"):
        GloVe([["a"], ["b"]], min_count=1)
    with pytest.raises(RuntimeError, match="build_vocab first"):
        GloVe().train()
    with pytest.raises(RuntimeError, match="nothing to save"):
        GloVe().save("never.tsg")
    with pytest.raises(TypeError, match="string"):
        GloVe(["a b c".split(), "a b"], min_count=1)
    assert "GloVe<vocab=" in repr(GloVe(TINY, vector_size=3, min_count=1, epochs=1))
