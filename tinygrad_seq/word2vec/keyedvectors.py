"""KeyedVectors: word vectors on the host (NumPy arrays, as gensim's), their look-ups
(similarity, most_similar, analogies, evaluation) and the word2vec C tool's file
formats.

Formats (those of word2vec.c, read by gensim and other tools):

- text:   a header line "<count> <dim>\\n", then per word "<word> <v1> <v2> ... <vD>\\n"
          (values written as the shortest decimal that reads back to the same float32;
          the reader also takes the C tool's "%f " with a trailing space);
- binary: the same header line, then per word "<word> " followed by D little-endian
          float32 values (4 D bytes) and "\\n" (the C tool's layout; the reader also
          accepts vectors without the newline).

Evaluation: ``evaluate_word_pairs`` returns ((pearson, p), (spearman, p), oov_ratio in
percent) as gensim; the p-values come from scipy when it is installed, else they are NaN.
"""
import math
import numbers
import os
import re
import struct
import zipfile

import numpy as np

from .. import io as _io
from ..autograd import Tensor
from ..errors import SerializationError
from ..io import _atomic_write

KV_FORMAT, KV_VERSION = "tinygrad_seq.keyedvectors", 1
KV_FIELDS = ("format", "version", "index_to_key", "vectors", "counts")


