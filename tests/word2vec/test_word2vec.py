"""word2vec: vocabulary, sampling, windows, the per-example gradient and update,
determinism, KeyedVectors look-ups and evaluation, the word2vec file formats, errors,
and a synthetic corpus with planted analogies."""
import math
import random

import numpy as np
import pytest

import tinygrad_seq as ts
from tinygrad_seq.word2vec import KeyedVectors, Vocabulary, Word2Vec
from tinygrad_seq.word2vec import corpus as C


def planted_corpus(n_topics=8, n_sent=3000, seed=0):
    """king_i / queen_i share the topic words of i and differ by he/his vs she/her, so
    king_i - queen_i + queen_j ~ king_j."""
    r = random.Random(seed)
    out = []
    for _ in range(n_sent):
        i, g = r.randrange(n_topics), r.randrange(2)
        ctx = [("he", "she")[g], ("his", "her")[g], f"land{i}", f"city{i}", f"river{i}"]
        r.shuffle(ctx)
        out.append(ctx[:3] + [("king", "queen")[g] + str(i)] + ctx[3:])
    return out


SMALL = [["a", "b", "c", "a"], ["b", "a", "d"], ["e", "c", "a"], ["d", "b"]]


def small_model(**kw):
    args = dict(vector_size=8, window=2, min_count=1, sample=0, epochs=1, progress=False, seed=3)
    args.update(kw)
    return Word2Vec(SMALL, **args)


def on_device(array):
    """A host array as an array of the default device (the tables live there)."""
    return ts.tensor(array).array


def random_tables(m, seed, scale=1.0, syn0=True):
    """Normal random rows in syn1neg (zero at the start, which would hide terms of the
    update) and, with `syn0`, in the word rows of syn0; returns the host copies."""
    rng = np.random.default_rng(seed)
    V, D = len(m.vocab), m.vector_size
    if syn0:
        m.syn0.weight.data[:V] = on_device(rng.normal(0, scale, (V, D)).astype(np.float32))
    m.syn1neg.weight.data[...] = on_device(rng.normal(0, scale, (V, D)).astype(np.float32))
    return m.syn0.weight.numpy(), m.syn1neg.weight.numpy()


# ---------------------------------------------------------------- vocabulary

def test_vocabulary_counts_order_and_min_count():
    v = Vocabulary.build([["x", "y", "z", "y"], ["z", "w", "q"]], min_count=1)
    # y, z twice (y first seen before z); x, w, q once, in first-occurrence order
    assert v.index_to_key == ["y", "z", "x", "w", "q"]
    assert v.counts.tolist() == [2, 2, 1, 1, 1]
    assert v.key_to_index["x"] == 2 and v.total_words == 7 and v.retained_words == 7
    v2 = Vocabulary.build([["x", "y", "z", "y"], ["z", "w", "q"]], min_count=2)
    assert v2.index_to_key == ["y", "z"] and v2.total_words == 7 and v2.retained_words == 4


def test_vocabulary_max_vocab_size_prunes_rare_words():
    sents = [["a", "a", "a", "b", "b"], ["c"], ["d"], ["a", "b", "e"]]
    v = Vocabulary.build(sents, min_count=1, max_vocab_size=3)
    # gensim's rule: after a sentence that leaves more than 3 words, drop those seen
    # < 1 times (none, after sentence 3), then < 2 times (c, d, e after sentence 4)
    assert v.index_to_key == ["a", "b"] and v.counts.tolist() == [4, 3]
    assert v.total_words == 10


def test_keep_probability_formula_and_empirical_rate():
    v = Vocabulary(["the", "of", "rare"], [9000, 900, 100], total_words=10000)
    p = v.keep_probabilities(1e-3)
    t = 1e-3 * 10000
    for f, got in zip([9000, 900, 100], p):
        assert got == pytest.approx(min(1.0, (math.sqrt(f / t) + 1) * t / f))
    assert v.keep_probabilities(0).tolist() == [1.0, 1.0, 1.0]
    rng = np.random.default_rng(0)
    words, _ = C.subsample([np.zeros(200000, dtype=np.int64)], p, rng)
    assert abs(words.shape[0] / 200000 - p[0]) < 0.005


