"""word2vec's hierarchical softmax (hs=1): the Huffman tree as the word2vec C tool builds
it (a hand-worked example, optimality against a heap-built tree, and gensim's code
lengths where gensim is installed), the hand-written step equal to the autodiff one
(the framework's Embedding, binary_cross_entropy_with_logits, SGD), the planted
analogies learned with hs alone and with negative sampling, and save/load."""
import heapq

import numpy as np
import pytest

from tinygrad_seq.word2vec import Vocabulary, Word2Vec
from tinygrad_seq.word2vec import corpus as C

from test_word2vec import _same_run, on_device, planted_corpus, random_tables

try:
    from gensim.models import Word2Vec as GensimWord2Vec
except Exception:  # not installed
    GensimWord2Vec = None


def test_huffman_tree_of_a_worked_example():
    # counts 5 4 3 2 1, merged as word2vec does (two queues; a tie takes the inner node):
    # {1,2}=3 (node 0), {node0, 3}=6 (node 1, the tie), {4,5}=9 (node 2), root 15 (node 3)
    vocab = Vocabulary(list("abcde"), [5, 4, 3, 2, 1], 15)
    points, codes, lengths = vocab.huffman_tree()
    assert lengths.tolist() == [2, 2, 2, 3, 3]
    expected = {"a": ([3, 2], [1, 1]), "b": ([3, 2], [1, 0]), "c": ([3, 1], [0, 1]),
                "d": ([3, 1, 0], [0, 0, 1]), "e": ([3, 1, 0], [0, 0, 0])}
    for i, w in enumerate("abcde"):
        n = lengths[i]
        assert (points[i, :n].tolist(), codes[i, :n].tolist()) == expected[w], w
        assert (points[i, n:] == 4).all() and (codes[i, n:] == 0).all()   # padding: row V-1


def _heap_cost(counts):
    heap = list(map(int, counts))
    heapq.heapify(heap)
    cost = 0
    while len(heap) > 1:
        a, b = heapq.heappop(heap), heapq.heappop(heap)
        cost += a + b
        heapq.heappush(heap, a + b)
    return cost


@pytest.mark.parametrize("seed", range(5))
def test_huffman_tree_is_optimal_and_prefix_free(seed):
    rng = np.random.default_rng(seed)
    V = int(rng.integers(2, 200))
    counts = np.sort(rng.zipf(1.5, V).clip(1, 10 ** 6))[::-1]
    vocab = Vocabulary([f"w{i}" for i in range(V)], counts, int(counts.sum()))
    points, codes, lengths = vocab.huffman_tree()
    assert int((counts * lengths).sum()) == _heap_cost(counts)      # an optimal code
    words = {tuple(codes[i, :lengths[i]].tolist()) for i in range(V)}
    assert len(words) == V
    for w in words:                                                 # prefix-free
        assert not any(o != w and o[:len(w)] == w for o in words)
    assert sum(2.0 ** -n for n in lengths) == pytest.approx(1.0)    # a full binary tree
    assert (points[:, 0] == V - 2).all()                            # all start at the root
    inner = points[points != V - 1]
    assert inner.min() >= 0 and inner.max() == V - 2


def test_one_word_vocabulary_has_an_empty_path():
    points, codes, lengths = Vocabulary(["a"], [3], 3).huffman_tree()
    assert lengths.tolist() == [0] and points.tolist() == [[0]]
    m = Word2Vec([["a", "a", "a"]], min_count=1, hs=1, negative=0, vector_size=4,
                 progress=False)
    assert np.all(m.syn1.weight.numpy() == 0)


@pytest.mark.skipif(GensimWord2Vec is None, reason="gensim not installed")
def test_code_lengths_as_gensim():
    sents = planted_corpus(n_sent=500)
    ours = Word2Vec(sents, min_count=1, hs=1, negative=0, vector_size=8, epochs=0,
                    progress=False)
    theirs = GensimWord2Vec(sents, min_count=1, hs=1, negative=0, vector_size=8, epochs=1,
                            workers=1)
    _, _, lengths = ours.vocab.huffman_tree()
    counts = {w: ours.vocab.counts[i] for i, w in enumerate(ours.vocab.index_to_key)}
    cost = sum(counts[w] * len(theirs.wv.get_vecattr(w, "code")) for w in counts)
    assert int((ours.vocab.counts * lengths).sum()) == cost
    assert theirs.syn1.shape == ours.syn1.weight.shape       # (V, D): V-1 nodes and a pad


CONFIGS = [(1, 1, True, 0), (1, 1, False, 0), (0, 1, True, 0), (0, 0, True, 0),
           (1, 1, True, 5), (0, 1, True, 5)]