class KeyedVectors:
    """Vectors keyed by words: ``vectors`` (V, D) float32, ``index_to_key``,
    ``key_to_index``; ``wv[word]`` gives a NumPy array (a KeyError naming the word when
    it is unknown), ``wv[[w1, w2]]`` a (2, D) array."""

    def __init__(self, vectors, index_to_key, counts=None):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(index_to_key):
            raise ValueError(f"KeyedVectors: vectors of shape {vectors.shape} for "
                             f"{len(index_to_key)} keys")
        self.vectors = vectors
        self.index_to_key = list(index_to_key)
        self.key_to_index = {k: i for i, k in enumerate(self.index_to_key)}
        if len(self.key_to_index) != len(self.index_to_key):
            raise ValueError("KeyedVectors: duplicate keys")
        self.counts = None if counts is None else np.asarray(counts)
        self._norms = None

    @property
    def vector_size(self):
        return self.vectors.shape[1]

    def __len__(self):
        return len(self.index_to_key)

    def __contains__(self, key):
        return key in self.key_to_index

    def has_index_for(self, key):
        return key in self.key_to_index

    def get_index(self, key):
        try:
            return self.key_to_index[key]
        except KeyError:
            raise KeyError(f"Key '{key}' not present in vocabulary") from None

    def get_vector(self, key, norm=False):
        i = self.get_index(key)
        return self.unit_vectors()[i].copy() if norm else self.vectors[i].copy()

    def __getitem__(self, key):
        if isinstance(key, (list, tuple)):
            return np.stack([self.get_vector(k) for k in key]) if key else \
                np.zeros((0, self.vector_size), dtype=np.float32)
        return self.get_vector(key)

    def unit_vectors(self):
        """The vectors scaled to unit length (zero vectors stay zero); cached."""
        if self._norms is None or self._norms.shape[0] != self.vectors.shape[0]:
            n = np.linalg.norm(self.vectors, axis=1, keepdims=True)
            self._norms = self.vectors / np.where(n > 0, n, 1)
        return self._norms

    def fill_norms(self, force=False):
        """Compute (and cache) the vectors' lengths and unit vectors; `force` recomputes
        them (after the vectors were changed in place)."""
        if force:
            self._norms = None
        self.unit_vectors()

    @property
    def norms(self):
        """The L2 length of each vector, float32 (V,), as gensim's after fill_norms."""
        return np.linalg.norm(self.vectors, axis=1).astype(np.float32)

    def get_normed_vectors(self):
        """The vectors scaled to unit length, (V, D) float32 (a copy), as gensim's."""
        return self.unit_vectors().copy()

    def _replace(self, vectors, index_to_key, counts=None):
        """New content for this object (the model's wv after training or a vocabulary
        update): one KeyedVectors for a model's life, as gensim's."""
        self.vectors = np.asarray(vectors, dtype=np.float32)
        if index_to_key != self.index_to_key:
            self.index_to_key = list(index_to_key)
            self.key_to_index = {k: i for i, k in enumerate(self.index_to_key)}
        self.counts = None if counts is None else np.asarray(counts)
        self._norms = None

    def get_mean_vector(self, keys, weights=None, pre_normalize=True, post_normalize=False,
                        ignore_missing=True):
        """The weighted mean (sum of weight * vector over the keys used, divided by the sum
        of their weights) of the vectors of `keys` (words or vectors; unit vectors
        with `pre_normalize`), scaled to unit length with `post_normalize`, as gensim's.
        Unknown words are skipped (``ignore_missing``) or raise KeyError; ValueError if
        nothing is left."""
        if isinstance(keys, str):
            keys = [keys]
        weights = np.ones(len(keys)) if weights is None else np.asarray(weights, np.float64)
        if len(weights) != len(keys):
            raise ValueError(f"get_mean_vector: {len(weights)} weights for {len(keys)} keys")
        total, n, wsum = np.zeros(self.vector_size, np.float64), 0, 0.0
        for key, w in zip(keys, weights):
            if isinstance(key, str):
                if key not in self.key_to_index:
                    if ignore_missing:
                        continue
                    raise KeyError(f"Key '{key}' not present in vocabulary")
                i = self.key_to_index[key]
                v = self.unit_vectors()[i] if pre_normalize else self.vectors[i]
            else:
                v = np.asarray(key, np.float32)
            total += w * v
            n += 1
            wsum += w
        if n == 0:
            raise ValueError("get_mean_vector: none of the keys is in the vocabulary")
        mean = (total / (wsum if wsum else 1.0)).astype(np.float32)
        if post_normalize:
            norm = np.linalg.norm(mean)
            mean = mean / norm if norm > 0 else mean
        return mean

    def get_vecattr(self, key, attr):
        """A per-word attribute; gensim's word2vec sets 'count'."""
        if attr != "count" or self.counts is None:
            raise KeyError(f"get_vecattr: no attribute {attr!r} (these vectors hold "
                           f"{'no counts' if self.counts is None else 'only count'})")
        return self.counts[self.get_index(key)]

    # ---- distances and ranks
    def distance(self, w1, w2):
        """Cosine distance, 1 - similarity(w1, w2) (np.float32, as gensim)."""
        return np.float32(1.0) - np.float32(self.similarity(w1, w2))

    def distances(self, word_or_vector, other_words=()):
        """Cosine distances (float32 array) from a word or vector to `other_words`, or to
        every word when none are given (gensim's)."""
        v, _ = self._query_vector(word_or_vector)
        u = self.unit_vectors()
        if other_words:
            u = u[[self.get_index(w) for w in other_words]]
        return (1.0 - u @ v).astype(np.float32)

    def similar_by_word(self, word, topn=10, restrict_vocab=None):
        """most_similar(positive=[word]) (gensim's)."""
        return self.most_similar(positive=[word], topn=topn, restrict_vocab=restrict_vocab)

    def similar_by_vector(self, vector, topn=10, restrict_vocab=None):
        """The topn words closest to a vector by cosine (the vector's own word, if any,
        included), as gensim's."""
        return self.most_similar(positive=[vector], topn=topn, restrict_vocab=restrict_vocab)

    def similar_by_key(self, key, topn=10, restrict_vocab=None):
        return self.similar_by_word(key, topn, restrict_vocab)

    def closer_than(self, key1, key2):
        """The words closer to key1 than key2 is (by cosine), closest first."""
        u = self.unit_vectors()
        i1, i2 = self.get_index(key1), self.get_index(key2)
        sims = u @ u[i1]
        d = sims[i2]
        idx = [i for i in np.argsort(-sims, kind="stable") if i != i1 and sims[i] > d]
        return [self.index_to_key[i] for i in idx]

    def words_closer_than(self, word1, word2):
        return self.closer_than(word1, word2)

    def rank(self, key1, key2):
        """1 + the number of words closer to key1 than key2 is (gensim's)."""
        return len(self.closer_than(key1, key2)) + 1

    # ---- similarity
    def similarity(self, w1, w2):
        """Cosine similarity of two words."""
        u = self.unit_vectors()
        return np.float32(np.dot(u[self.get_index(w1)], u[self.get_index(w2)]))

    def n_similarity(self, ws1, ws2):
        if not ws1 or not ws2:
            raise ValueError("n_similarity: both word lists must be non-empty")
        a = self.unit_vectors()[[self.get_index(w) for w in ws1]].mean(axis=0)
        b = self.unit_vectors()[[self.get_index(w) for w in ws2]].mean(axis=0)
        return np.float32(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))

    def _terms(self, positive, negative):
        if isinstance(positive, str):
            positive = [positive]
        if isinstance(negative, str):
            negative = [negative]
        terms = [(w, 1.0) for w in (positive or [])] + [(w, -1.0) for w in (negative or [])]
        if not terms:
            raise ValueError("most_similar: give at least one positive or negative word")
        return terms

    def _query_vector(self, w):
        if isinstance(w, str):
            return self.unit_vectors()[self.get_index(w)], self.get_index(w)
        v = np.asarray(w, dtype=np.float32)
        n = np.linalg.norm(v)
        return (v / n if n > 0 else v), None

    def most_similar(self, positive=None, negative=None, topn=10, restrict_vocab=None):
        """The topn words closest to mean(+unit(p) ... -unit(n)) by cosine (3CosAdd),
        excluding the query words; [(word, similarity)] best first. Words may also be
        vectors. ``topn=None`` returns the similarity array of every word."""
        terms = self._terms(positive, negative)
        vecs, exclude = [], set()
        for w, sign in terms:
            v, i = self._query_vector(w)
            vecs.append(sign * v)
            if i is not None:
                exclude.add(i)
        mean = np.mean(vecs, axis=0)
        n = np.linalg.norm(mean)
        mean = mean / n if n > 0 else mean
        u = self.unit_vectors()
        limit = len(self) if restrict_vocab is None else min(int(restrict_vocab), len(self))
        dists = u[:limit] @ mean
        if topn is None:
            return dists
        return self._top(dists, exclude, topn)

    def _top(self, scores, exclude, topn):
        # gensim's rule: topn=None gives every score (handled by the callers), an int
        # below 1 an empty list
        if not isinstance(topn, numbers.Integral) or isinstance(topn, bool):
            raise TypeError(f"most_similar: topn must be an int or None, got "
                            f"{type(topn).__name__} {topn!r}")
        if topn < 1:
            return []
        k = min(len(scores), topn + len(exclude))
        if k <= 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        best = best[np.lexsort((best, -scores[best]))]
        return [(self.index_to_key[i], float(scores[i])) for i in best if i not in exclude][:topn]

    def most_similar_cosmul(self, positive=None, negative=None, topn=10, restrict_vocab=None):
        """3CosMul (Levy and Goldberg 2014): prod (1 + cos(w, p)) / 2 over positives
        divided by prod (1 + cos(w, n)) / 2 + 1e-6 over negatives, as gensim."""
        terms = self._terms(positive, negative)
        u = self.unit_vectors()
        limit = len(self) if restrict_vocab is None else min(int(restrict_vocab), len(self))
        num, den, exclude = np.ones(limit), np.ones(limit), set()
        for w, sign in terms:
            v, i = self._query_vector(w)
            if i is not None:
                exclude.add(i)
            sim = (1 + u[:limit] @ v) / 2
            if sign > 0:
                num = num * sim
            else:
                den = den * sim
        scores = num / (den + 1e-6)
        if topn is None:
            return scores
        return self._top(scores, exclude, topn)

    def doesnt_match(self, words):
        """The word furthest from the mean of the words' unit vectors (unknown words
        are ignored, as gensim; ValueError if none is known)."""
        known = [w for w in words if w in self.key_to_index]
        if not known:
            raise ValueError(f"doesnt_match: none of the words {list(words)!r} is in the vocabulary")
        u = self.unit_vectors()[[self.key_to_index[w] for w in known]]
        mean = u.mean(axis=0)
        mean = mean / (np.linalg.norm(mean) or 1.0)
        return known[int(np.argmin(u @ mean))]

    # ---- evaluation
    def _ok_vocab(self, restrict_vocab, case_insensitive):
        ok = self.index_to_key[:restrict_vocab]
        if case_insensitive:
            d = {}
            for w in reversed(ok):       # the most frequent spelling wins
                d[w.upper()] = self.key_to_index[w]
            return d
        return {w: self.key_to_index[w] for w in ok}

    def evaluate_word_pairs(self, pairs, delimiter="\t", encoding="utf8", restrict_vocab=300000,
                            case_insensitive=True, dummy4unknown=False):
        """Correlation of the model's cosine similarities with human scores on a file of
        "word1<TAB>word2<TAB>score" lines (WordSim-353's format; lines starting with '#'
        are skipped). Pairs with a word outside the first `restrict_vocab` words are
        left out (or scored 0 with dummy4unknown). Returns ((pearson, p), (spearman, p),
        oov_ratio) with oov_ratio in percent, as gensim; p-values are NaN without scipy."""
        ok = self._ok_vocab(restrict_vocab, case_insensitive)
        u = self.unit_vectors()
        gold, model, oov = [], [], 0
        with open(pairs, encoding=encoding) as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip() or line.startswith("#"):
                    continue
                parts = line.rstrip("\n").split(delimiter)
                if len(parts) < 3:
                    raise ValueError(f"{pairs}: line {lineno}: expected word1{delimiter!r}word2"
                                     f"{delimiter!r}score, got {line.rstrip()!r}")
                a, b = parts[0], parts[1]
                try:
                    score = float(parts[2])
                except ValueError:
                    raise ValueError(f"{pairs}: line {lineno}: score {parts[2]!r} is not a "
                                     "number") from None
                if case_insensitive:
                    a, b = a.upper(), b.upper()
                if a not in ok or b not in ok:
                    oov += 1
                    if dummy4unknown:
                        gold.append(score)
                        model.append(0.0)
                    continue
                gold.append(score)
                model.append(float(u[ok[a]] @ u[ok[b]]))
        total = len(gold) + (0 if dummy4unknown else oov)
        oov_ratio = float(oov) / total * 100 if total else float("nan")
        return pearson(gold, model), spearman(gold, model), oov_ratio

    def evaluate_word_analogies(self, analogies, restrict_vocab=300000, case_insensitive=True,
                                dummy4unknown=False):
        """Accuracy on analogy questions "a b c d" (a : b :: c : d) in sections started by
        ': name' lines (Google's questions-words.txt). The answer is the best of
        most_similar(positive=[b, c], negative=[a]) among the first `restrict_vocab`
        words, excluding a, b, c. Questions with an unknown word are skipped (or counted
        wrong with dummy4unknown). Returns (score, sections): sections a list of
        {'section', 'correct', 'incorrect'} dicts with a final 'Total accuracy' one."""
        ok = self._ok_vocab(restrict_vocab, case_insensitive)
        u = self.unit_vectors()
        limit = min(restrict_vocab, len(self))
        sections, section = [], None
        with open(analogies, encoding="utf8") as f:
            for lineno, line in enumerate(f, 1):
                if line.startswith(":"):
                    if section is not None:
                        sections.append(section)
                    section = {"section": line[1:].strip(), "correct": [], "incorrect": []}
                    continue
                if not line.strip():
                    continue
                if section is None:
                    raise ValueError(f"{analogies}: line {lineno}: a question before the first "
                                     "': section' line")
                words = line.split()
                if len(words) != 4:
                    raise ValueError(f"{analogies}: line {lineno}: expected 4 words, got "
                                     f"{len(words)}: {line.rstrip()!r}")
                if case_insensitive:
                    words = [w.upper() for w in words]
                a, b, c, expected = words
                if not all(w in ok for w in words):
                    if dummy4unknown:
                        section["incorrect"].append((a, b, c, expected))
                    continue
                ia, ib, ic = ok[a], ok[b], ok[c]
                mean = u[ib] + u[ic] - u[ia]
                mean = mean / (np.linalg.norm(mean) or 1.0)
                scores = u[:limit] @ mean
                scores[[ia, ib, ic]] = -np.inf
                best = int(np.argmax(scores))
                guess = self.index_to_key[best].upper() if case_insensitive else self.index_to_key[best]
                (section["correct"] if guess == expected else section["incorrect"]).append(
                    (a, b, c, expected))
        if section is not None:
            sections.append(section)
        total = {"section": "Total accuracy",
                 "correct": [q for s in sections for q in s["correct"]],
                 "incorrect": [q for s in sections for q in s["incorrect"]]}
        n = len(total["correct"]) + len(total["incorrect"])
        score = len(total["correct"]) / n if n else 0.0
        return score, sections + [total]

    # ---- our own format (gensim's KeyedVectors.save / KeyedVectors.load)
    def save(self, fname):
        """Save the keys, vectors and counts with ``ts.save`` (a zip of JSON and .npy
        members, no pickle; atomic), in format version 1 of "tinygrad_seq.keyedvectors".
        ``KeyedVectors.load(fname, mmap='r')`` memory-maps the vectors from it."""
        save_obj = {"format": KV_FORMAT, "version": KV_VERSION,
                    "index_to_key": list(self.index_to_key), "vectors": self.vectors,
                    "counts": None if self.counts is None else np.asarray(self.counts)}
        _io.save(save_obj, fname)

    @classmethod
    def load(cls, fname, mmap=None):
        """Vectors saved by ``save`` (also ``model.wv.save``). ``mmap=None`` reads them
        (every member's CRC checked); ``mmap='r'`` maps the arrays of the file read-only
        (numpy.memmap; the vectors are read from disk as they are used, their CRC is not
        checked), as gensim's. Every field is checked: a file that is not an intact
        KeyedVectors save raises ``ts.SerializationError`` naming the file and the field.
        A newer format version is refused."""
        if mmap not in (None, "r"):
            raise ValueError(f"KeyedVectors.load: mmap must be None or 'r' (read-only), got "
                             f"{mmap!r}")
        if mmap is not None and hasattr(fname, "read"):
            raise TypeError("KeyedVectors.load: mmap='r' needs a path, not a file object")
        name = fname if hasattr(fname, "read") else os.fsdecode(fname)
        obj = _io.load(fname, device="cpu") if mmap is None else _load_mapped(name)
        return cls(*_checked_kv(obj, getattr(name, "name", name)))

    # ---- word2vec formats
    def save_word2vec_format(self, fname, binary=False, write_header=True):
        """Write the word2vec C tool's text (binary=False) or binary format (see the
        module docstring). Keys must be non-empty and contain no whitespace. The write
        is atomic, as ``ts.save``'s: a temporary file next to `fname`, renamed over it
        once complete, so an interrupted save leaves the previous file intact."""
        for k in self.index_to_key:
            if not isinstance(k, str) or not k or any(ch.isspace() for ch in k) or "\0" in k:
                raise ValueError(f"save_word2vec_format: key {k!r} cannot be written (keys "
                                 "must be non-empty strings without whitespace or NUL)")
        if not isinstance(fname, (str, bytes, os.PathLike)):
            raise TypeError(f"save_word2vec_format: fname must be a path, got "
                            f"{type(fname).__name__}")
        _atomic_write(os.fsdecode(fname), lambda f: self._write_word2vec(f, binary, write_header))

    def _write_word2vec(self, f, binary, write_header):
        V, D = self.vectors.shape
        if write_header:
            f.write(f"{V} {D}\n".encode("utf8"))
        if binary:
            data = self.vectors.astype("<f4")
            for k, row in zip(self.index_to_key, data):
                f.write(k.encode("utf8") + b" " + row.tobytes() + b"\n")
        else:
            for k, row in zip(self.index_to_key, self.vectors):
                f.write((k + " " + " ".join(map(str, row)) + "\n").encode("utf8"))

    @classmethod
    def load_word2vec_format(cls, fname, binary=False, encoding="utf8", limit=None):
        """Read a file in the word2vec C tool's text or binary format; ``limit``: read
        at most that many vectors (None, or 0 as in gensim, reads them all). A malformed
        file raises ValueError naming the file, the line (text) or the entry (binary)
        and the reason: a header whose count and dimension do not fit in the file's
        size (nothing is allocated from the header alone), a text file whose last line
        does not end with a newline (the writers always end one: the file was cut), a
        binary word holding NUL or whitespace (a wrong dimension in the header)."""
        if limit is not None and (not isinstance(limit, numbers.Integral)
                                  or isinstance(limit, bool)):
            raise TypeError(f"load_word2vec_format: limit must be an int or None, got "
                            f"{type(limit).__name__} {limit!r}")
        if limit is not None and limit < 0:
            raise ValueError(f"load_word2vec_format: limit must be >= 0 (or None), got {limit}")
        with open(fname, "rb") as f:
            count, dim = _read_header(f, fname, encoding)
            n = count if not limit else min(count, int(limit))
            read = _read_binary_vectors if binary else _read_text_vectors
            keys, vectors = read(f, fname, encoding, n, count, dim)
        if len(set(keys)) != len(keys):
            seen = set()
            dup = next(k for k in keys if k in seen or seen.add(k))
            raise ValueError(f"{fname}: the word {dup!r} appears twice")
        return cls(vectors, keys)

    @staticmethod
    def _decode(raw, fname, where, encoding):
        try:
            return bytes(raw).decode(encoding)
        except UnicodeDecodeError as e:
            raise ValueError(f"{fname}: {where}: not valid {encoding} ({e.reason})") from None


