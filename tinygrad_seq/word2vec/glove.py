"""GloVe (Pennington, Socher and Manning, 2014) on the framework.

Co-occurrence counts (host-side, sparse): out-of-vocabulary tokens are dropped, then
within each sentence every pair of words at distance 1 <= d <= window adds 1/d to
X[i, j] and to X[j, i] (a symmetric window, as the reference ``cooccur`` tool). The
nonzero entries are kept as COO arrays sorted by (row, column): ``rows``, ``cols``,
``values`` (float64).

Model: four ``nn.Embedding(sparse=True)`` tables, the word vectors W and context
vectors W~ (V, D) and the biases b, b~ (V, 1), all initialised uniform in
[-0.5/D, 0.5/D) as the reference ``glove`` tool. The loss is the weighted least
squares

    J = sum over nonzero X_ij of  f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij)^2,
    f(x) = min(1, (x / x_max)^alpha),

minimised over minibatches of ``batch_size`` nonzero entries (shuffled each epoch
with the model's generator): the loss of a minibatch is its part of J, autodiff gives
row-sparse gradients of the rows it used, and ``optim.Adagrad(lr=learning_rate,
initial_accumulator_value=1.0)`` updates only those rows (the accumulator starts at
1, as the reference tool's ``gradsq``). The word vectors, ``wv`` (the same
``KeyedVectors`` as Word2Vec's), are (W + W~) / 2.
"""
import math
import numbers
import time

from .. import backend, nn, optim
from ..creation import tensor
from ..errors import SerializationError
from ..io import load, save
from . import corpus as C
from .keyedvectors import KeyedVectors
from .saved import SavedChecks, file_name

_host = backend.xp("cpu")          # host arrays (NumPy), as the rest of word2vec's data code

FORMAT = "tinygrad_seq.word2vec.glove"
FORMAT_VERSION = 1
FIELDS = ("format", "version", "settings", "index_to_key", "counts", "total_words", "rows",
          "cols", "values", "tables", "accumulators", "step", "rng", "epochs_trained")
TABLES = ("w", "w_tilde", "b", "b_tilde")


# ---------------------------------------------------------------- settings

def _integer(low):
    def check(name, x):
        if not isinstance(x, numbers.Integral) or isinstance(x, bool):
            raise TypeError(f"GloVe: {name} must be an int, got {type(x).__name__} {x!r}")
        if x < low:
            raise ValueError(f"GloVe: {name} must be >= {low}, got {x!r}")
        return int(x)
    return check


def _positive(name, x):
    if not isinstance(x, numbers.Real) or isinstance(x, bool):
        raise TypeError(f"GloVe: {name} must be a number, got {type(x).__name__} {x!r}")
    x = float(x)
    if not math.isfinite(x) or x <= 0:
        raise ValueError(f"GloVe: {name} must be finite and > 0, got {x!r}")
    return x


SETTING_CHECKS = {"vector_size": _integer(1), "window": _integer(1), "min_count": _integer(0),
                  "x_max": _positive, "alpha": _positive, "epochs": _integer(0),
                  "learning_rate": _positive, "seed": _integer(0), "batch_size": _integer(1)}


# ---------------------------------------------------------------- co-occurrence counts

def _reduce(keys, weights):
    """Sum the weights of equal keys: (sorted unique keys, sums)."""
    unique, inverse = _host.unique(keys, return_inverse=True)
    return unique, _host.bincount(inverse.reshape(-1), weights=weights, minlength=unique.shape[0])


def cooccurrence(corpus, vocab, window, chunk_tokens=1 << 20):
    """The symmetric, 1/distance-weighted co-occurrence counts of `corpus` (token lists)
    over the words of `vocab`, as COO arrays (rows, cols, values) sorted by row then
    column: X[i, j] = sum over occurrences of word j at distance d <= window of word i
    in one sentence (out-of-vocabulary tokens removed first) of 1 / d."""
    V = len(vocab)
    index = vocab.key_to_index
    keys, sums = _host.zeros(0, dtype=_host.int64), _host.zeros(0, dtype=_host.float64)
    ids, sids = [], []

    def flush(keys, sums):
        flat = _host.asarray(ids, dtype=_host.int64)
        sid = _host.asarray(sids, dtype=_host.int64)
        parts, weights = [keys], [sums]
        for d in range(1, window + 1):
            if flat.shape[0] <= d:
                break
            same = sid[:-d] == sid[d:]
            a, b = flat[:-d][same], flat[d:][same]
            w = _host.full(a.shape[0], 1.0 / d)
            parts += [a * V + b, b * V + a]
            weights += [w, w]
        return _reduce(_host.concatenate(parts), _host.concatenate(weights))

    for n, sentence in enumerate(corpus):
        for w in C._check_tokens(sentence, f"sentence {n}"):
            i = index.get(w)
            if i is not None:
                ids.append(i)
                sids.append(n)
        if len(ids) >= chunk_tokens:
            keys, sums = flush(keys, sums)
            ids, sids = [], []
    if ids:
        keys, sums = flush(keys, sums)
    return keys // V, keys % V, sums