def test_negative_table_distribution_chi_square():
    counts = [1000, 300, 120, 50, 9, 1]
    v = Vocabulary(list("abcdef"), counts, sum(counts))
    p = np.array(counts, dtype=float) ** 0.75
    p /= p.sum()
    assert np.allclose(v.negative_distribution(0.75), p)
    n = 200000
    draws = C.draw_negatives(v.cum_table(0.75), (n,), np.random.default_rng(1))
    observed = np.bincount(draws, minlength=len(counts))
    chi2 = float(((observed - n * p) ** 2 / (n * p)).sum())
    assert chi2 < 20.5           # 5 degrees of freedom: P(chi2 > 20.5) ~ 0.001
    assert np.allclose(Vocabulary(list("ab"), [10, 10], 20).negative_distribution(0.0), 0.5)


@pytest.mark.parametrize("V", [1, 2, 7, 5000, 40000])
def test_negative_lookup_draws_the_words_of_the_binary_search(V):
    counts = np.sort(np.random.default_rng(V).zipf(1.2, V))[::-1]
    cum = Vocabulary([f"w{i}" for i in range(V)], counts, counts.sum()).cum_table(0.75)
    plain = C.draw_negatives(cum, (3000, 5), np.random.default_rng(0))
    fast = C.draw_negatives(cum, (3000, 5), np.random.default_rng(0), C.negative_lookup(cum))
    assert fast.dtype == plain.dtype and np.array_equal(fast, plain)


def test_encoding_drops_unknown_tokens_and_empty_sentences():
    v = Vocabulary(list("abc"), [3, 2, 1], 6)
    corpus = [["a", "x", "b"], [], ["x", "y"], ["c"], ["b", "b"], []]
    (batch, raw, n), = C.encode_jobs(corpus, v, 10 ** 9)
    assert [b.tolist() for b in batch] == [[0, 1], [2], [1, 1]] and (raw, n) == (8, 6)
    assert all(b.dtype == np.int64 for b in batch)


def test_reduced_windows_are_uniform_below_window():
    b = C.reduced_windows(50000, 5, np.random.default_rng(0))
    assert b.min() == 0 and b.max() == 4
    assert np.all(np.abs(np.bincount(b) / 50000 - 0.2) < 0.01)


def _brute_pairs(sentences, window, b):
    pairs, k = [], 0
    for s in sentences:
        for i, w in enumerate(s):
            eff = window - b[k]
            for j in range(max(0, i - eff), min(len(s), i + eff + 1)):
                if j != i:
                    pairs.append((w, s[j]))
            k += 1
    return pairs


def test_skipgram_pairs_and_cbow_contexts_follow_shrunk_windows():
    rng = np.random.default_rng(5)
    sentences = [rng.integers(0, 20, size=n) for n in (7, 1, 12, 3)]
    words, sid = np.concatenate(sentences), np.repeat(np.arange(4), [7, 1, 12, 3])
    b = C.reduced_windows(words.shape[0], 4, rng)
    center, context = C.skipgram_pairs(words, sid, 4, b)
    assert list(zip(center.tolist(), context.tolist())) == _brute_pairs(sentences, 4, b)
    cen, ctx = C.cbow_examples(words, sid, 4, b, pad=99)
    rows = [sorted(r[r != 99].tolist()) for r in ctx]
    k, expected = 0, []
    for s in sentences:
        for i in range(len(s)):
            eff = 4 - b[k]
            cx = sorted(s[j] for j in range(max(0, i - eff), min(len(s), i + eff + 1)) if j != i)
            if cx:
                expected.append((s[i], cx))
            k += 1
    assert [(int(c), r) for c, r in zip(cen, rows)] == [(int(c), [int(x) for x in r]) for c, r in expected]


# ---------------------------------------------------------------- the update

def _sig(x):
    return 1 / (1 + np.exp(-x))