def _checked_kv(obj, name):
    """(vectors, index_to_key, counts) of a loaded KeyedVectors save, every field checked."""
    def fail(field, reason):
        return SerializationError(f"KeyedVectors.load: {name!r}: field {field}: {reason}")

    if not (isinstance(obj, dict) and obj.get("format") == KV_FORMAT):
        raise SerializationError(f"KeyedVectors.load: {name!r} is not a KeyedVectors save "
                                 "(written by KeyedVectors.save)")
    version = obj.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise fail("version", f"must be an int >= 1, got {version!r}")
    if version > KV_VERSION:
        raise fail("version", f"{version} is newer than this tinygrad_seq reads (up to "
                   f"{KV_VERSION}): update tinygrad_seq to load it")
    for field in KV_FIELDS:
        if field not in obj:
            raise fail(repr(field), "missing")
    unknown = [k for k in obj if k not in KV_FIELDS]
    if unknown:
        raise fail(repr(unknown[0]), f"unknown in a version {version} save")
    keys = obj["index_to_key"]
    if not isinstance(keys, list):
        raise fail("'index_to_key'", f"must be a list of str, got {type(keys).__name__}")
    for i, k in enumerate(keys):
        if not isinstance(k, str):
            raise fail(f"index_to_key[{i}]", f"must be a str, got {k!r}")
    if len(set(keys)) != len(keys):
        raise fail("'index_to_key'", "holds a key twice")
    vectors = obj["vectors"]
    if not isinstance(vectors, Tensor):
        raise fail("'vectors'", f"must be an array, got {type(vectors).__name__}")
    vectors = vectors.array
    if vectors.dtype != np.float32 or vectors.ndim != 2 or vectors.shape[0] != len(keys) \
            or vectors.shape[1] < 1:
        raise fail("'vectors'", f"must be float32 of shape ({len(keys)}, D >= 1), got "
                   f"{vectors.dtype} of shape {vectors.shape}")
    counts = obj["counts"]
    if counts is not None:
        if not isinstance(counts, Tensor):
            raise fail("'counts'", f"must be an array or None, got {type(counts).__name__}")
        counts = np.asarray(counts.array)
        if counts.dtype.kind not in "iu" or counts.shape != (len(keys),):
            raise fail("'counts'", f"must be {len(keys)} integers, got {counts.dtype} of "
                       f"shape {counts.shape}")
    return vectors, keys, counts