def weighting(x, x_max, alpha):
    """f(x) = min(1, (x / x_max)^alpha)."""
    return _host.minimum(1.0, (x / x_max) ** alpha)


# ---------------------------------------------------------------- the model

class GloVe:
    """GloVe with the reference tool's defaults where it has them (``x_max=100``,
    ``alpha=0.75``, ``learning_rate=0.05``; ``window=10`` symmetric). Given
    ``sentences`` (a re-iterable of token lists) or ``corpus_file`` (one sentence per
    line) it counts the corpus and trains at once; otherwise call ``build_vocab`` and
    ``train``. ``min_count`` as Word2Vec's. ``batch_size`` (not in the reference tool,
    which updates one entry at a time): nonzero entries per Adagrad step. ``device``:
    where the tables live. After training: ``wv`` (KeyedVectors of (W + W~) / 2),
    ``epoch_losses`` (J summed over each epoch's minibatches, each minibatch's part
    taken before its step) and ``loss()`` (J now)."""

    def __init__(self, sentences=None, corpus_file=None, vector_size=100, window=10, min_count=5,
                 x_max=100.0, alpha=0.75, epochs=25, learning_rate=0.05, seed=0, batch_size=512,
                 device=None):
        settings = dict(vector_size=vector_size, window=window, min_count=min_count, x_max=x_max,
                        alpha=alpha, epochs=epochs, learning_rate=learning_rate, seed=seed,
                        batch_size=batch_size)
        for name, value in settings.items():
            setattr(self, name, SETTING_CHECKS[name](name, value))
        self.device = backend.check_device(device) if device is not None else backend.current_device()
        self.vocab = None
        self.wv = None
        self.epoch_losses = []
        self.epochs_trained = 0
        self._rng = _host.random.default_rng(self.seed)
        if sentences is not None or corpus_file is not None:
            self.build_vocab(sentences, corpus_file)
            self.train()

    # ---- counting and tables
    def build_vocab(self, sentences=None, corpus_file=None):
        """Count the corpus (vocabulary with ``min_count``, then the co-occurrences) and
        initialise the tables. Resets training."""
        corpus = C.corpus_iterable(sentences, corpus_file)
        vocab = C.Vocabulary.build(corpus, self.min_count)
        rows, cols, values = cooccurrence(corpus, vocab, self.window)
        if rows.shape[0] == 0:
            raise ValueError("GloVe: no two vocabulary words occur within the window of each "
                             "other; nothing to train on (give a larger corpus or lower "
                             "min_count)")
        V, D = len(vocab), self.vector_size
        tables = {name: ((self._rng.random((V, D if name.startswith("w") else 1)) - 0.5) / D)
                  .astype(_host.float32) for name in TABLES}
        self._install(vocab, (rows, cols, values), tables)
        self.epoch_losses, self.epochs_trained = [], 0
        return self

    def _install(self, vocab, coo, tables, accumulators=None, step=0.0):
        self.vocab = vocab
        self.rows, self.cols, self.values = coo
        f = weighting(self.values, self.x_max, self.alpha)
        dev = self.device
        # per entry, on the model's device: row, column, log X, f(X)
        self._entries = (backend.to_device(self.rows, dev), backend.to_device(self.cols, dev),
                         backend.to_device(_host.log(self.values).astype(_host.float32), dev),
                         backend.to_device(f.astype(_host.float32), dev))
        V = len(vocab)
        for name in TABLES:
            table = tables[name]
            setattr(self, name, nn.Embedding(V, table.shape[1], sparse=True,
                                             _weight=tensor(table, device=dev)))
        self.optimizer = optim.Adagrad([getattr(self, n).weight for n in TABLES],
                                       lr=self.learning_rate, initial_accumulator_value=1.0)
        if accumulators is not None:
            for name in TABLES:
                state = self.optimizer.state[getattr(self, name).weight]
                state["sum"] = tensor(accumulators[name], device=dev)
                state["step"].array[...] = step
        self._sync_wv()

    def _sync_wv(self):
        w = backend.to_numpy(self.w.weight.array)
        wt = backend.to_numpy(self.w_tilde.weight.array)
        self.wv = KeyedVectors((w + wt) / 2, list(self.vocab.index_to_key), counts=self.vocab.counts)

    # ---- training
    def _batch_loss(self, entries):
        """The part of J over the nonzero entries `entries` (indices into rows/cols),
        recorded for backward."""
        rows, cols, logx, f = (a[entries] for a in self._entries)
        i, j = tensor(rows), tensor(cols)
        diff = (self.w(i) * self.w_tilde(j)).sum(-1) + self.b(i).reshape(-1) \
            + self.b_tilde(j).reshape(-1) - tensor(logx)
        return (tensor(f) * diff * diff).sum()

    def step(self, entries):
        """One Adagrad step on the minibatch of nonzero entries `entries` (an integer
        array of positions in rows/cols/values); returns its loss before the step."""
        entries = backend.to_device(_host.asarray(entries, dtype=_host.int64), self.device)
        self.optimizer.zero_grad()
        loss = self._batch_loss(entries)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def train(self, epochs=None):
        """Train `epochs` more epochs (default: the ``epochs`` setting) over the counted
        co-occurrences; the corpus is not read again."""
        if self.vocab is None:
            raise RuntimeError("GloVe.train: call build_vocab first (or pass sentences= or "
                               "corpus_file= to the constructor)")
        epochs = self.epochs if epochs is None else SETTING_CHECKS["epochs"]("epochs", epochs)
        started = time.perf_counter()
        n = self.rows.shape[0]
        for _ in range(epochs):
            order = self._rng.permutation(n)
            total = 0.0
            for start in range(0, n, self.batch_size):
                total += self.step(order[start:start + self.batch_size])
            self.epoch_losses.append(total)
            self.epochs_trained += 1
        self.last_train_seconds = time.perf_counter() - started
        self._sync_wv()
        return self

    def loss(self):
        """J over all nonzero entries with the current tables (host arithmetic, float64)."""
        w, wt, b, bt = (backend.to_numpy(getattr(self, n).weight.array).astype(_host.float64)
                        for n in TABLES)
        r, c = self.rows, self.cols
        diff = (w[r] * wt[c]).sum(1) + b[r, 0] + bt[c, 0] - _host.log(self.values)
        return float((weighting(self.values, self.x_max, self.alpha) * diff * diff).sum())

    def __repr__(self):
        n = 0 if self.vocab is None else len(self.vocab)
        nnz = 0 if self.vocab is None else self.rows.shape[0]
        return (f"GloVe<vocab={n}, nonzero={nnz}, vector_size={self.vector_size}, "
                f"window={self.window}, x_max={self.x_max}, alpha={self.alpha}>")

    # ---- saving
    def save(self, path):
        """Save the whole model (settings, vocabulary, co-occurrences, the four tables,
        Adagrad's accumulators, the generator's state) with ``ts.save``, without pickle:
        ``GloVe.load(path).train(k)`` continues exactly as this model would."""
        if self.vocab is None:
            raise RuntimeError("GloVe.save: nothing to save before build_vocab")
        state = self.optimizer.state
        save({"format": FORMAT, "version": FORMAT_VERSION,
              "settings": {k: getattr(self, k) for k in SETTING_CHECKS},
              "index_to_key": list(self.vocab.index_to_key), "counts": self.vocab.counts,
              "total_words": self.vocab.total_words, "rows": self.rows, "cols": self.cols,
              "values": self.values,
              "tables": {n: getattr(self, n).weight.array for n in TABLES},
              "accumulators": {n: state[getattr(self, n).weight]["sum"].array for n in TABLES},
              "step": float(state[self.w.weight]["step"].item()),
              "rng": self._rng.bit_generator.state, "epochs_trained": self.epochs_trained}, path)

    @classmethod
    def load(cls, path, device=None):
        """A model saved by ``save``. Every field is checked first: a file that is not an
        intact GloVe save raises ``ts.SerializationError`` naming the file and the field."""
        saved = _Saved(load(path, device="cpu"), file_name(path))
        model = cls(device=device, **saved.settings)
        model._install(saved.vocabulary, saved.coo, saved.tables, saved.accumulators, saved.step)
        model._rng.bit_generator.state = saved.rng
        model.epochs_trained = saved.epochs_trained
        return model