def test_skipgram_gradient_matches_the_formula_and_the_word2vec_update():
    m = small_model(sg=1, epochs=0)
    D = 8
    v0, u0 = random_tables(m, 0)
    inputs, targets = np.array([2]), np.array([[0, 1, 3, 4]])   # input c=2, positive o=0
    loss = m.loss(inputs, targets)
    loss.backward()
    v, uo, uk = v0[2].astype(np.float64), u0[0].astype(np.float64), u0[[1, 3, 4]].astype(np.float64)
    want_loss = -np.log(_sig(uo @ v)) - np.log(_sig(-(uk @ v))).sum()
    assert loss.item() == pytest.approx(want_loss, rel=1e-5)
    dv = -(1 - _sig(uo @ v)) * uo + (_sig(uk @ v)[:, None] * uk).sum(0)
    g0 = m.syn0.weight.grad.numpy()
    assert np.allclose(g0[2], dv, atol=1e-5) and np.allclose(np.delete(g0, 2, 0), 0)
    g1 = m.syn1neg.weight.grad.numpy()
    assert np.allclose(g1[0], -(1 - _sig(uo @ v)) * v, atol=1e-5)
    assert np.allclose(g1[[1, 3, 4]], _sig(uk @ v)[:, None] * v, atol=1e-5)
    # the SGD step is word2vec's: g = alpha (label - s(u.v)); neu1e += g u; u += g v
    m.optimizer.zero_grad()
    m.step(inputs, targets, lr=0.1)
    neu1e = np.zeros(D)
    u = u0.astype(np.float64).copy()
    for t, label in zip(targets[0], [1, 0, 0, 0]):
        g = 0.1 * (label - _sig(u0[t] @ v))
        neu1e += g * u0[t]
        u[t] += g * v
    assert np.allclose(m.syn1neg.weight.numpy(), u, atol=1e-5)
    assert np.allclose(m.syn0.weight.numpy()[2], v + neu1e, atol=1e-5)


def test_cbow_update_is_word2vecs_mean_forward_full_error_to_each_context():
    m = small_model(sg=0, epochs=0)
    V, D = len(m.wv), 8
    v0, u0 = random_tables(m, 1)
    pad = V
    inputs = np.array([[1, 3, pad, pad]])          # two context words
    targets = np.array([[0, 2, 4]])
    m.step(inputs, targets, lr=0.05)
    h = (v0[1] + v0[3]).astype(np.float64) / 2
    neu1e, u = np.zeros(D), u0.astype(np.float64).copy()
    for t, label in zip(targets[0], [1, 0, 0]):
        g = 0.05 * (label - _sig(u0[t] @ h))
        neu1e += g * u0[t]
        u[t] += g * h
    after = m.syn0.weight.numpy()
    assert np.allclose(m.syn1neg.weight.numpy(), u, atol=1e-5)
    assert np.allclose(after[1], v0[1] + neu1e, atol=1e-5)
    assert np.allclose(after[3], v0[3] + neu1e, atol=1e-5)
    assert np.all(after[pad] == 0)                 # the padding row stays zero
    assert np.array_equal(np.delete(after, [1, 3], 0), np.delete(v0, [1, 3], 0))


def test_shared_negatives_layout_is_the_window_of_each_center():
    sents = planted_corpus(n_sent=50)
    kw = dict(vector_size=8, window=3, min_count=1, epochs=0, progress=False, seed=5, sg=1)
    shared, pairs = Word2Vec(sents, **kw), Word2Vec(sents, shared_negatives=False, **kw)
    enc = [s for batch, _ in C.encode_batches(sents, shared.vocab, 10 ** 9) for s in batch]
    inputs, targets = shared.examples(enc)
    pad = len(shared.vocab)
    assert inputs.shape[1] == 2 * 3 and targets.shape == (inputs.shape[0], 1 + 5)
    assert np.all((inputs != pad).any(axis=1))          # every center has a context
    p_inputs, p_targets = pairs.examples(enc)
    assert p_inputs.shape == (p_targets.shape[0], 1)
    # the same generator draws give the same (center, context) pairs in both layouts
    rows, cols = np.nonzero(inputs != pad)
    got = sorted(zip(targets[rows, 0].tolist(), inputs[rows, cols].tolist()))
    assert got == sorted(zip(p_targets[:, 0].tolist(), p_inputs[:, 0].tolist()))


