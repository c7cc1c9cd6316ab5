"""Checking what ``Word2Vec.load`` read: every field of a save, for the file's format
version, before any of it is used. A file that ``ts.load`` reads but that is not an
intact Word2Vec save (a missing or unknown field, a setting of the wrong type, counts
that do not match the vocabulary, tables of the wrong shape, a generator state numpy
refuses) raises ``ts.SerializationError`` naming the file and the field, instead of a
KeyError now or a NumPy error in the middle of training later.

Versions: 1 (the first), 2 (adds the setting ``max_pair_repeats``), 3 (adds the
settings ``hs``, ``workers``, ``compute_loss``, ``max_final_vocab``, ``sorted_vocab``,
``shrink_windows`` and the fields ``corpus_count`` and ``syn1``: hierarchical softmax's
table, (V, D), or (0, D) without hs). Older versions load, what they lack taking its
default; a newer version is refused."""
import os

import numpy as np

from ..autograd import Tensor
from ..errors import SerializationError
from .corpus import Vocabulary
from .settings import FORMAT_VERSION, SETTING_CHECKS, SETTINGS_OF_VERSION, check_objectives

FORMAT = "tinygrad_seq.word2vec"
FIELDS = ("format", "version", "settings", "index_to_key", "counts", "total_words", "syn0",
          "syn1neg", "train_count", "rng")
FIELDS_OF_VERSION = {1: FIELDS, 2: FIELDS, 3: FIELDS + ("corpus_count", "syn1")}


def file_name(path):
    """The name to show for a path or an open file."""
    if hasattr(path, "read"):
        return getattr(path, "name", type(path).__name__)
    try:
        return os.fsdecode(path)
    except TypeError:
        return repr(path)


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


class SavedChecks:
    """Checks of the fields that every word-vector save holds (arrays, the vocabulary,
    the generator state), each failing with a SerializationError that names the loader
    (``LOADER``), the file and the field. Word2Vec's and GloVe's loaders build on it."""
    LOADER = "load"

    def fail(self, field, reason):
        return SerializationError(f"{self.LOADER}: {self.name!r}: field {field}: {reason}")

    def _array(self, value, field):
        """The host array of a saved tensor; `field` as the message shows it."""
        if not isinstance(value, Tensor):
            raise self.fail(field, f"must be an array, got {type(value).__name__}")
        return np.asarray(value.numpy())

    def _vocabulary(self, index_to_key, counts, total_words, corpus_count=0):
        if not isinstance(index_to_key, list) or not index_to_key:
            raise self.fail("'index_to_key'", "must be a non-empty list of words")
        for i, key in enumerate(index_to_key):
            if not isinstance(key, str) or not key:
                raise self.fail(f"index_to_key[{i}]", f"must be a non-empty str, got {key!r}")
        if len(set(index_to_key)) != len(index_to_key):
            raise self.fail("'index_to_key'", "holds a word twice")
        counts = self._array(counts, "'counts'")
        if counts.dtype.kind not in "iu" or counts.shape != (len(index_to_key),):
            raise self.fail("'counts'", f"must be {len(index_to_key)} integers (one per word), "
                            f"got {counts.dtype} of shape {counts.shape}")
        if (counts < 1).any():
            raise self.fail("'counts'", "must all be >= 1")
        if not _is_int(total_words) or total_words < int(counts.sum()):
            raise self.fail("'total_words'", f"must be an int >= the sum of the counts "
                            f"({int(counts.sum())}), got {total_words!r}")
        return Vocabulary(index_to_key, counts, total_words, corpus_count)


class SavedModel(SavedChecks):
    """The checked content of a save: ``settings`` (for the constructor), ``vocabulary``,
    ``syn0``, ``syn1neg``, ``syn1`` (host arrays; syn1 None without hs), ``train_count``
    and ``rng`` (a generator state)."""
    LOADER = "Word2Vec.load"

    def __init__(self, obj, name):
        self.name = name
        if not (isinstance(obj, dict) and obj.get("format") == FORMAT):
            raise SerializationError(f"Word2Vec.load: {name!r} is a tinygrad_seq save but not a "
                                     "Word2Vec model (saved with model.save)")
        self.version = self._version(obj.get("version"))
        self._fields_present(obj)
        self.settings = self._settings(obj["settings"])
        corpus_count = obj.get("corpus_count", 0)
        if not _is_int(corpus_count) or corpus_count < 0:
            raise self.fail("'corpus_count'", f"must be an int >= 0, got {corpus_count!r}")
        self.vocabulary = self._vocabulary(obj["index_to_key"], obj["counts"], obj["total_words"],
                                           corpus_count)
        V, D = len(self.vocabulary), self.settings["vector_size"]
        self.syn0 = self._table(obj["syn0"], "syn0", (V + 1, D))
        self.syn1neg = self._table(obj["syn1neg"], "syn1neg", (V, D))
        hs = self.settings.get("hs", 0)
        self.syn1 = None
        if "syn1" in obj:
            syn1 = self._table(obj["syn1"], "syn1", (V if hs else 0, D))
            self.syn1 = syn1 if hs else None
        self.train_count = obj["train_count"]
        if not _is_int(self.train_count) or self.train_count < 0:
            raise self.fail("train_count", f"must be an int >= 0, got {self.train_count!r}")
        self.rng = self._rng_state(obj["rng"])

    def _version(self, version):
        if not _is_int(version) or version < 1:
            raise self.fail("version", f"must be an int >= 1, got {version!r}")
        if version > FORMAT_VERSION:
            raise self.fail("version", f"{version} is newer than this tinygrad_seq reads (up "
                            f"to {FORMAT_VERSION}): update tinygrad_seq to load it")
        return version

    def _fields_present(self, obj):
        fields = FIELDS_OF_VERSION[self.version]
        for field in fields:
            if field not in obj:
                raise self.fail(repr(field), "missing")
        unknown = [k for k in obj if k not in fields]
        if unknown:
            raise self.fail(repr(unknown[0]), f"unknown in a version {self.version} save")

    def _settings(self, settings):
        if not isinstance(settings, dict):
            raise self.fail("'settings'", f"must be a dict, got {type(settings).__name__}")
        expected = SETTINGS_OF_VERSION[self.version]
        for key in settings:
            if key not in expected:
                raise self.fail(f"settings[{key!r}]", f"unknown in a version {self.version} "
                                "save")
        checked = {}
        for key in expected:
            if key not in settings:
                raise self.fail(f"settings[{key!r}]", "missing")
            try:
                checked[key] = SETTING_CHECKS[key](key, settings[key])
            except (TypeError, ValueError) as e:
                raise self.fail(f"settings[{key!r}]", str(e)) from None
        try:
            check_objectives(checked.get("hs", 0), checked["negative"])
        except ValueError as e:
            raise self.fail("settings['negative']", str(e)) from None
        return checked

    def _table(self, value, field, shape):
        table = self._array(value, repr(field))
        if table.dtype != np.float32 or table.shape != shape:
            raise self.fail(repr(field), f"must be float32 of shape {shape} (the vocabulary and "
                            f"vector_size), got {table.dtype} of shape {table.shape}")
        return table

    def _rng_state(self, state):
        try:
            np.random.default_rng().bit_generator.state = state
        except (TypeError, ValueError, KeyError, OverflowError) as e:
            raise self.fail("'rng'", f"not a state of numpy's default generator ({e})") from None
        return state