class _MappedDecoder(_io._Decoder):
    """ts.load's decoder, mapping each array member read-only from the file instead of
    reading it (members are stored uncompressed, so an array's bytes lie in the file
    as they are). Everything else is checked as ts.load checks it."""

    def __init__(self, zf, name, fileobj):
        super().__init__(zf, name, "cpu")
        self.fileobj = fileobj

    def _read_array(self, member):
        try:
            info = self.zf.getinfo(member)
        except KeyError:
            raise self.fail(f"member {member!r} is missing (the structure refers to it)") from None
        with self.zf.open(info) as f:
            prefix = f.read(10)
            if len(prefix) < 10 or prefix[:6] != b"\x93NUMPY" or prefix[6:8] != b"\x01\x00":
                return super()._read_array(member)        # its own error message
            header_len = struct.unpack("<H", prefix[8:10])[0]
            header = f.read(header_len)
        dtype, shape, fortran = self._parse_header(member, header, header_len)
        count = math.prod(shape)
        if count == 0 or not dtype.isnative or \
                info.file_size != 10 + header_len + count * dtype.itemsize:
            return super()._read_array(member)            # small, or its own error message
        self.fileobj.seek(info.header_offset)
        local = self.fileobj.read(30)
        if len(local) != 30 or local[:4] != b"PK\x03\x04":
            raise self.fail(f"member {member!r}: bad local header")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        offset = info.header_offset + 30 + name_len + extra_len + 10 + header_len
        return np.memmap(self.fileobj, dtype=dtype, mode="r", offset=offset, shape=shape,
                         order="F" if fortran else "C")


