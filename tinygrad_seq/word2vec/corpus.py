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
import codecs
import os
from itertools import repeat

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
        return read_sentences(self.path, MAX_SENTENCE_LENGTH)


_CHUNK = 1 << 20      # bytes read at a time: a line of any length is read in bounded memory


def read_sentences(path, max_sentence_length, limit=None):
    """The token lists of a file of one sentence per line (utf-8, split on whitespace as
    str.split does), streamed in chunks of 1 MiB: a line longer than
    `max_sentence_length` tokens is given in pieces as soon as each piece is read, so a
    file without newlines takes no more memory than a short one. A byte that is not
    utf-8 raises ValueError naming the file, the line and the byte's offset in it."""
    new_decoder = codecs.getincrementaldecoder("utf-8")
    with open(path, "rb") as f:
        lineno = 0
        while limit is None or lineno < limit:
            raw = f.readline(_CHUNK)
            if not raw:
                return
            lineno += 1
            decoder, carry, pending, offset = new_decoder(), "", [], 0
            while True:
                end = raw.endswith(b"\n") or len(raw) < _CHUNK
                held = len(decoder.getstate()[0])      # bytes of a character cut in two
                try:
                    text = carry + decoder.decode(raw, final=end)
                except UnicodeDecodeError as e:
                    raise ValueError(f"word2vec: corpus_file {path!r}: line {lineno}: not "
                                     f"valid utf-8 ({e.reason} at byte {offset - held + e.start})"
                                     ) from None
                offset += len(raw)
                parts = text.split()
                carry = parts.pop() if parts and not end and not text[-1].isspace() else ""
                pending.extend(parts)
                while len(pending) >= max_sentence_length:
                    yield pending[:max_sentence_length]
                    pending = pending[max_sentence_length:]
                if end:
                    break
                raw = f.readline(_CHUNK)
                if not raw:                     # the file ends right after a full chunk
                    raw = b"\n"
            if pending:
                yield pending


class LineSentence(CorpusFile):
    """gensim's LineSentence: a file of one sentence per line (utf-8, whitespace
    tokens), streamed; lines are cut every `max_sentence_length` tokens, and `limit`
    reads only that many lines."""

    def __init__(self, source, max_sentence_length=MAX_SENTENCE_LENGTH, limit=None):
        super().__init__(source)
        if not isinstance(max_sentence_length, int) or max_sentence_length < 1:
            raise ValueError(f"LineSentence: max_sentence_length must be an int >= 1, got "
                             f"{max_sentence_length!r}")
        self.max_sentence_length, self.limit = max_sentence_length, limit

    def __iter__(self):
        return read_sentences(self.path, self.max_sentence_length, self.limit)


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


RULE_DEFAULT, RULE_DISCARD, RULE_KEEP = 0, 1, 2    # trim_rule's answers (gensim.utils' values)


def count_words(corpus, max_vocab_size=None):
    """(raw counts {word: count}, raw tokens, sentences) of `corpus`, streamed: memory
    grows with the distinct words, not with the corpus. With ``max_vocab_size``, whenever
    more distinct words are held the rarest are pruned as gensim does (words with count
    < 1, then < 2, ... are dropped during the scan)."""
    counts, total, min_reduce, n = {}, 0, 1, 0
    for n, sentence in enumerate(corpus, 1):
        if isinstance(sentence, str):
            _check_tokens(sentence, f"sentence {n - 1}")
        for w in sentence:
            counts[w] = counts.get(w, 0) + 1
        total += len(sentence)
        if max_vocab_size is not None and len(counts) > max_vocab_size:
            counts = {w: c for w, c in counts.items() if c >= min_reduce}
            min_reduce += 1
    return counts, total, n


def _keep(raw, min_count, trim_rule):
    """The (word, count) pairs of `raw` that survive min_count and trim_rule, in order."""
    kept = []
    for w, c in raw.items():
        rule = RULE_DEFAULT if trim_rule is None else trim_rule(w, c, min_count)
        if rule not in (RULE_DEFAULT, RULE_DISCARD, RULE_KEEP):
            raise ValueError(f"word2vec: trim_rule returned {rule!r} for {w!r}; expected "
                             "RULE_DEFAULT (0), RULE_DISCARD (1) or RULE_KEEP (2)")
        if rule == RULE_KEEP or (rule == RULE_DEFAULT and c >= min_count):
            kept.append((w, c))
    return kept


