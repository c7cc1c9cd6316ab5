"""word2vec with its default step on vocabularies of every size: synthetic topic corpora
(each sentence draws its words from one topic), scored by the mean cosine within a
topic minus the mean across topics, against gensim (1 worker) where it is installed and
against a sequential NumPy word2vec (one example at a time, as the C tool) otherwise.
Only vector_size, min_count=1, sample=0 and the seed are set: the default
batch_examples must not make the update diverge from sequential SGD's on a small
vocabulary (a 12-word one learned nothing with 1024-example steps)."""
import random

import numpy as np
import pytest

from tinygrad_seq.word2vec import Word2Vec

try:
    from gensim.models import Word2Vec as GensimWord2Vec
except Exception:  # not installed: the sequential reference below
    GensimWord2Vec = None

# vocabulary size -> (topics, sentences of 8 words): about 80 occurrences per word up to
# 1,200 words, 40 at 12,000
CORPORA = {12: (2, 240), 120: (4, 1200), 1200: (8, 12000), 12000: (16, 60000)}
CONFIGS = [pytest.param(1, True, id="skipgram-shared"), pytest.param(1, False, id="skipgram-pairs"),
           pytest.param(0, True, id="cbow")]
SETTINGS = dict(vector_size=16, min_count=1, sample=0, seed=1)


def topic_corpus(vocab_size, seed=0, length=8):
    n_topics, n_sentences = CORPORA[vocab_size]
    r = random.Random(seed)
    per = vocab_size // n_topics
    topics = [[f"t{t}w{i}" for i in range(per)] for t in range(n_topics)]
    sentences = [[r.choice(topics[t]) for _ in range(length)]
                 for t in (r.randrange(n_topics) for _ in range(n_sentences))]
    return sentences, topics


def topic_separation(vectors, key_to_index, topics):
    """Mean cosine of two different words of one topic minus the mean cosine of words of
    two different topics (from per-topic sums of unit vectors: exact, no V^2 matrix)."""
    sums, sizes = [], []
    for words in topics:
        u = np.asarray(vectors, dtype=np.float64)[[key_to_index[w] for w in words]]
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        sums.append(u.sum(axis=0))
        sizes.append(len(words))
    within = np.mean([(s @ s - n) / (n * (n - 1)) for s, n in zip(sums, sizes)])
    across = np.mean([sums[a] @ sums[b] / (sizes[a] * sizes[b])
                      for a in range(len(sums)) for b in range(len(sums)) if a != b])
    return float(within - across)


def sequential_word2vec(sentences, sg, vector_size, seed, window=5, negative=5, epochs=5,
                        alpha=0.025, min_alpha=0.0001):
    """word2vec's loop, one example at a time (the reference when gensim is missing):
    skip-gram per (center, context) pair with its own negatives, CBOW per center with
    the mean of its context; the learning rate decays linearly over the words seen."""
    words = sorted({w for s in sentences for w in s})
    index = {w: i for i, w in enumerate(words)}
    counts = np.bincount([index[w] for s in sentences for w in s], minlength=len(words))
    cum = np.cumsum(counts ** 0.75)
    cum /= cum[-1]
    rng = np.random.default_rng(seed)
    syn0 = ((rng.random((len(words), vector_size)) - 0.5) / vector_size).astype(np.float32)
    syn1 = np.zeros_like(syn0)
    total, seen = epochs * counts.sum(), 0

    def update(h, target, lr):
        """One example: the target and its negatives scored against h; returns dh."""
        rows = np.concatenate([[target], np.searchsorted(cum, rng.random(negative))])
        keep = np.ones(len(rows), bool)
        keep[1:] = rows[1:] != target
        rows = rows[keep]
        labels = (np.arange(len(rows)) == 0).astype(np.float32)
        g = lr * (labels - 1 / (1 + np.exp(-(syn1[rows] @ h))))
        dh = g @ syn1[rows]
        np.add.at(syn1, rows, np.outer(g, h))
        return dh

    for _ in range(epochs):
        for s in sentences:
            ids = [index[w] for w in s]
            for pos, center in enumerate(ids):
                lr = max(min_alpha, alpha - (alpha - min_alpha) * seen / total)
                b = rng.integers(window)
                lo, hi = max(0, pos - window + b), min(len(ids), pos + window - b + 1)
                context = [ids[j] for j in range(lo, hi) if j != pos]
                if not context:
                    continue
                if sg:
                    for c in context:
                        syn0[c] += update(syn0[c], center, lr)
                else:
                    dh = update(syn0[context].mean(axis=0), center, lr)
                    for c in context:
                        syn0[c] += dh
                seen += 1
    return syn0, index