def _load_mapped(path):
    """ts.load of `path` with its arrays memory-mapped (see _MappedDecoder)."""
    def fail(reason):
        return SerializationError(f"KeyedVectors.load: {path}: {reason}")

    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        try:
            zf = zipfile.ZipFile(f)
        except _io._ZIP_ERRORS + (ValueError, OSError) as e:
            raise fail(f"not a tinygrad_seq save ({e})") from None
        with zf:
            try:
                if _io.STRUCTURE not in zf.namelist():
                    raise fail(f"not a tinygrad_seq save (no {_io.STRUCTURE!r} member)")
                _io._check_members(zf, size, fail)
                doc = _io._read_structure(zf, fail)
                return _MappedDecoder(zf, path, f).decode(doc["object"], "obj")
            except SerializationError:
                raise
            except _io._ZIP_ERRORS + (ValueError, OSError) as e:  # corrupted or truncated
                raise fail(f"corrupted or truncated file ({type(e).__name__}: {e})") from None


def _is_float(x):
    try:
        float(x)
        return True
    except ValueError:
        return False



_HEADER = re.compile(rb"\s*(\d{1,19})[ \t]+(\d{1,19})\s*")
_WORD_BREAKERS = frozenset(b"\0\t\n\v\f\r ")     # never inside a word the writers write