def effective_min_count(raw, min_count, max_final_vocab):
    """gensim's max_final_vocab: the smallest min_count (>= the given one) that keeps
    at most max_final_vocab words: one more than the count of the (max_final_vocab+1)-th
    most frequent word (ties go together, so fewer words may remain)."""
    min_count = max(min_count, 1)
    if max_final_vocab is None or len(raw) <= max_final_vocab:
        return min_count
    counts = sorted(raw.values(), reverse=True)
    return max(min_count, counts[max_final_vocab] + 1)


class Vocabulary:
    """Words kept for training: ``index_to_key`` by descending count, ties in order of
    first occurrence (gensim's order; ``sorted_vocab=0``: first-occurrence order),
    ``key_to_index``, ``counts`` (int64 array aligned with index_to_key),
    ``total_words`` (the raw tokens of the last corpus counted, in vocab or not: gensim's
    ``corpus_total_words``), ``corpus_count`` (its sentences) and ``retained_words``
    (the sum of ``counts``)."""

    def __init__(self, index_to_key, counts, total_words, corpus_count=0):
        self.index_to_key = list(index_to_key)
        self.key_to_index = {w: i for i, w in enumerate(self.index_to_key)}
        self.counts = np.asarray(counts, dtype=np.int64)
        self.total_words = int(total_words)
        self.corpus_count = int(corpus_count)
        self.retained_words = int(self.counts.sum())
        self._tree = None

    def __len__(self):
        return len(self.index_to_key)

    @classmethod
    def build(cls, corpus, min_count=5, max_vocab_size=None, trim_rule=None,
              max_final_vocab=None, sorted_vocab=1):
        """Count the tokens of `corpus` (an iterable of token lists, streamed) and keep
        the words of count >= min_count (raised by ``max_final_vocab``), as
        ``trim_rule(word, count, min_count)`` decides (RULE_KEEP / RULE_DISCARD /
        RULE_DEFAULT: the min_count test)."""
        raw, total, n = count_words(corpus, max_vocab_size)
        return cls.from_counts(raw, total, n, min_count, trim_rule, max_final_vocab, sorted_vocab)

    @classmethod
    def from_counts(cls, raw, total, corpus_count=0, min_count=5, trim_rule=None,
                    max_final_vocab=None, sorted_vocab=1):
        """The vocabulary of raw counts {word: count} (see ``build``)."""
        min_count = effective_min_count(raw, min_count, max_final_vocab)
        kept = _keep(raw, min_count, trim_rule)
        if sorted_vocab:
            kept.sort(key=lambda wc: -wc[1])   # stable: ties stay in first-occurrence order
        if not kept:
            if total == 0:
                raise ValueError("word2vec: the corpus is empty (no tokens); nothing to train on")
            raise ValueError(f"word2vec: empty vocabulary: none of the {len(raw)} distinct "
                             f"words of the corpus ({total} tokens) occurs min_count={min_count} "
                             "times; lower min_count or give a larger corpus")
        vocab = cls([w for w, _ in kept], [c for _, c in kept], total, corpus_count)
        vocab.effective_min_count = min_count
        return vocab

    def expanded(self, corpus, min_count=5, max_vocab_size=None, trim_rule=None):
        """The vocabulary after ``build_vocab(corpus, update=True)``, as gensim: the words
        already known keep their index and get the new counts added; new words of count
        >= min_count (or kept by trim_rule) are appended, most frequent first. The corpus
        totals become the new corpus's. Returns (vocabulary, number of new words)."""
        raw, total, n = count_words(corpus, max_vocab_size)
        counts = self.counts.copy()
        new = {}
        for w, c in raw.items():
            i = self.key_to_index.get(w)
            if i is None:
                new[w] = c
            else:
                counts[i] += c
        kept = sorted(_keep(new, max(min_count, 1), trim_rule), key=lambda wc: -wc[1])
        vocab = Vocabulary(self.index_to_key + [w for w, _ in kept],
                           list(counts) + [c for _, c in kept], total, n)
        vocab.effective_min_count = getattr(self, "effective_min_count", max(min_count, 1))
        return vocab, len(kept)

    # ---- hierarchical softmax
    def huffman_tree(self):
        """The Huffman tree of the counts, built as the word2vec C tool builds it (two
        queues: the leaves by descending count, taken from the rarest, and the inner
        nodes in order of creation; the smaller count goes first, a tie takes the inner
        node; the second node taken is the branch of code 1). Returns (points, codes,
        lengths): points (V, L) int64, the inner nodes (rows of syn1, 0..V-2; root V-2)
        from the root down to word i, padded with V-1 (syn1's unused last row); codes
        (V, L) int8, the branch taken at each (0 or 1, padded with 0); lengths (V,).
        Cached."""
        if self._tree is not None:
            return self._tree
        V = len(self)
        order = np.argsort(-self.counts, kind="stable")   # descending, as word2vec sorts
        count = np.concatenate([self.counts[order], np.full(max(V - 1, 0), np.iinfo(np.int64).max)])
        parent = np.zeros(2 * V, dtype=np.int64)
        branch = np.zeros(2 * V, dtype=np.int8)
        leaf, inner = V - 1, V          # next rarest leaf, next inner node to merge
        for a in range(V - 1):
            picked = []
            for _ in range(2):
                if leaf >= 0 and count[leaf] < count[inner]:
                    picked.append(leaf)
                    leaf -= 1
                else:
                    picked.append(inner)
                    inner += 1
            count[V + a] = count[picked[0]] + count[picked[1]]
            parent[picked[0]] = parent[picked[1]] = V + a
            branch[picked[1]] = 1
        paths = []
        for leaf_pos in range(V):
            nodes, bits, b = [], [], leaf_pos
            while b != 2 * V - 2 and V > 1:
                bits.append(branch[b])
                b = parent[b]
                nodes.append(b - V)         # inner node number: the row of syn1
            paths.append((nodes[::-1], bits[::-1]))
        L = max(1, max(len(p) for p, _ in paths))
        points = np.full((V, L), max(V - 1, 0), dtype=np.int64)
        codes = np.zeros((V, L), dtype=np.int8)
        lengths = np.zeros(V, dtype=np.int64)
        for leaf_pos, (nodes, bits) in enumerate(paths):
            w = order[leaf_pos]
            points[w, :len(nodes)] = nodes
            codes[w, :len(bits)] = bits
            lengths[w] = len(nodes)
        self._tree = points, codes, lengths
        return self._tree

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