def test_shared_negatives_step_is_the_per_pair_step_with_the_draw_repeated():
    """One center with its window and one draw of negatives is, loss and update, the
    pairs (center, each context word) each given that same draw."""
    sents = planted_corpus(n_sent=300)
    kw = dict(vector_size=12, window=3, min_count=1, epochs=0, progress=False, seed=4, sg=1)
    a, b = Word2Vec(sents, **kw), Word2Vec(sents, shared_negatives=False, **kw)
    V = len(a.vocab)
    for m in (a, b):
        random_tables(m, 2, scale=0.3, syn0=False)
    enc = [s for batch, _ in C.encode_batches(sents, a.vocab, 10 ** 9) for s in batch]
    inputs, targets = a.examples(enc[:40])
    inputs, targets = inputs[:64], targets[:64]
    targets[:2, 3] = targets[:2, 0]                      # a negative that drew the center
    rows, cols = np.nonzero(inputs != V)
    la = a.step(inputs, targets, 0.05)
    lb = b.step(inputs[rows, cols], targets[rows], 0.05)
    assert la == pytest.approx(lb, rel=1e-5)
    assert np.allclose(a.syn0.weight.numpy(), b.syn0.weight.numpy(), atol=1e-6)
    assert np.allclose(a.syn1neg.weight.numpy(), b.syn1neg.weight.numpy(), atol=1e-6)


def test_negative_that_draws_the_positive_is_skipped():
    m = small_model(sg=1, epochs=0)
    u0 = m.syn1neg.weight.numpy()
    m.syn1neg.weight.data[...] = 0.3
    loss = m.loss(np.array([1]), np.array([[0, 0, 2]]))     # negative 0 == positive 0
    ref = m.loss(np.array([1]), np.array([[0, 2]]))
    assert loss.item() == pytest.approx(ref.item())
    assert u0.shape == (len(m.wv), 8)


def test_initialisation_as_gensim():
    m = Word2Vec(planted_corpus(n_sent=50), vector_size=10, min_count=1, epochs=0, progress=False)
    v = m.wv.vectors
    assert v.min() >= -0.05 and v.max() < 0.05 and v.std() > 0.02
    assert np.all(m.syn1neg.weight.numpy() == 0)


def test_learning_rate_decays_linearly_over_all_epochs(monkeypatch):
    m = Word2Vec(planted_corpus(n_sent=200), vector_size=8, min_count=1, epochs=0,
                 batch_words=100, progress=False, alpha=0.02, min_alpha=0.001)
    seen = []
    real = m._train_step
    monkeypatch.setattr(m, "_train_step", lambda i, t, lr, *a: (seen.append(lr), real(i, t, lr, *a))[1])
    m.train(epochs=2)
    lrs = sorted(set(seen), reverse=True)
    total = 2 * m.vocab.total_words
    sizes = [raw for _, raw in C.encode_batches(m._corpus, m.vocab, 100)] * 2
    starts = np.cumsum([0] + sizes[:-1])
    assert lrs == pytest.approx([0.02 - 0.019 * s / total for s in starts])


# ---------------------------------------------------------------- training behaviour

def _same_run(x, y):
    """Bit for bit on the CPU; on the GPU the scatter-add of repeated rows uses atomics,
    whose order (hence the last bits of a float sum) can vary between runs."""
    if ts.backend.default_device == "cpu":
        return np.array_equal(x, y)
    return np.allclose(x, y, rtol=1e-4, atol=1e-6)


def test_determinism_for_a_seed_and_train_again_continues():
    sents = planted_corpus(n_sent=300)
    a = Word2Vec(sents, vector_size=10, min_count=1, epochs=2, progress=False, seed=7, sg=1)
    b = Word2Vec(sents, vector_size=10, min_count=1, epochs=2, progress=False, seed=7, sg=1)
    c = Word2Vec(sents, vector_size=10, min_count=1, epochs=2, progress=False, seed=8, sg=1)
    same = _same_run
    assert same(a.wv.vectors, b.wv.vectors)
    assert not np.allclose(a.wv.vectors, c.wv.vectors)
    before = a.wv.vectors.copy()
    trained, raw = a.train(epochs=1)
    b.train(epochs=1)
    assert raw == a.vocab.total_words and 0 < trained <= raw and a.train_count == 2
    assert not np.array_equal(before, a.wv.vectors)
    assert same(a.wv.vectors, b.wv.vectors)