def _read_header(f, fname, encoding):
    """(count, dim) from the header line: two decimal integers, dim >= 1."""
    header = f.readline(256)
    m = _HEADER.fullmatch(header)
    if m is None or not 1 <= int(m.group(2)) <= _MAX_DIM:
        raise ValueError(f"{fname}: line 1: the header must be '<count> <dim>' (a count >= 0 "
                         f"and a dimension from 1 to {_MAX_DIM}), got {header[:80]!r}")
    return int(m.group(1)), int(m.group(2))


# no real embedding comes near it; beyond it NumPy cannot even describe an empty table
# of that width (found by the fuzz suite: "0 10000000000000000000" and nothing else)
_MAX_DIM = 2 ** 31 - 1


def _bytes_left(f):
    return os.fstat(f.fileno()).st_size - f.tell()


def _vector_table(f, n, dim, min_entry_bytes):
    """The (rows, dim) float32 table for n vectors, with no more rows than the rest of
    the file can hold (each entry takes at least `min_entry_bytes`): a forged header
    count or dimension allocates nothing beyond what the file's size allows, and the
    reader then fails at the line where the file ends."""
    rows = min(n, _bytes_left(f) // min_entry_bytes)     # at most 2x the file's size
    return np.empty((rows, dim), dtype=np.float32)


def _stored(vectors, i, row):
    """vectors with row i set (grown if a file held more than its size promised)."""
    if i >= vectors.shape[0]:
        vectors = np.concatenate([vectors, np.empty((max(1, i), vectors.shape[1]),
                                                    dtype=np.float32)])
    vectors[i] = row
    return vectors


def _read_text_vectors(f, fname, encoding, n, count, dim):
    keys, vectors = [], _vector_table(f, n, dim, 2 + 2 * dim)    # "w 0 ... 0\n" at least
    for i in range(n):
        lineno = i + 2
        line = f.readline(_bytes_left(f) + 1)
        if not line:
            raise ValueError(f"{fname}: line {lineno}: the file ends after {i} vectors, the "
                             f"header announced {count}")
        if not line.endswith(b"\n"):
            raise ValueError(f"{fname}: line {lineno}: the file ends inside the line (no final "
                             "newline; the file was cut)")
        parts = KeyedVectors._decode(line, fname, f"line {lineno}", encoding).split()
        if len(parts) != dim + 1:
            raise ValueError(f"{fname}: line {lineno}: expected a word and {dim} numbers, got "
                             f"{len(parts)} fields")
        try:
            vectors = _stored(vectors, i, [float(x) for x in parts[1:]])
        except ValueError:
            bad = next(x for x in parts[1:] if not _is_float(x))
            raise ValueError(f"{fname}: line {lineno}: {bad!r} is not a number") from None
        keys.append(parts[0])
    return keys, vectors[:len(keys)]


def _read_binary_word(f, fname, i, count, width):
    """The bytes of entry i's word: up to the space, after the newline that may end the
    previous vector."""
    word = bytearray()
    while True:
        ch = f.read(1)
        if ch == b"":
            raise ValueError(f"{fname}: entry {i + 1} (of {count}): the file ends inside a "
                             f"word; expected '<word> ' then {width} bytes")
        if ch == b" ":
            break
        if ch == b"\n" and not word:
            continue
        if ch[0] in _WORD_BREAKERS or len(word) >= 4096:
            raise ValueError(f"{fname}: entry {i + 1} (of {count}): byte {ch!r} after "
                             f"{bytes(word)[:40]!r} cannot be in a word (is the dimension in "
                             "the header right?)" if ch[0] in _WORD_BREAKERS else
                             f"{fname}: entry {i + 1} (of {count}): a word of over 4096 bytes "
                             "(is the dimension in the header right?)")
        word += ch
    if not word:
        raise ValueError(f"{fname}: entry {i + 1} (of {count}): empty word")
    return word


def _read_binary_vectors(f, fname, encoding, n, count, dim):
    keys, width = [], 4 * dim
    vectors = _vector_table(f, n, dim, 2 + width)                   # "w " and the floats
    for i in range(n):
        word = _read_binary_word(f, fname, i, count, width)
        raw = f.read(min(width, _bytes_left(f)))     # never a buffer the file cannot fill
        if len(raw) != width:
            raise ValueError(f"{fname}: entry {i + 1} (of {count}, word {bytes(word)[:40]!r}): "
                             f"expected {width} bytes of float32 values, the file ends after "
                             f"{len(raw)}")
        keys.append(KeyedVectors._decode(word, fname, f"entry {i + 1}", encoding))
        vectors = _stored(vectors, i, np.frombuffer(raw, dtype="<f4"))
    return keys, vectors[:len(keys)]

# ---- correlations (no scipy needed; p-values from scipy when present)

def _rank(x):
    """Ranks 1..n with ties given their average rank (as scipy.stats.rankdata)."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=np.float64)
    xs = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and xs[j + 1] == xs[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _r(x, y):
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) < 2:
        return float("nan")
    x, y = x - x.mean(), y - y.mean()
    d = math.sqrt(float(x @ x) * float(y @ y))
    return float(x @ y) / d if d > 0 else float("nan")


def pearson(x, y):
    """(Pearson's r, two-sided p-value) ; p is NaN without scipy."""
    r = _r(x, y)
    return r, _pvalue("pearsonr", x, y)


def spearman(x, y):
    """(Spearman's rho (Pearson's r of the tie-averaged ranks), p-value or NaN)."""
    rho = _r(_rank(x), _rank(y)) if len(x) >= 2 else float("nan")
    return rho, _pvalue("spearmanr", x, y)


def _pvalue(name, x, y):
    if len(x) < 3:
        return float("nan")
    try:
        from scipy import stats
    except Exception:
        return float("nan")
    try:
        return float(getattr(stats, name)(x, y)[1])
    except Exception:
        return float("nan")