class _Saved(SavedChecks):
    """The checked fields of a GloVe save (host arrays)."""
    LOADER = "GloVe.load"

    def __init__(self, obj, name):
        self.name = name
        if not (isinstance(obj, dict) and obj.get("format") == FORMAT):
            raise SerializationError(f"GloVe.load: {name!r} is a tinygrad_seq save but not a "
                                     "GloVe model (saved with model.save)")
        version = obj.get("version")
        if not _is_int(version) or not 1 <= version <= FORMAT_VERSION:
            raise self.fail("version", f"must be an int in [1, {FORMAT_VERSION}] (newer files "
                            f"need a newer tinygrad_seq), got {version!r}")
        for field in FIELDS:
            if field not in obj:
                raise self.fail(repr(field), "missing")
        unknown = [k for k in obj if k not in FIELDS]
        if unknown:
            raise self.fail(repr(unknown[0]), f"unknown in a version {version} save")
        self.settings = self._settings(obj["settings"])
        self.vocabulary = self._vocabulary(obj["index_to_key"], obj["counts"], obj["total_words"])
        V, D = len(self.vocabulary), self.settings["vector_size"]
        self.coo = self._coo(obj["rows"], obj["cols"], obj["values"], V)
        self.tables = self._tables(obj["tables"], "tables", V, D)
        self.accumulators = self._tables(obj["accumulators"], "accumulators", V, D)
        self.step = obj["step"]
        if not isinstance(self.step, (int, float)) or isinstance(self.step, bool) or self.step < 0:
            raise self.fail("'step'", f"must be a number >= 0, got {self.step!r}")
        self.epochs_trained = obj["epochs_trained"]
        if not _is_int(self.epochs_trained) or self.epochs_trained < 0:
            raise self.fail("'epochs_trained'", f"must be an int >= 0, got {self.epochs_trained!r}")
        try:
            _host.random.default_rng().bit_generator.state = obj["rng"]
        except (TypeError, ValueError, KeyError, OverflowError) as e:
            raise self.fail("'rng'", f"not a state of numpy's default generator ({e})") from None
        self.rng = obj["rng"]

    def _settings(self, settings):
        if not isinstance(settings, dict):
            raise self.fail("'settings'", f"must be a dict, got {type(settings).__name__}")
        for key in settings:
            if key not in SETTING_CHECKS:
                raise self.fail(f"settings[{key!r}]", "unknown")
        checked = {}
        for key, check in SETTING_CHECKS.items():
            if key not in settings:
                raise self.fail(f"settings[{key!r}]", "missing")
            try:
                checked[key] = check(key, settings[key])
            except (TypeError, ValueError) as e:
                raise self.fail(f"settings[{key!r}]", str(e)) from None
        return checked

    def _coo(self, rows, cols, values, V):
        rows, cols = self._array(rows, "'rows'"), self._array(cols, "'cols'")
        values = self._array(values, "'values'")
        n = rows.shape[0] if rows.ndim == 1 else -1
        for field, a, kind in (("'rows'", rows, "iu"), ("'cols'", cols, "iu"), ("'values'", values, "f")):
            if a.ndim != 1 or a.shape[0] != n or a.dtype.kind not in kind or n == 0:
                raise self.fail(field, f"must be a non-empty 1-D {'integer' if kind == 'iu' else 'float'} "
                                f"array as long as 'rows', got {a.dtype} of shape {a.shape}")
        for field, a in (("'rows'", rows), ("'cols'", cols)):
            if a.min() < 0 or a.max() >= V:
                raise self.fail(field, f"holds a word index outside [0, {V})")
        if not (_host.isfinite(values).all() and (values > 0).all()):
            raise self.fail("'values'", "must be finite and > 0")
        return rows.astype(_host.int64), cols.astype(_host.int64), values.astype(_host.float64)

    def _tables(self, tables, field, V, D):
        if not isinstance(tables, dict) or set(tables) != set(TABLES):
            raise self.fail(repr(field), f"must be a dict with the tables {list(TABLES)}")
        out = {}
        for name in TABLES:
            a = self._array(tables[name], f"{field}[{name!r}]")
            shape = (V, D if name.startswith("w") else 1)
            if a.dtype != _host.float32 or a.shape != shape:
                raise self.fail(f"{field}[{name!r}]", f"must be float32 of shape {shape}, got "
                                f"{a.dtype} of shape {a.shape}")
            out[name] = a
        return out


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)