def test_corpus_file_gives_the_same_model_as_the_token_lists(tmp_path):
    sents = planted_corpus(n_sent=200)
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(" ".join(s) for s in sents) + "\n", encoding="utf8")
    a = Word2Vec(sents, vector_size=10, min_count=1, epochs=1, progress=False)
    b = Word2Vec(corpus_file=str(path), vector_size=10, min_count=1, epochs=1, progress=False)
    assert a.wv.index_to_key == b.wv.index_to_key
    assert np.array_equal(a.wv.vectors, b.wv.vectors)


def test_progress_without_tqdm_trains_silently(monkeypatch, capsys):
    from tinygrad_seq.word2vec import model as M
    monkeypatch.setattr(M, "_tqdm", None)
    m = Word2Vec(planted_corpus(n_sent=100), vector_size=8, min_count=1, epochs=1, progress=True)
    assert capsys.readouterr().err == "" and m.train_count == 1


def test_corpus_file_cuts_long_lines_as_gensim(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text(" ".join(["w"] * 25000) + "\n\nx y\n")
    assert [len(s) for s in C.CorpusFile(str(path))] == [10000, 10000, 5000, 2]   # empty lines give nothing


def test_progress_bar_runs_when_tqdm_is_installed(capsys):
    pytest.importorskip("tqdm")
    Word2Vec(planted_corpus(n_sent=100), vector_size=8, min_count=1, epochs=1, progress=True)
    assert "word" in capsys.readouterr().err


@pytest.mark.parametrize("sg,shared", [(1, True), (1, False), (0, True)])
def test_planted_analogies_are_learned(sg, shared, tmp_path):
    m = Word2Vec(planted_corpus(), vector_size=20, window=3, min_count=1, sg=sg, sample=0,
                 epochs=5, batch_words=1000, batch_examples=128, seed=1, progress=False,
                 shared_negatives=shared)
    lines = [": royalty"] + [f"king{i} queen{i} king{j} queen{j}"
                             for i in range(8) for j in range(8) if i != j]
    path = tmp_path / "q.txt"
    path.write_text("\n".join(lines) + "\n")
    score, sections = m.wv.evaluate_word_analogies(str(path))
    assert score >= 0.9, score
    assert sections[-1]["section"] == "Total accuracy" and len(sections) == 2
    assert m.wv.most_similar(positive=["queen1", "king2"], negative=["king1"], topn=1)[0][0] == "queen2"
    assert m.wv.similarity("king3", "queen3") > m.wv.similarity("king3", "queen5")


# ---------------------------------------------------------------- errors

def test_errors_empty_corpus_unknown_word_bad_input(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        Word2Vec([], progress=False)
    with pytest.raises(ValueError, match="empty"):
        Word2Vec([[], []], progress=False)
    with pytest.raises(ValueError, match="min_count=5"):
        Word2Vec([["a", "b"]], progress=False)
    with pytest.raises(TypeError, match="one-shot"):
        Word2Vec((s for s in SMALL), min_count=1, progress=False)
    with pytest.raises(TypeError, match="lists of tokens"):
        Word2Vec(["a b c"], min_count=1, progress=False)
    with pytest.raises(TypeError, match="exactly one"):
        Word2Vec(SMALL, corpus_file="x.txt", progress=False)
    with pytest.raises(FileNotFoundError):
        Word2Vec(corpus_file=str(tmp_path / "missing.txt"), progress=False)
    with pytest.raises(ValueError, match="window"):
        Word2Vec(SMALL, window=0, progress=False)
    with pytest.raises(RuntimeError, match="vocabulary"):
        Word2Vec(progress=False).train(SMALL)
    m = small_model()
    with pytest.raises(KeyError, match="zebra"):
        m.wv["zebra"]
    with pytest.raises(KeyError, match="zebra"):
        m.wv.similarity("a", "zebra")
    with pytest.raises(KeyError, match="zebra"):
        m.wv.most_similar("zebra")
    assert "a" in m.wv and "zebra" not in m.wv and len(m.wv) == 5
    assert m.wv["a"].shape == (8,) and m.wv[["a", "b"]].shape == (2, 8)


# ---------------------------------------------------------------- KeyedVectors

def kv_example():
    vecs = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0.8, 0.2], [0, 0, 1],
                     [-1, 0, 0]], dtype=np.float32)
    return KeyedVectors(vecs, ["cat", "dog", "car", "truck", "blue", "anti"])