def draw_negatives(cum_table, shape, rng, lookup=None):
    """Word indices drawn from the negative-sampling distribution (see cum_table): the
    word searchsorted(cum_table, r, 'right') of uniform integers r. With `lookup`
    (``negative_lookup(cum_table)``) the same words, faster: most r are answered by
    one read of a small table, the others by the search."""
    r = rng.integers(0, cum_table[-1], size=shape, dtype=np.int64)
    if lookup is None:
        return np.searchsorted(cum_table, r, side="right")
    direct, shift = lookup
    words = direct[r >> shift].astype(np.int64)
    miss = np.flatnonzero(words < 0)
    if miss.shape[0]:
        flat = words.reshape(-1)
        flat[miss] = np.searchsorted(cum_table, r.reshape(-1)[miss], side="right")
    return words


def negative_lookup(cum_table, bits=18):
    """The draws' shortcut: the integers r < 2^31 fall into 2^bits buckets of 2^(31 -
    bits) values (bucket r >> (31 - bits)); where a whole bucket gives one word
    (searchsorted is monotone in r, so its first and last values agree), direct[b] is
    that word, else -1 (at most one bucket per word boundary, so with V words at most
    V / 2^bits of the draws need the binary search). One read of a 1 MB table replaces
    a search of ~log2 V cache misses per draw. Returns (direct int32, shift)."""
    shift = 31 - bits
    start = np.arange(1 << bits, dtype=np.int64) << shift
    lo = np.searchsorted(cum_table, start, side="right")
    hi = np.searchsorted(cum_table, start + (1 << shift) - 1, side="right")
    return np.where(lo == hi, lo, -1).astype(np.int32), shift