@pytest.mark.parametrize("sg,cbow_mean,shared,negative", CONFIGS)
def test_fast_hs_step_equals_the_autodiff_step(sg, cbow_mean, shared, negative):
    sents = planted_corpus(n_sent=300)
    kw = dict(vector_size=12, window=3, min_count=1, sg=sg, epochs=0, progress=False, seed=4,
              cbow_mean=cbow_mean, shared_negatives=shared, hs=1, negative=negative)
    a, b = Word2Vec(sents, fast_path=False, **kw), Word2Vec(sents, fast_path=True, **kw)
    syn1 = np.random.default_rng(2).normal(0, 0.3, a.syn1.weight.shape).astype(np.float32)
    for m in (a, b):        # non-zero output vectors, so that every term of the update counts
        random_tables(m, 1, scale=0.3, syn0=False)
        m.syn1.weight.data[...] = on_device(syn1)
    enc = [s for batch, _ in C.encode_batches(sents, a.vocab, 10 ** 9) for s in batch]
    inputs, targets = a.examples(enc[:200])
    la = a.step_autodiff(inputs, targets, 0.05)
    lb = b.step_fast(inputs, targets, 0.05)
    assert la == pytest.approx(lb, rel=1e-5)
    for name in ("syn0", "syn1neg", "syn1"):
        wa, wb = getattr(a, name).weight.numpy(), getattr(b, name).weight.numpy()
        assert np.allclose(wa, wb, atol=1e-6), name
    V = len(a.vocab)
    assert not np.allclose(a.syn0.weight.numpy()[:V], a.wv.vectors)     # it moved
    assert np.array_equal(b.syn1.weight.numpy()[V - 1], syn1[V - 1])     # the pad row: unused


def test_hs_loss_is_the_sum_over_the_path_of_log_sigmoids():
    sents = planted_corpus(n_sent=100)
    m = Word2Vec(sents, vector_size=6, window=2, min_count=1, sg=1, shared_negatives=False,
                 hs=1, negative=0, epochs=0, progress=False, seed=3)
    syn1 = np.random.default_rng(0).normal(0, 0.5, m.syn1.weight.shape).astype(np.float32)
    m.syn1.weight.data[...] = on_device(syn1)
    syn0 = m.syn0.weight.numpy()
    points, codes, lengths = m.vocab.huffman_tree()
    inputs, targets = np.array([[3], [5]]), np.array([[0], [7]])
    expected = 0.0
    for (ctx,), (word,) in zip(inputs, targets):
        for n, c in zip(points[word, :lengths[word]], codes[word, :lengths[word]]):
            f = float(syn0[ctx] @ syn1[n])
            expected -= np.log(1 / (1 + np.exp(-f))) if c == 0 else np.log(1 / (1 + np.exp(f)))
    assert float(m.loss(inputs, targets).item()) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("sg,negative", [(1, 0), (0, 0), (1, 5)])
def test_training_with_the_fast_path_equals_training_through_autodiff(sg, negative):
    kw = dict(vector_size=10, window=3, min_count=1, sg=sg, epochs=2, progress=False, seed=2,
              batch_words=500, batch_examples=64, hs=1, negative=negative, compute_loss=True)
    a = Word2Vec(planted_corpus(n_sent=300), fast_path=False, **kw)
    b = Word2Vec(planted_corpus(n_sent=300), fast_path=True, **kw)
    assert np.allclose(a.wv.vectors, b.wv.vectors, atol=1e-5)
    assert np.allclose(a.syn1.weight.numpy(), b.syn1.weight.numpy(), atol=1e-5)
    assert a.get_latest_training_loss() == pytest.approx(b.get_latest_training_loss(), rel=1e-5)


@pytest.mark.parametrize("sg,negative", [(1, 0), (0, 0), (1, 5), (0, 5)])
def test_planted_analogies_are_learned_with_hs(sg, negative, tmp_path):
    m = Word2Vec(planted_corpus(), vector_size=20, window=3, min_count=1, sg=sg, sample=0,
                 epochs=5, seed=1, progress=False, hs=1, negative=negative)
    lines = [": royalty"] + [f"king{i} queen{i} king{j} queen{j}"
                             for i in range(8) for j in range(8) if i != j]
    path = tmp_path / "q.txt"
    path.write_text("\n".join(lines) + "\n")
    score, _ = m.wv.evaluate_word_analogies(str(path))
    assert score >= 0.9, score
    assert m.wv.similarity("king3", "queen3") > m.wv.similarity("king3", "queen5")


def test_hs_model_save_load_continues_training_exactly(tmp_path):
    sents = planted_corpus(n_sent=200)
    a = Word2Vec(sents, vector_size=10, window=3, min_count=1, sg=1, epochs=1, progress=False,
                 seed=6, hs=1, negative=0)
    a.save(tmp_path / "hs.tsz")
    b = Word2Vec.load(tmp_path / "hs.tsz")
    assert b.hs == 1 and b.negative == 0
    assert np.array_equal(b.syn1.weight.numpy(), a.syn1.weight.numpy())
    a.train(sents)
    b.train(sents)
    assert _same_run(a.wv.vectors, b.wv.vectors)
    assert _same_run(a.syn1.weight.numpy(), b.syn1.weight.numpy())


def test_neither_hs_nor_negative_is_refused():
    with pytest.raises(ValueError, match="hs=0 and negative=0"):
        Word2Vec(hs=0, negative=0, progress=False)