def test_most_similar_similarity_doesnt_match_cosmul():
    kv = kv_example()
    assert kv.similarity("cat", "car") == pytest.approx(0.0)
    assert kv.similarity("cat", "anti") == pytest.approx(-1.0)
    top = kv.most_similar("cat", topn=2)
    assert top[0][0] == "dog" and len(top) == 2
    assert top[0][1] == pytest.approx(0.9 / math.sqrt(0.82), rel=1e-5)
    assert all(w != "cat" for w, _ in kv.most_similar("cat", topn=10))
    # 3CosAdd: unit(dog) - unit(cat) + unit(car) ~ direction closest to ...
    u = kv.unit_vectors()
    q = u[1] - u[0] + u[2]
    q /= np.linalg.norm(q)
    scores = u @ q
    scores[[0, 1, 2]] = -np.inf
    want = kv.index_to_key[int(np.argmax(scores))]
    assert kv.most_similar(positive=["dog", "car"], negative=["cat"], topn=1)[0][0] == want
    assert kv.doesnt_match(["cat", "dog", "blue", "nonword"]) == "blue"
    cm = kv.most_similar_cosmul(positive=["dog", "car"], negative=["cat"], topn=1)[0]
    sims = (1 + u @ u[1]) / 2 * (1 + u @ u[2]) / 2 / ((1 + u @ u[0]) / 2 + 1e-6)
    sims[[0, 1, 2]] = -np.inf
    assert cm[0] == kv.index_to_key[int(np.argmax(sims))]
    assert cm[1] == pytest.approx(float(sims.max()), rel=1e-5)
    with pytest.raises(ValueError):
        kv.most_similar()


def test_evaluate_word_pairs_against_scipy(tmp_path):
    kv = kv_example()
    path = tmp_path / "ws.tsv"
    path.write_text("# comment\ncat\tdog\t9\ncat\tcar\t2\ncar\ttruck\t8\nblue\tcat\t1\n"
                    "dog\tanti\t0.5\ncat\tunknownword\t5\n")
    (pr, pp), (sr, sp), oov = kv.evaluate_word_pairs(str(path))
    assert oov == pytest.approx(100 / 6)
    gold = [9, 2, 8, 1, 0.5]
    model = [kv.similarity(a, b) for a, b in
             [("cat", "dog"), ("cat", "car"), ("car", "truck"), ("blue", "cat"), ("dog", "anti")]]
    assert pr == pytest.approx(np.corrcoef(gold, model)[0, 1])
    stats = pytest.importorskip("scipy.stats")
    assert sr == pytest.approx(stats.spearmanr(gold, model)[0])
    assert sp == pytest.approx(stats.spearmanr(gold, model)[1])
    assert pp == pytest.approx(stats.pearsonr(gold, model)[1])
    bad = tmp_path / "bad.tsv"
    bad.write_text("cat\tdog\tnine\n")
    with pytest.raises(ValueError, match="line 1"):
        kv.evaluate_word_pairs(str(bad))


def test_spearman_handles_ties_like_rankdata():
    from tinygrad_seq.word2vec.keyedvectors import _rank, spearman
    assert _rank([3, 1, 3, 2]).tolist() == [3.5, 1.0, 3.5, 2.0]
    assert spearman([1, 2, 3], [2, 4, 9])[0] == pytest.approx(1.0)


def test_evaluate_word_analogies_sections_and_oov(tmp_path):
    kv = kv_example()
    path = tmp_path / "q.txt"
    path.write_text(": s1\ncat dog car truck\nCAT DOG CAR TRUCK\n: s2\ncat dog car blue\n"
                    "cat dog car zzz\n")
    score, sections = kv.evaluate_word_analogies(str(path))
    assert [s["section"] for s in sections] == ["s1", "s2", "Total accuracy"]
    assert len(sections[0]["correct"]) == 2 and len(sections[1]["incorrect"]) == 1
    assert score == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="line 2"):
        p2 = tmp_path / "q2.txt"
        p2.write_text(": s\ncat dog car\n")
        kv.evaluate_word_analogies(str(p2))


# ---------------------------------------------------------------- formats