def encode_batches(corpus, vocab, batch_words):
    """Yield (list of int64 index arrays, raw word count) per batch of at least
    `batch_words` raw tokens (the last may be smaller): out-of-vocabulary tokens are
    dropped, sentences kept apart."""
    for batch, raw, _ in encode_jobs(corpus, vocab, batch_words):
        yield batch, raw


def encode_jobs(corpus, vocab, batch_words):
    """``encode_batches`` with the number of sentences of each batch: (batch, raw words,
    sentences). Streams: one batch is held at a time."""
    get = vocab.key_to_index.get
    for tokens, lengths, raw, n_sent in token_jobs(corpus, batch_words):
        yield encode_tokens(tokens, lengths, get), raw, n_sent


def token_jobs(corpus, batch_words):
    """The jobs of `corpus` before encoding: (tokens of the job in one list, the
    length of each sentence piece, raw words, sentences), a job ending at the first
    sentence that brings it to `batch_words` raw tokens; sentences longer than
    MAX_SENTENCE_LENGTH are cut into pieces. ``workers > 1`` encodes in the workers
    (``encode_tokens``), so the thread reading the corpus does only this."""
    tokens, lengths, raw, n_sent = [], [], 0, 0
    for n, sentence in enumerate(corpus):
        if isinstance(sentence, str):
            _check_tokens(sentence, f"sentence {n}")
        size = len(sentence)
        if size <= MAX_SENTENCE_LENGTH:                # one piece: no copy of the list
            tokens.extend(sentence)
            lengths.append(size)
            raw += size
        else:
            for i in range(0, size, MAX_SENTENCE_LENGTH):
                part = sentence[i:i + MAX_SENTENCE_LENGTH]
                tokens.extend(part)
                lengths.append(len(part))
                raw += len(part)
        n_sent += 1
        if raw >= batch_words:
            yield tokens, lengths, raw, n_sent
            tokens, lengths, raw, n_sent = [], [], 0, 0
    if raw or n_sent:
        yield tokens, lengths, raw, n_sent


def encode_tokens(tokens, lengths, get):
    """The job's sentences (pieces of `lengths` tokens) as word indices, the
    out-of-vocabulary tokens dropped: one dictionary lookup per token, the rest on
    whole arrays (a job's worth, not a sentence's). Returns an ``EncodedJob``."""
    ids = np.fromiter(map(get, tokens, repeat(-1, len(tokens))), dtype=np.int64,
                      count=len(tokens))
    known = ids >= 0
    piece = np.repeat(np.arange(len(lengths)), lengths)
    return EncodedJob(ids[known], piece[known])


class EncodedJob:
    """A job's encoded sentences held flat: ``words`` (int64 word indices, sentence
    after sentence) and ``sid`` (the sentence of each word; equal for the words of one
    sentence, different between sentences). Training reads the flat arrays (no array
    per sentence to build and join again); iterating gives the sentences as arrays,
    the empty ones left out, as a list of them would."""

    def __init__(self, words, sid):
        self.words, self.sid = words, sid

    def sentences(self):
        if not self.words.shape[0]:
            return []
        cut = np.flatnonzero(self.sid[1:] != self.sid[:-1]) + 1
        return np.split(self.words, cut)

    def __iter__(self):
        return iter(self.sentences())

    def __len__(self):
        return 0 if not self.words.shape[0] else \
            int(np.count_nonzero(self.sid[1:] != self.sid[:-1])) + 1


def subsample(sentences, keep_prob, rng):
    """The flat index array of the words kept (each with P = keep_prob[word]) and the
    sentence number of each, as (words, sentence_ids). `sentences`: a list of index
    arrays or an ``EncodedJob`` (the same draws either way)."""
    if isinstance(sentences, EncodedJob):
        words, sid = sentences.words, sentences.sid
    elif sentences:
        words = np.concatenate(sentences)
        sid = np.repeat(np.arange(len(sentences)), [len(s) for s in sentences])
    else:
        words = np.zeros(0, dtype=np.int64)
    if not words.shape[0]:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
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