def reference_separation(sentences, topics, sg):
    if GensimWord2Vec is not None:
        g = GensimWord2Vec(sentences, sg=sg, workers=1, **SETTINGS)
        return topic_separation(g.wv.vectors, g.wv.key_to_index, topics)
    syn0, index = sequential_word2vec(sentences, sg, SETTINGS["vector_size"], SETTINGS["seed"])
    return topic_separation(syn0, index, topics)


def check_topics_learned(vocab_size, sg, shared):
    sentences, topics = topic_corpus(vocab_size)
    ours = Word2Vec(sentences, sg=sg, shared_negatives=shared, progress=False, **SETTINGS)
    got = topic_separation(ours.wv.vectors, ours.wv.key_to_index, topics)
    want = reference_separation(sentences, topics, sg)
    assert got >= want - 0.1, (f"{vocab_size} words: topic separation {got:.3f}, the "
                               f"reference {want:.3f} (step of {ours.step_examples()} examples)")


@pytest.mark.parametrize("sg,shared", CONFIGS)
@pytest.mark.parametrize("vocab_size", [12, 120])
def test_default_step_learns_small_vocabularies_as_sequential_sgd(vocab_size, sg, shared):
    check_topics_learned(vocab_size, sg, shared)


@pytest.mark.slow
@pytest.mark.parametrize("sg,shared", CONFIGS)
@pytest.mark.parametrize("vocab_size", [1200, 12000])
def test_default_step_learns_large_vocabularies_as_sequential_sgd(vocab_size, sg, shared):
    check_topics_learned(vocab_size, sg, shared)


def test_sequential_reference_separates_the_topics():
    """The fallback reference itself learns (so the comparison means something without
    gensim)."""
    sentences, topics = topic_corpus(12)
    for sg in (1, 0):
        syn0, index = sequential_word2vec(sentences, sg, 16, 1)
        assert topic_separation(syn0, index, topics) > 0.6


def steps_of(model, sentences):
    """The (inputs, targets) of every SGD step of one training of `model`."""
    steps, step = [], model._train_step

    def record(inputs, targets, lr, *rest):
        steps.append((np.asarray(inputs), np.asarray(targets)))
        return step(inputs, targets, lr, *rest)
    model._train_step = record
    model.train(sentences)
    return steps


@pytest.mark.parametrize("sg,shared", CONFIGS)
def test_no_input_output_pair_repeats_much_within_a_step(sg, shared):
    sentences, _ = topic_corpus(12)
    m = Word2Vec(vector_size=8, min_count=1, sample=0, seed=1, sg=sg, epochs=1,
                 shared_negatives=shared, progress=False)
    m.build_vocab(sentences)
    assert 1 <= m.step_examples() < 256          # far below the default 1024
    worst = 0
    for inputs, targets in steps_of(m, sentences):
        inputs = inputs if inputs.ndim == 2 else inputs[:, None]
        for col in range(targets.shape[1]):
            for slot in range(inputs.shape[1]):
                real = inputs[:, slot] != len(m.vocab)
                pairs = inputs[real, slot] * len(m.vocab) + targets[real, col]
                if pairs.size:
                    worst = max(worst, np.bincount(pairs).max() / (1 if sg else inputs.shape[1]))
    # the bound is on the expected repeats of the most frequent pair, summed over the
    # target columns; one column's actual count stays within a few times of it
    assert worst <= 4 * m.max_pair_repeats


def test_step_bound_keeps_full_steps_on_a_large_vocabulary_and_can_be_turned_off():
    sentences, _ = topic_corpus(1200)
    m = Word2Vec(vector_size=8, min_count=1, sample=0, seed=1, progress=False)
    m.build_vocab(sentences)
    assert m.step_examples() == 1024
    small = Word2Vec(vector_size=8, min_count=1, sample=0, seed=1, progress=False,
                     batch_examples=64)
    small.build_vocab(topic_corpus(12)[0])
    assert small.step_examples() <= 64           # batch_examples stays the largest step
    small.max_pair_repeats = None
    assert small.step_examples() == 64
