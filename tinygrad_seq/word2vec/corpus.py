"""Host-side data code of word2vec (NumPy on the host, no training math): reading a
corpus, the vocabulary, frequent-word subsampling, the negative-sampling distribution,
shrunk windows and the index arrays of training examples.

Formulas (as in the original word2vec C tool and gensim):

- subsampling: a word of count f among T retained words is kept with probability
  min(1, (sqrt(f / (sample T)) + 1) (sample T) / f); ``sample=0`` keeps every word.
- negatives: drawn with probability count^ns_exponent / sum(count^ns_exponent)
  (unigram^0.75), from a cumulative table as gensim's ``cum_table``.
- dynamic windows: for every center word a reduced window b is drawn uniformly in
  [0, window); the effective window is window - b words on each side, inside the
  sentence (after subsampling: discarded words are removed before windowing).
"""
import os

import numpy as np

MAX_SENTENCE_LENGTH = 10000      # gensim's cap: longer sentences are cut into pieces


def _check_tokens(sentence, where):
    if isinstance(sentence, str):
        raise TypeError(f"word2vec: {where} is a string; sentences must be lists of tokens "
                        "(e.g. line.split()), not strings")
    return sentence


class CorpusFile:
    """A corpus on disk: one sentence per line, tokens separated by whitespace (utf-8).
    Re-iterable; lines longer than 10,000 tokens are cut into pieces (as gensim's
    LineSentence)."""

    def __init__(self, path):
        if not isinstance(path, (str, bytes, os.PathLike)):
            raise TypeError(f"word2vec: corpus_file must be a path (str or os.PathLike), got "
                            f"{type(path).__name__} {path!r}")
        self.path = os.fsdecode(path)
        if not os.path.exists(self.path):
            raise FileNotFoundError(f"word2vec: corpus_file {self.path!r} does not exist")
        if not os.path.isfile(self.path):
            raise ValueError(f"word2vec: corpus_file {self.path!r} is not a regular file")

    def __iter__(self):
        # bytes, decoded line by line: a bad byte is reported with its file and line
        with open(self.path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise ValueError(f"word2vec: corpus_file {self.path!r}: line {lineno}: not "
                                     f"valid utf-8 ({e.reason} at byte {e.start})") from None
                tokens = line.split()
                for i in range(0, len(tokens), MAX_SENTENCE_LENGTH):
                    yield tokens[i:i + MAX_SENTENCE_LENGTH]


def corpus_iterable(sentences=None, corpus_file=None):
    """The re-iterable corpus given either as `sentences` or as `corpus_file`."""
    if (sentences is None) == (corpus_file is None):
        raise TypeError("word2vec: give exactly one of sentences= and corpus_file=")
    if corpus_file is not None:
        return CorpusFile(corpus_file)
    if iter(sentences) is sentences:
        raise TypeError("word2vec: sentences is a one-shot iterator (a generator?); training "
                        "reads the corpus once per epoch plus once for the vocabulary, so pass "
                        "a list or a re-iterable object (e.g. a class with __iter__)")
    return sentences


class Vocabulary:
    """Words kept for training: ``index_to_key`` by descending count, ties in order of
    first occurrence (gensim's order), ``key_to_index``, ``counts`` (int64 array
    aligned with index_to_key), ``total_words`` (all raw tokens seen, in vocab or
    not) and ``retained_words`` (tokens of kept words)."""

    def __init__(self, index_to_key, counts, total_words):
        self.index_to_key = list(index_to_key)
        self.key_to_index = {w: i for i, w in enumerate(self.index_to_key)}
        self.counts = np.asarray(counts, dtype=np.int64)
        self.total_words = int(total_words)
        self.retained_words = int(self.counts.sum())

    def __len__(self):
        return len(self.index_to_key)

    @classmethod
    def build(cls, corpus, min_count=5, max_vocab_size=None):
        """Count the tokens of `corpus` (an iterable of token lists). With
        ``max_vocab_size``, whenever more distinct words are held the rarest are pruned
        as gensim does (words with count < 1, then < 2, ... are dropped during the scan)."""
        if min_count < 1:
            min_count = 1
        counts, total, min_reduce = {}, 0, 1
        for n, sentence in enumerate(corpus):
            for w in _check_tokens(sentence, f"sentence {n}"):
                counts[w] = counts.get(w, 0) + 1
            total += len(sentence)
            if max_vocab_size is not None and len(counts) > max_vocab_size:
                counts = {w: c for w, c in counts.items() if c >= min_reduce}
                min_reduce += 1
        kept = [(w, c) for w, c in counts.items() if c >= min_count]
        kept.sort(key=lambda wc: -wc[1])       # stable: ties stay in first-occurrence order
        if not kept:
            if total == 0:
                raise ValueError("word2vec: the corpus is empty (no tokens); nothing to train on")
            raise ValueError(f"word2vec: empty vocabulary: none of the {len(counts)} distinct "
                             f"words of the corpus ({total} tokens) occurs min_count={min_count} "
                             "times; lower min_count or give a larger corpus")
        return cls([w for w, _ in kept], [c for _, c in kept], total)

    # ---- sampling distributions
    def keep_probabilities(self, sample):
        """P(keep) of each word for frequent-word subsampling (1.0 where sample == 0)."""
        f = self.counts.astype(np.float64)
        if not sample:
            return np.ones_like(f)
        threshold = sample * self.retained_words if sample < 1.0 else float(sample)
        return np.minimum(1.0, (np.sqrt(f / threshold) + 1.0) * threshold / f)

    def negative_distribution(self, ns_exponent=0.75):
        """P(word drawn as a negative) = count^ns_exponent / sum(count^ns_exponent)."""
        p = self.counts.astype(np.float64) ** ns_exponent
        return p / p.sum()

    def cum_table(self, ns_exponent=0.75, domain=2 ** 31 - 1):
        """gensim's cumulative table: cum[i] = round(domain * sum_{j<=i} p_j), so that a
        uniform integer r in [0, cum[-1]) picks word searchsorted(cum, r, 'right')."""
        cum = np.round(np.cumsum(self.negative_distribution(ns_exponent)) * domain)
        cum[-1] = domain
        return cum.astype(np.int64)


def draw_negatives(cum_table, shape, rng):
    """Word indices drawn from the negative-sampling distribution (see cum_table)."""
    r = rng.integers(0, cum_table[-1], size=shape, dtype=np.int64)
    return np.searchsorted(cum_table, r, side="right")


def encode_batches(corpus, vocab, batch_words):
    """Yield (list of int32 index arrays, raw word count) per batch of at least
    `batch_words` raw tokens (the last may be smaller): out-of-vocabulary tokens are
    dropped, sentences kept apart."""
    k2i = vocab.key_to_index
    get = k2i.get
    batch, raw = [], 0
    for n, sentence in enumerate(corpus):
        _check_tokens(sentence, f"sentence {n}")
        for i in range(0, max(len(sentence), 1), MAX_SENTENCE_LENGTH):
            part = sentence[i:i + MAX_SENTENCE_LENGTH]
            ids = [j for j in map(get, part) if j is not None]
            if ids:
                batch.append(np.array(ids, dtype=np.int64))
            raw += len(part)
        if raw >= batch_words:
            yield batch, raw
            batch, raw = [], 0
    if raw:
        yield batch, raw


def subsample(sentences, keep_prob, rng):
    """The flat index array of the words kept (each with P = keep_prob[word]) and the
    sentence number of each, as (words, sentence_ids)."""
    if not sentences:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    words = np.concatenate(sentences)
    sid = np.repeat(np.arange(len(sentences)), [len(s) for s in sentences])
    keep = rng.random(words.shape[0]) < keep_prob[words]
    return words[keep], sid[keep]


def reduced_windows(n, window, rng):
    """The reduced window b of each of n center words: uniform integers in [0, window)."""
    return rng.integers(0, window, size=n)


def window_offsets(words, sid, window, b):
    """For each offset o in (-window..-1, 1..window), the mask of centers whose shrunk
    window (window - b) reaches o inside their sentence. Yields (o, mask)."""
    n = words.shape[0]
    eff = window - b
    for o in range(1, window + 1):
        if o >= n:
            break
        reach = eff >= o
        right = np.zeros(n, dtype=bool)
        right[:n - o] = (sid[o:] == sid[:n - o]) & reach[:n - o]
        left = np.zeros(n, dtype=bool)
        left[o:] = (sid[:n - o] == sid[o:]) & reach[o:]
        yield o, right
        yield -o, left


def skipgram_pairs(words, sid, window, b):
    """(center, context) index arrays of the skip-gram examples: every context word
    within the center's shrunk window, ordered by center position then offset
    (-window..window), as the original loop visits them."""
    n = words.shape[0]
    centers, contexts, positions = [], [], []
    for o, mask in window_offsets(words, sid, window, b):
        pos = np.flatnonzero(mask)
        positions.append(pos * (2 * window + 1) + (o + window))
        centers.append(words[pos])
        contexts.append(words[pos + o])
    if not positions:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    order = np.argsort(np.concatenate(positions), kind="stable")
    return np.concatenate(centers)[order], np.concatenate(contexts)[order]


def cbow_examples(words, sid, window, b, pad):
    """(center (m,), context (m, 2*window)) for CBOW: the context words of each center
    within its shrunk window, padded with `pad`; centers without context are dropped."""
    n = words.shape[0]
    ctx = np.full((n, 2 * window), pad, dtype=np.int64)
    for o, mask in window_offsets(words, sid, window, b):
        col = o + window if o < 0 else o + window - 1
        pos = np.flatnonzero(mask)
        ctx[pos, col] = words[pos + o]
    has = (ctx != pad).any(axis=1)
    return words[has], ctx[has]