def test_text_format_bytes_and_round_trip(tmp_path):
    kv = KeyedVectors(np.array([[0.5, -1.25], [3.0, 0.1]], dtype=np.float32), ["héllo", "b"])
    p = tmp_path / "v.txt"
    kv.save_word2vec_format(str(p))
    assert p.read_bytes() == "2 2\nhéllo 0.5 -1.25\nb 3.0 0.1\n".encode("utf8")
    back = KeyedVectors.load_word2vec_format(str(p))
    assert back.index_to_key == ["héllo", "b"] and np.array_equal(back.vectors, kv.vectors)
    # the C tool's text output: "%lf " per value, a trailing space
    c = tmp_path / "c.txt"
    c.write_bytes(b"2 2\nh\xc3\xa9llo 0.500000 -1.250000 \nb 3.000000 0.100000 \n")
    back = KeyedVectors.load_word2vec_format(str(c))
    assert np.allclose(back.vectors, kv.vectors) and back.index_to_key == ["héllo", "b"]


def test_binary_format_bytes_and_round_trip(tmp_path):
    vecs = np.array([[0.5, -1.25], [3.0, 0.1]], dtype=np.float32)
    kv = KeyedVectors(vecs, ["ab", "c"])
    p = tmp_path / "v.bin"
    kv.save_word2vec_format(str(p), binary=True)
    want = (b"2 2\n" + b"ab " + np.array([0.5, -1.25], "<f4").tobytes() + b"\n"
            + b"c " + np.array([3.0, 0.1], "<f4").tobytes() + b"\n")
    assert p.read_bytes() == want
    back = KeyedVectors.load_word2vec_format(str(p), binary=True)
    assert back.index_to_key == ["ab", "c"] and np.array_equal(back.vectors, vecs)
    # without the newline after each vector (other writers) it reads the same
    p2 = tmp_path / "v2.bin"
    p2.write_bytes(want.replace(b"\nc ", b"c "))
    assert KeyedVectors.load_word2vec_format(str(p2), binary=True).index_to_key == ["ab", "c"]


def test_model_vectors_round_trip_both_formats(tmp_path):
    m = small_model()
    for binary in (False, True):
        p = tmp_path / f"m{binary}"
        m.wv.save_word2vec_format(str(p), binary=binary)
        back = KeyedVectors.load_word2vec_format(str(p), binary=binary)
        assert back.index_to_key == m.wv.index_to_key
        assert np.array_equal(back.vectors, m.wv.vectors)


@pytest.mark.parametrize("content,binary,match", [
    (b"2\na 1\n", False, "line 1: the header"),
    (b"x y\n", False, "line 1: the header"),
    (b"2 2\na 1 2\nb 1\n", False, "line 3: expected a word and 2 numbers, got 2 fields"),
    (b"2 2\na 1 2\nb 1 zz\n", False, "line 3: 'zz' is not a number"),
    (b"3 2\na 1 2\nb 1 2\n", False, "line 4: the file ends after 2 vectors"),
    (b"2 2\na 1 2\na 1 2\n", False, "appears twice"),
    (b"1 2\na \x00\x00", True, "entry 1 .* expected 8 bytes"),
    (b"1 2\nabc", True, "entry 1 .* ends inside a word"),
    (b"1 1\n\xff\xfe 1 2\n", False, "line 2: not valid utf8"),
])
def test_malformed_vector_files_name_line_and_reason(tmp_path, content, binary, match):
    p = tmp_path / "bad"
    p.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        KeyedVectors.load_word2vec_format(str(p), binary=binary)


def test_save_refuses_keys_with_whitespace(tmp_path):
    kv = KeyedVectors(np.zeros((1, 2), np.float32), ["a b"])
    with pytest.raises(ValueError, match="whitespace"):
        kv.save_word2vec_format(str(tmp_path / "x"))


# ---------------------------------------------------------------- the hand-written fast path

@pytest.mark.parametrize("sg,cbow_mean,shared", [(1, 1, True), (1, 1, False), (0, 1, True),
                                               (0, 0, True)])
@pytest.mark.parametrize("scatter_pads", [False, True])
def test_fast_step_equals_the_autodiff_step(sg, cbow_mean, shared, scatter_pads):
    sents = planted_corpus(n_sent=300)
    kw = dict(vector_size=12, window=3, min_count=1, sg=sg, epochs=0, progress=False, seed=4,
              cbow_mean=cbow_mean, shared_negatives=shared)
    a, b = Word2Vec(sents, fast_path=False, **kw), Word2Vec(sents, fast_path=True, **kw)
    b.scatter_pads = scatter_pads           # both scatters of syn0 (the GPU's and NumPy's)
    rng = np.random.default_rng(0)
    V = len(a.wv)
    for m in (a, b):        # non-zero output vectors, so that every term of the update counts
        random_tables(m, 1, scale=0.3, syn0=False)
    enc = [s for batch, _ in C.encode_batches(sents, a.vocab, 10 ** 9) for s in batch]
    inputs, targets = a.examples(enc[:200])
    targets[:3, 2] = targets[:3, 0]          # negatives that drew the positive: skipped
    assert len(set(targets.ravel().tolist())) < targets.size    # repeated rows
    la = a.step_autodiff(inputs, targets, 0.05)
    lb = b.step_fast(inputs, targets, 0.05)
    assert la == pytest.approx(lb, rel=1e-5)
    assert np.allclose(a.syn0.weight.numpy(), b.syn0.weight.numpy(), atol=1e-6)
    assert np.allclose(a.syn1neg.weight.numpy(), b.syn1neg.weight.numpy(), atol=1e-6)
    assert not np.allclose(a.syn0.weight.numpy()[:V], a.wv.vectors)     # it moved
    assert np.all(b.syn0.weight.numpy()[V] == 0)                         # the pad row stays 0


@pytest.mark.parametrize("sg,shared", [(1, True), (1, False), (0, True)])
def test_training_with_the_fast_path_equals_training_through_autodiff(sg, shared):
    kw = dict(vector_size=10, window=3, min_count=1, sg=sg, epochs=2, progress=False, seed=2,
              batch_words=500, batch_examples=64, shared_negatives=shared, compute_loss=True)
    a = Word2Vec(planted_corpus(n_sent=300), fast_path=False, **kw)
    b = Word2Vec(planted_corpus(n_sent=300), fast_path=True, **kw)
    assert np.allclose(a.wv.vectors, b.wv.vectors, atol=1e-5)
    assert a.get_latest_training_loss() == pytest.approx(b.get_latest_training_loss(), rel=1e-5)
    assert a.get_latest_training_loss() > 0


# ---------------------------------------------------------------- saving the whole model

@pytest.mark.parametrize("sg", [1, 0])
def test_model_save_load_continues_training_exactly(sg, tmp_path):
    sents = planted_corpus(n_sent=200)
    kw = dict(vector_size=10, window=3, min_count=1, sg=sg, epochs=1, progress=False, seed=6,
              batch_examples=128, shared_negatives=bool(sg))
    a = Word2Vec(sents, **kw)
    path = tmp_path / "w2v.tsz"
    a.save(path)
    b = Word2Vec.load(path)
    assert b.vocab.index_to_key == a.vocab.index_to_key and b.train_count == 1
    assert np.array_equal(b.vocab.counts, a.vocab.counts)
    assert b.vocab.total_words == a.vocab.total_words
    assert all(getattr(b, k) == getattr(a, k) for k in Word2Vec._SAVED)
    assert np.array_equal(b.wv.vectors, a.wv.vectors)
    assert np.array_equal(b.syn1neg.weight.numpy(), a.syn1neg.weight.numpy())
    assert b.wv.most_similar("king1", topn=3) == a.wv.most_similar("king1", topn=3)
    with pytest.raises(TypeError, match="give sentences="):
        b.train()                              # the corpus is not saved
    a.train(sents)
    b.train(sents)                             # the same draws: the generator was saved
    assert _same_run(a.wv.vectors, b.wv.vectors) and b.train_count == 2


def test_model_save_load_errors(tmp_path):
    m = Word2Vec(vector_size=4, progress=False)
    with pytest.raises(RuntimeError, match="build_vocab"):
        m.save(tmp_path / "empty.tsz")
    other = tmp_path / "other.tsz"
    ts.save({"weights": np.ones(3)}, other)
    with pytest.raises(ts.SerializationError, match="not a Word2Vec model"):
        Word2Vec.load(other)
    (tmp_path / "junk.tsz").write_bytes(b"not a zip at all")
    with pytest.raises(ts.SerializationError):
        Word2Vec.load(tmp_path / "junk.tsz")
