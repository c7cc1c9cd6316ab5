"""Word2Vec: skip-gram and CBOW with negative sampling and/or hierarchical softmax,
trained on the framework.

The model is ``nn.Embedding(sparse=True)`` tables: ``syn0`` (input vectors, the word
vectors of ``wv``; gensim's init, uniform in [-0.5/D, 0.5/D)), ``syn1neg`` (output
vectors of negative sampling, zero at the start) and, with ``hs=1``, ``syn1`` (the
vectors of the inner nodes of the Huffman tree of the counts, zero at the start). A
minibatch holds examples (input words, positive word, k negative words); its loss is

    sum over examples, over their input vectors h of  -log s(u_pos . h) - sum_k log s(-u_k . h)
      [+ with hs: - sum over the inner nodes n on the positive word's path of
                   log s((1 - 2 code_n) syn1_n . h)]
      = F.binary_cross_entropy_with_logits(logits, labels, weight, reduction="sum")

with h: skip-gram, each context word's vector, predicting the center word, as word2vec
and gensim do (with ``shared_negatives``, the default, all the context words of one
center share one draw of negatives: Ji et al. 2016; without it each (center, context)
pair has its own, as in word2vec); CBOW, the mean of the context vectors, predicting
the center. Hierarchical softmax's labels are 1 - code (word2vec's). The weight is 0
for padded context slots, padded path slots and for a negative that drew the positive
word (word2vec skips those draws). Autodiff gives row-sparse gradients of the rows used
and ``optim.SGD`` with lr = the decayed alpha updates those rows: per example, the
update word2vec makes (u += alpha (label - s(u.h)) h, h's rows += alpha sum (label -
s(u.h)) u), except that the examples of one minibatch all see the weights from before
the step, and repeated rows add their updates.

CBOW with ``cbow_mean=1`` follows word2vec and gensim exactly: the forward pass uses
the mean of the context vectors, and every context vector receives the full error of
the hidden layer (not divided by the number of context words, which the exact
gradient of the mean would be). That is written as h = s + detach(s/n - s) with s the
sum: the value is the mean, the gradient is that of the sum.

``workers=N`` (N > 1) trains Hogwild-style, as word2vec and gensim: one thread reads
the corpus into jobs, N threads each encode their job, draw its examples (own
generator) and step (own scratch arrays) on the shared tables without locks; the
compiled step (``compiled.py``) releases the GIL for a whole step and NumPy in its
array work, so the threads run on N cores.

On the CPU the fast step runs as a Numba kernel where numba is installed
(``compiled=None``, the default; ``compiled.py``), the same update to float32 rounding;
``compiled=False`` keeps the NumPy step below.
"""
import queue
import threading
import time

from .. import backend, nn, optim
from .. import functional as F
from ..creation import tensor
from ..io import load, save
from . import compiled as compiled_step
from . import corpus as C
from .keyedvectors import KeyedVectors
from .saved import SavedModel, file_name
from .settings import (FORMAT_VERSION, SETTING_CHECKS, SETTINGS_OF_VERSION, check_callable,
                       check_callbacks, check_compiled, check_objectives, checked_settings)

np = backend.xp("cpu")     # host arrays (NumPy), asked of the backend

try:  # optional progress bar
    from tqdm.auto import tqdm as _tqdm
except Exception:  # pragma: no cover - tqdm not installed
    _tqdm = None


class CallbackAny2Vec:
    """Base class of training callbacks, gensim's protocol: train() calls
    ``on_train_begin(model)``, then per pass ``on_epoch_begin(model)`` and
    ``on_epoch_end(model)`` (model.wv is current there), then ``on_train_end(model)``.
    Override the ones needed."""

    def on_epoch_begin(self, model):
        pass

    def on_epoch_end(self, model):
        pass

    def on_train_begin(self, model):
        pass

    def on_train_end(self, model):
        pass


class Word2Vec:
    """Word2Vec with gensim's names, defaults and return types (``sg=0`` CBOW, ``sg=1``
    skip-gram; ``negative`` > 0 negative sampling, ``hs=1`` hierarchical softmax, or
    both). Given ``sentences`` (a re-iterable of token lists, streamed) or
    ``corpus_file`` (one sentence per line, whitespace-tokenized, streamed) it builds the
    vocabulary and trains at once; otherwise call ``build_vocab`` and ``train``.

    gensim's settings: ``trim_rule(word, count, min_count)`` (RULE_KEEP / RULE_DISCARD /
    RULE_DEFAULT; used while building the vocabulary, not saved), ``max_final_vocab``
    (raises min_count until at most that many words remain), ``sorted_vocab``,
    ``shrink_windows``, ``compute_loss`` (then ``get_latest_training_loss()``),
    ``callbacks`` (``CallbackAny2Vec`` objects: on_train_begin, on_epoch_begin,
    on_epoch_end, on_train_end), ``workers`` (threads; default 1 here, deterministic for a
    seed, where gensim's is 3).

    ``batch_words``: raw tokens per job, as gensim: the learning rate is constant within
    a job and decays between jobs. ``batch_examples`` (not in gensim): the largest number
    of examples per SGD step ((center, context) pairs in skip-gram, center words in
    CBOW); the job's examples are trained in steps of ``step_examples()``, in order. The
    examples of one step all see the weights from before it and a row used by several
    of them gets the sum of their updates, so ``max_pair_repeats`` (not in gensim,
    default 4; None: no bound) lowers the step until no (input, output) pair of rows
    expects more than that many updates in it (see ``step_examples``): small
    vocabularies get small steps, real text keeps ``batch_examples``. ``shared_negatives`` (not in gensim;
    skip-gram only): one draw of ``negative`` words per center word, shared by all
    the context words of its window (Ji et al. 2016, "Parallelizing Word2Vec in
    Shared and Distributed Memory"), which turns a window's updates into small matrix
    products and cuts the output-table traffic about sixfold; ``False`` draws fresh
    negatives for every (center, context) pair, as word2vec and gensim do. Both reach
    the same quality (benchmarks/bench_word2vec.py). ``fast_path``: train with ``step_fast`` (the same
    update as the autodiff ``step_autodiff``, written on backend arrays) or with
    ``step_autodiff`` (Embedding(sparse=True), F.binary_cross_entropy_with_logits,
    optim.SGD). ``device``: where the tables live (default: the framework's
    default device). ``compiled`` (not in gensim, not saved): the fast path's step as a
    Numba kernel (word2vec/compiled.py; ``pip install -e ".[fast]"``), the same update
    to float32 rounding, several times faster and free of the GIL for ``workers``;
    None (default) uses it when numba imports and the tables are on the CPU with
    ``fast_path``, True requires it, False keeps the NumPy step. The vectors are in
    ``model.wv`` (KeyedVectors)."""

    def __init__(self, sentences=None, corpus_file=None, vector_size=100, alpha=0.025, window=5,
                 min_count=5, max_vocab_size=None, sample=1e-3, seed=1, workers=1,
                 min_alpha=0.0001, sg=0, hs=0, negative=5, ns_exponent=0.75, cbow_mean=1,
                 epochs=5, trim_rule=None, sorted_vocab=1, batch_words=10000, compute_loss=False,
                 callbacks=(), max_final_vocab=None, shrink_windows=True, progress=True,
                 batch_examples=1024, shared_negatives=True, fast_path=True, device=None,
                 max_pair_repeats=4, compiled=None):
        settings = checked_settings(dict(
            vector_size=vector_size, window=window, min_count=min_count,
            max_vocab_size=max_vocab_size, sg=sg, negative=negative, ns_exponent=ns_exponent,
            sample=sample, alpha=alpha, min_alpha=min_alpha, epochs=epochs,
            batch_words=batch_words, seed=seed, progress=progress, cbow_mean=cbow_mean,
            batch_examples=batch_examples, shared_negatives=shared_negatives,
            fast_path=fast_path, max_pair_repeats=max_pair_repeats, hs=hs, workers=workers,
            compute_loss=compute_loss, max_final_vocab=max_final_vocab,
            sorted_vocab=sorted_vocab, shrink_windows=shrink_windows))
        check_objectives(settings["hs"], settings["negative"])
        for name, value in settings.items():
            setattr(self, name, value)
        self.trim_rule = check_callable("trim_rule", trim_rule)
        self.callbacks = check_callbacks("callbacks", callbacks)
        self.device = device if device is not None else backend.current_device()
        self.compiled = compiled
        self.vocab = None
        self._scratch = _Scratch()
        # syn0's scatter in step_fast: True adds every context slot (pads add zeros; no
        # host sync, for the GPU), False only the real ones (less work, for NumPy);
        # None: True on the GPU, False on the CPU. The same update either way.
        self.scatter_pads = None
        self.wv = None
        self.syn1 = None
        self.running_training_loss = 0.0
        self.train_count = 0
        self._rng = backend.xp("cpu").random.default_rng(seed)
        if sentences is not None or corpus_file is not None:
            corpus = C.corpus_iterable(sentences, corpus_file)
            self.build_vocab(corpus, trim_rule=self.trim_rule)
            self.train(corpus, epochs=self.epochs, compute_loss=self.compute_loss,
                       callbacks=self.callbacks)

    # ---- the compiled step
    @property
    def compiled(self):
        """None (use the Numba kernel where it can run), True (require it) or False."""
        return self._compiled

    @compiled.setter
    def compiled(self, value):
        value = check_compiled("compiled", value)
        if value:
            if not self.fast_path:
                raise ValueError("Word2Vec: compiled=True runs the fast path's step, but "
                                 "fast_path=False asks for the autodiff step")
            if self.device != "cpu":
                raise ValueError(f"Word2Vec: compiled=True runs on the CPU's tables, got "
                                 f"device={self.device!r}")
            if compiled_step.load() is None:
                raise ImportError("Word2Vec: compiled=True needs numba (pip install -e "
                                  "\".[fast]\" or pip install numba), which did not import: "
                                  f"{compiled_step.missing_reason()}")
        self._compiled = value

    def _kernel(self):
        """The compiled step to train with, or None for the NumPy step."""
        if self._compiled is False or not self.fast_path or self.device != "cpu":
            return None
        return compiled_step.load()

    # ---- vocabulary and tables
    @property
    def corpus_count(self):
        """Sentences of the corpus last given to ``build_vocab`` (gensim's)."""
        return 0 if self.vocab is None else self.vocab.corpus_count

    @property
    def corpus_total_words(self):
        """Raw tokens of the corpus last given to ``build_vocab`` (gensim's)."""
        return 0 if self.vocab is None else self.vocab.total_words

    @property
    def effective_min_count(self):
        """The min_count applied (raised by ``max_final_vocab``), as gensim's."""
        return getattr(self.vocab, "effective_min_count", max(self.min_count, 1))

    def build_vocab(self, corpus_iterable=None, corpus_file=None, update=False, progress_per=10000,
                    keep_raw_vocab=False, trim_rule=None, sentences=None):
        """Count the corpus (streamed: memory grows with the distinct words, not the
        corpus) and keep the words of count >= min_count (or as ``trim_rule`` says,
        ``max_final_vocab`` raising min_count). A new vocabulary initialises the tables
        (input uniform in [-0.5/D, 0.5/D), output zero) and resets training.
        ``update=True`` expands the vocabulary instead, as gensim: known words keep
        their rows and get the new counts added, new words get new rows (initialised
        as above) at the end. ``progress_per`` and ``keep_raw_vocab`` are accepted for
        gensim's signature (no logging; the raw counts are never kept)."""
        if sentences is not None:
            corpus_iterable = sentences
        trim_rule = check_callable("trim_rule", trim_rule)
        corpus = corpus_iterable if isinstance(corpus_iterable, C.CorpusFile) else \
            C.corpus_iterable(corpus_iterable, corpus_file)
        if update:
            if self.vocab is None:
                raise RuntimeError("Word2Vec.build_vocab: update=True needs a vocabulary "
                                   "(build one first, without update)")
            return self._expand_vocab(corpus, trim_rule)
        vocab = C.Vocabulary.build(corpus, self.min_count, self.max_vocab_size, trim_rule,
                                   self.max_final_vocab, self.sorted_vocab)
        V = len(vocab)
        init = self._init_rows(V + 1)
        init[V] = 0.0                      # the padding row of contexts
        self._set_tables(vocab, init, init[:V] * 0.0, init[:V] * 0.0 if self.hs else None)
        self.train_count = 0
        return self

    def build_vocab_from_freq(self, word_freq, keep_raw_vocab=False, corpus_count=None,
                              trim_rule=None, update=False):
        """The vocabulary of a {word: count} dict (gensim's), without reading a corpus."""
        raw = dict(word_freq)
        total = int(sum(raw.values()))
        if update:
            raise NotImplementedError("Word2Vec.build_vocab_from_freq: update=True is not "
                                      "supported; use build_vocab(corpus, update=True)")
        vocab = C.Vocabulary.from_counts(raw, total, corpus_count or 0, self.min_count,
                                         check_callable("trim_rule", trim_rule),
                                         self.max_final_vocab, self.sorted_vocab)
        V = len(vocab)
        init = self._init_rows(V + 1)
        init[V] = 0.0
        self._set_tables(vocab, init, init[:V] * 0.0, init[:V] * 0.0 if self.hs else None)
        self.train_count = 0
        return self

    def _init_rows(self, n):
        """n new input rows, uniform in [-0.5/D, 0.5/D) from the model's generator."""
        D = self.vector_size
        init = self._rng.random((n, D), dtype="float32")
        return (init - 0.5) / D

    def _expand_vocab(self, corpus, trim_rule):
        old = self.vocab
        vocab, n_new = old.expanded(corpus, self.min_count, self.max_vocab_size, trim_rule)
        V0, D = len(old), self.vector_size
        host = backend.to_numpy
        syn0 = np.concatenate([host(self.syn0.weight.array[:V0]), self._init_rows(n_new),
                               np.zeros((1, D), np.float32)])
        zeros = np.zeros((n_new, D), np.float32)
        syn1neg = np.concatenate([host(self.syn1neg.weight.array), zeros])
        syn1 = None if not self.hs else np.concatenate([host(self.syn1.weight.array), zeros])
        self._set_tables(vocab, syn0, syn1neg, syn1)
        return self

    def _set_tables(self, vocab, syn0, syn1neg, syn1=None):
        """Install a vocabulary and the tables (host or device arrays)."""
        self.vocab = vocab
        V, D = len(vocab), self.vector_size
        self._keep_prob = vocab.keep_probabilities(self.sample)
        self._cum_table = vocab.cum_table(self.ns_exponent)
        self._neg_lookup = C.negative_lookup(self._cum_table)
        # row V pads the contexts: zero, never updated (padding_idx)
        self.syn0 = nn.Embedding(V + 1, D, padding_idx=V, sparse=True,
                                 _weight=tensor(syn0, device=self.device))
        self.syn1neg = nn.Embedding(V, D, sparse=True, _weight=tensor(syn1neg, device=self.device))
        params = list(self.syn0.parameters()) + list(self.syn1neg.parameters())
        if self.hs:
            # rows 0..V-2: the inner nodes of the Huffman tree; row V-1 pads the paths
            points, codes, _ = vocab.huffman_tree()
            self._hs_points = backend.to_device(points, self.device)
            self._hs_labels = backend.to_device((1 - codes).astype(np.float32), self.device)
            self.syn1 = nn.Embedding(V, D, sparse=True, _weight=tensor(syn1, device=self.device))
            params += list(self.syn1.parameters())
        else:
            self.syn1 = None
        self._pair_rate = self._most_repeated_pair_rate()
        self.optimizer = optim.SGD(params, lr=self.alpha)
        self._sync_wv()

    # ---- saving the whole model (gensim's model.save / Word2Vec.load)
    _SAVED = SETTINGS_OF_VERSION[FORMAT_VERSION]     # the settings a save holds

    def save(self, path):
        """Save the whole model (settings, vocabulary and counts, the tables, the random
        generator's state, the training count) with ``ts.save``, so that
        ``Word2Vec.load(path).train(sentences)`` continues exactly where this model
        would. The corpus, ``trim_rule`` and ``callbacks`` are not saved. For the
        vectors alone, ``model.wv.save`` or ``model.wv.save_word2vec_format``."""
        if self.vocab is None:
            raise RuntimeError("Word2Vec.save: nothing to save before build_vocab")
        D = self.vector_size
        syn1 = self.syn1.weight.array if self.hs else np.zeros((0, D), np.float32)
        save({"format": "tinygrad_seq.word2vec", "version": FORMAT_VERSION,
              "settings": {k: getattr(self, k) for k in SETTINGS_OF_VERSION[FORMAT_VERSION]},
              "index_to_key": list(self.vocab.index_to_key), "counts": self.vocab.counts,
              "total_words": self.vocab.total_words, "corpus_count": self.vocab.corpus_count,
              "syn0": self.syn0.weight.array, "syn1neg": self.syn1neg.weight.array,
              "syn1": syn1, "train_count": self.train_count,
              "rng": self._rng.bit_generator.state}, path)

    @classmethod
    def load(cls, path, mmap=None, device=None, compiled=None):
        """A model saved by ``save``, on `device` (default: the framework's default);
        train() on it needs the corpus again (``sentences`` or ``corpus_file=``). `mmap`
        is accepted for gensim's signature: the model is always loaded fully (training
        writes to its tables). Every field is checked before anything is built: a file
        that is not an intact Word2Vec save raises ``ts.SerializationError`` naming the
        file and the field. Files of an older format version load (settings added since
        take their defaults); a newer version is refused. ``compiled`` (not saved, a
        choice of this machine) as the constructor's."""
        name = file_name(path)
        saved = SavedModel(load(path, device="cpu"), name)
        model = cls(device=device, compiled=compiled, **saved.settings)
        model._set_tables(saved.vocabulary, saved.syn0, saved.syn1neg, saved.syn1)
        model.train_count = saved.train_count
        model._rng.bit_generator.state = saved.rng
        return model

    def _sync_wv(self):
        """model.wv shows the input vectors: one KeyedVectors object for the model's
        life (as gensim's), refreshed after training and vocabulary changes."""
        vectors = backend.to_numpy(self.syn0.weight.array[:len(self.vocab)])
        if self.wv is None:
            self.wv = KeyedVectors(vectors, list(self.vocab.index_to_key),
                                   counts=self.vocab.counts)
        else:
            self.wv._replace(vectors, list(self.vocab.index_to_key), self.vocab.counts)

    # ---- one minibatch
    def examples(self, sentences, rng=None):
        """The training examples of one minibatch of encoded sentences (lists of word
        indices), drawn with `rng` (default: the model's random generator), as host
        arrays (inputs, targets): targets (m, 1 + negative) holds the positive word,
        then the negatives; inputs (m, J) holds the input words, padded with
        len(vocab):

        - CBOW: one example per center word, J = 2 window context words (their mean is
          the input vector);
        - skip-gram with ``shared_negatives`` (default): one example per center word, J =
          2 window context words, each its own input vector, all scored against the
          same targets (the center and one draw of negatives);
        - skip-gram without: one example per (center, context) pair, J = 1, with its
          own draw of negatives, as word2vec and gensim.

        With ``hs=1`` the positive word's Huffman path is looked up in the step."""
        return self._examples(sentences, rng)[:2]

    def _examples(self, sentences, rng=None):
        """examples() and the number of words kept by subsampling."""
        rng = self._rng if rng is None else rng
        words, sid = C.subsample(sentences, self._keep_prob, rng)
        if self.shrink_windows:
            b = C.reduced_windows(words.shape[0], self.window, rng)
        else:
            b = np.zeros(words.shape[0], dtype=np.int64)
        if self.sg and not self.shared_negatives:
            center, context = C.skipgram_pairs(words, sid, self.window, b)
            inputs = context[:, None]
        else:
            center, inputs = C.cbow_examples(words, sid, self.window, b, pad=len(self.vocab))
        negatives = C.draw_negatives(self._cum_table, (center.shape[0], self.negative), rng,
                                     self._neg_lookup)
        targets = np.concatenate([center[:, None], negatives], axis=1)
        return inputs, targets, int(words.shape[0])

    def _as_inputs(self, inputs):
        """Inputs as (m, J); a 1-D skip-gram input is one word per example."""
        return inputs[:, None] if inputs.ndim == 1 else inputs

    def _logit_weights(self, inputs, targets):
        """Weights of the negative-sampling logits, on the arrays' device: 0 for a
        negative that drew the positive word itself (word2vec skips those draws) and, in
        skip-gram, for padded input slots; else 1. Skip-gram: (m, J, 1 + k); CBOW: (m, 1,
        1 + k)."""
        xp = backend.array_module(targets)
        keep = targets != targets[:, :1]
        keep[:, 0] = True
        return self._with_inputs(inputs, keep).astype(xp.float32)

    def _with_inputs(self, inputs, keep):
        """A (m, K) mask of output slots as the (m, J | 1, K) mask of logits."""
        if self.sg:
            return (inputs != len(self.vocab))[:, :, None] & keep[:, None, :]
        return keep[:, None, :]

    def _hs_targets(self, inputs, targets):
        """Hierarchical softmax's outputs of a minibatch, on the device: the inner nodes
        of each positive word's path (m, L) (padded with syn1's last row), their labels
        (1 - code) and the weights of the logits (0 for padded slots), as
        ``_logit_weights``."""
        center = targets[:, 0]
        points = self._hs_points[center]
        labels = self._hs_labels[center]
        weight = self._with_inputs(inputs, points != len(self.vocab) - 1)
        return points, labels, weight.astype(labels.dtype)

    def loss(self, inputs, targets):
        """The summed loss of a minibatch (a Tensor, with a graph to the tables): binary
        cross-entropy of the logits u_t . h with label 1 for the positive column and 0
        for the negatives, for every input vector h of an example (skip-gram: each
        context word; CBOW: the mean of them), weighted by ``_logit_weights``; with
        ``hs=1`` plus that of the logits syn1_n . h of the positive word's path, labels
        1 - code."""
        inputs = self._as_inputs(inputs)
        dev = self.device
        inputs_d = backend.to_device(inputs, dev)
        targets_d = backend.to_device(targets, dev)
        inp = tensor(inputs_d, device=dev)
        if self.sg:
            h = self.syn0(inp)                                     # (m, J, D)
        else:
            h = self.syn0(inp).sum(axis=1, keepdims=True)          # (m, 1, D): pads are 0
            if self.cbow_mean:
                n = (inputs != len(self.vocab)).sum(axis=1).astype("float32")[:, None, None]
                h = h + (h * tensor(1.0 / n - 1.0, device=dev)).detach()   # value: mean
        total = None
        if self.negative:
            weight = self._logit_weights(inputs_d, targets_d)
            u = self.syn1neg(tensor(targets_d, device=dev))        # (m, 1 + k, D)
            logits = h @ u.mT                                      # (m, J | 1, 1 + k)
            labels = np.zeros(logits.shape, dtype="float32")
            labels[..., 0] = 1.0
            total = F.binary_cross_entropy_with_logits(
                logits, tensor(labels, device=dev), reduction="sum",
                weight=tensor(weight, device=dev))
        if self.hs:
            points, labels, weight = self._hs_targets(inputs_d, targets_d)
            u = self.syn1(tensor(points, device=dev))              # (m, L, D)
            logits = h @ u.mT                                      # (m, J | 1, L)
            xp = backend.array_module(labels)
            labels = xp.broadcast_to(labels[:, None, :], logits.shape).copy()
            hs_loss = F.binary_cross_entropy_with_logits(
                logits, tensor(labels, device=dev), reduction="sum",
                weight=tensor(weight, device=dev))
            total = hs_loss if total is None else total + hs_loss
        return total

    def step(self, inputs, targets, lr):
        """One SGD step of learning rate `lr` on a minibatch; returns the summed loss.
        ``fast_path=True`` (default): the compiled step where it runs (see ``compiled``)
        or ``step_fast``, else ``step_autodiff``. The compiled step reads the tables
        without bounds checks, so the indices are checked here (IndexError), as NumPy's
        indexing would."""
        if self._kernel() is not None:
            V = len(self.vocab)
            for name, a, top in (("inputs", inputs, V), ("targets", targets, V - 1)):
                a = np.asarray(a)
                if a.size and (a.min() < 0 or a.max() > top):
                    raise IndexError(f"Word2Vec.step: {name} holds indices outside [0, {top}] "
                                     f"(min {a.min()}, max {a.max()})")
        return float(self._train_step(inputs, targets, lr))

    def step_autodiff(self, inputs, targets, lr):
        """The reference step: ``loss`` through autodiff, row-sparse gradients, optim.SGD."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad()
        loss = self.loss(inputs, targets)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def _train_step(self, inputs, targets, lr, scratch=None, with_loss=True):
        """``step`` inside train(): the fast path's loss stays a backend scalar, so that
        a GPU step needs no sync. `scratch`: the worker's arrays; `with_loss=False`
        skips the loss (0 is returned) where nothing reads it."""
        kernel = self._kernel()
        if kernel is not None:
            inputs = self._as_inputs(inputs)
            return self._steps_compiled(kernel, inputs, targets, [0, inputs.shape[0]], lr,
                                        scratch, with_loss)
        if self.fast_path:
            return self._step_fast(inputs, targets, lr, scratch, with_loss)
        with self._autodiff_lock:       # one optimizer, one set of .grad: one step at a time
            return self.step_autodiff(inputs, targets, lr)

    _autodiff_lock = threading.Lock()

    def step_fast(self, inputs, targets, lr):
        """The same step as ``step_autodiff`` written out on backend arrays (no graph).
        With f = u_t . h and e = (s(f) - label) * weight (the gradient of the summed
        loss in f), the output rows t (syn1neg, and syn1 with hs) get -lr sum_h e h and
        the rows of h (each skip-gram input word, or each CBOW context word) get -lr
        sum_t e u_t; all from the weights before the step, repeated rows adding up, as
        SGD's sparse update. Tested equal to step_autodiff, step by step and over whole
        trainings (tests/word2vec/test_word2vec.py, tests/word2vec/test_word2vec_hs.py)."""
        return float(self._step_fast(inputs, targets, lr))

    def _head(self, h, W, rows, labels, weight, lr, get, tag, with_loss):
        """One output table's part of the fast step: scores h against the rows `rows`
        (m, K) of W, adds -lr sum_h e h to those rows and returns (loss, -lr sum_t e u_t
        for h). `labels` None: the first column is the positive, the others 0;
        otherwise (m, K) labels."""
        xp = backend.array_module(W)
        m, K = rows.shape
        D, dt = W.shape[1], W.dtype
        u = xp.take(W, rows, axis=0, out=get("u" + tag, (m, K, D), dt, xp))
        f = xp.matmul(h, u.transpose(0, 2, 1))                     # (m, J | 1, K)
        e = backend.sigmoid(f)
        if labels is None:
            e[..., 0] -= 1.0                                       # s(f) - label
        else:
            e -= labels[:, None, :]
        e *= weight
        loss = 0.0
        if with_loss:
            if labels is None:
                f[..., 0] *= -1.0
            else:
                f *= (1.0 - 2.0 * labels)[:, None, :]
            loss = (xp.logaddexp(0.0, f) * weight).sum()           # -log s(+-f), weighted
        e *= -lr                                                   # the SGD step: -lr grad
        step_out = xp.matmul(e.transpose(0, 2, 1), h, out=get("out" + tag, (m, K, D), dt, xp))
        step_in = xp.matmul(e, u, out=get("in" + tag, (m, h.shape[1], D), dt, xp))
        index = get("index", (m * max(h.shape[1], K) * D,), backend.intp, xp) \
            if self.device == "cpu" else None
        backend.add_rows(W, rows.reshape(-1), step_out.reshape(-1, D), index)
        return loss, step_in

    def _steps_compiled(self, kernel, inputs, targets, bounds, lr, scratch=None,
                        with_loss=True):
        """The steps [bounds[s], bounds[s+1]) of host arrays (inputs, targets) by the
        compiled kernel on the CPU tables, in place; returns the summed loss (a float, 0.0
        without `with_loss`). The same update as ``_step_fast``, step by step."""
        get = (self._scratch if scratch is None else scratch).get
        inputs = np.ascontiguousarray(self._as_inputs(inputs), dtype=np.int64)
        targets = np.ascontiguousarray(targets, dtype=np.int64)
        bounds = np.asarray(bounds, dtype=np.int64)
        W0, W1 = self.syn0.weight.array, self.syn1neg.weight.array
        D, dt = W0.shape[1], W0.dtype
        if self.hs:
            W2, points, labels = self.syn1.weight.array, self._hs_points, self._hs_labels
        else:
            W2, points, labels = W1[:1], _NO_PATHS, _NO_LABELS
        most = int(np.diff(bounds).max()) if bounds.shape[0] > 1 else 0
        J = inputs.shape[1]
        K = (targets.shape[1] if self.negative else 0) + (points.shape[1] if self.hs else 0)
        loss = kernel(W0.reshape(-1), W1.reshape(-1), W2.reshape(-1), D, inputs, targets,
                      points, labels, bounds, dt.type(lr),
                      bool(self.sg), bool(self.cbow_mean), bool(self.negative), bool(self.hs),
                      bool(with_loss), get("k_g", (max(most * J * K, 1),), dt, np),
                      get("k_in", (max(most * J * D, 1),), dt, np),
                      get("k_h", (max(most * D, 1),), dt, np))
        for t in (self.syn0, self.syn1neg) + ((self.syn1,) if self.hs else ()):
            t.weight._version[0] += 1
        return float(loss)

    def _step_fast(self, inputs, targets, lr, scratch=None, with_loss=True):
        """step_fast's work; returns the loss as a backend scalar."""
        w0 = self.syn0.weight
        W0 = w0.array
        xp = backend.array_module(W0)
        dev, pad, D, dt = self.device, len(self.vocab), W0.shape[1], W0.dtype
        inputs = backend.to_device(self._as_inputs(inputs), dev)
        targets = backend.to_device(targets, dev)
        (m, J) = inputs.shape
        get = (self._scratch if scratch is None else scratch).get
        v = xp.take(W0, inputs, axis=0, out=get("v", (m, J, D), dt, xp))
        if self.sg:
            h = v                                                  # each input its own h
        else:
            h = v.sum(axis=1, keepdims=True)                       # (m, 1, D)
            if self.cbow_mean:
                h /= (inputs != pad).sum(axis=1).astype(dt)[:, None, None]
        loss, step_in = 0.0, None
        if self.negative:
            weight = self._logit_weights(inputs, targets).astype(dt, copy=False)
            loss, step_in = self._head(h, self.syn1neg.weight.array, targets, None, weight, lr,
                                       get, "", with_loss)
            self.syn1neg.weight._version[0] += 1
        if self.hs:
            points, labels, weight = self._hs_targets(inputs, targets)
            hs_loss, hs_in = self._head(h, self.syn1.weight.array, points, labels, weight, lr,
                                        get, "_hs", with_loss)
            self.syn1.weight._version[0] += 1
            loss = loss + hs_loss
            step_in = hs_in if step_in is None else xp.add(step_in, hs_in, out=step_in)
        # flat-index scratch of the NumPy scatter (CuPy's atomic scatter needs none)
        index = get("index", (m * J * D,), backend.intp, xp) if dev == "cpu" else None
        dense = self.scatter_pads if self.scatter_pads is not None else dev != "cpu"
        if J == 1:                                                 # skip-gram pairs: no pads
            backend.add_rows(W0, inputs.reshape(-1), step_in.reshape(-1, D), index)
        elif dense:     # every slot, pads adding exact zeros to the pad row: no host sync
            if not self.sg:                                        # CBOW: one step_in each
                step_in = step_in * (inputs != pad)[:, :, None].astype(dt)
            backend.add_rows(W0, inputs.reshape(-1), step_in.reshape(-1, D), index)
        else:                                                      # only the real slots
            slots = xp.flatnonzero(inputs.reshape(-1) != pad)
            src = slots if self.sg else slots // J                 # CBOW: one step_in each
            rows = get("rows", (slots.shape[0], D), dt, xp)
            xp.take(step_in.reshape(-1, D), src, axis=0, out=rows)
            backend.add_rows(W0, inputs.reshape(-1)[slots], rows, index)
        w0._version[0] += 1
        return loss

    # ---- training
    def _most_repeated_pair_rate(self):
        """The expected number of times, per example, that the most frequent (input row,
        output row) pair is updated: max_j P(input j) * max_i P(output row i used), with
        the frequencies of the words kept by subsampling. Negative sampling uses row i
        P(positive i) + negative P(negative i) times per example; hierarchical softmax
        uses the root of the tree in every example (1). A CBOW example counts its input
        words once, not once per context word: with ``cbow_mean`` each of them moves the
        logit by 1/n of what it would alone; with the sum (``cbow_mean=0``) it counts the
        expected window+1 context words."""
        counts = self.vocab.counts * self._keep_prob
        p = counts / max(counts.sum(), 1e-300)
        q = self.vocab.negative_distribution(self.ns_exponent)
        inputs = float(p.max()) * (self.window + 1 if not self.sg and not self.cbow_mean else 1)
        out = float((p + self.negative * q).max()) if self.negative else 0.0
        if self.hs and len(self.vocab) > 1:
            out = max(out, 1.0)
        return inputs * out

    def step_examples(self):
        """Examples per SGD step: ``batch_examples``, lowered (never below 1) so that no
        (input row, output row) pair expects more than ``max_pair_repeats`` updates in one
        step. The examples of a step all see the weights from before it, so a pair that
        repeats n times gets one update n times as large, where sequential SGD would
        have seen its error shrink after each: on a 12-word vocabulary a 1024-example
        step repeats a pair about 40 times and learns nothing, while real text (a few
        thousand words or more, subsampled) stays far below the bound and keeps its
        full steps. ``max_pair_repeats=None`` turns the bound off."""
        if self.max_pair_repeats is None or self.vocab is None or self._pair_rate <= 0:
            return self.batch_examples
        bound = int(self.max_pair_repeats / self._pair_rate)
        return max(1, min(self.batch_examples, bound))

    def _step_bounds(self, inputs):
        """Where the steps of a job start and end: every ``step_examples()`` examples, in
        skip-gram counted in (center, context) pairs, so that a step holds about as many
        updates with shared negatives (a center and its whole window) as without."""
        m, size = inputs.shape[0], self.step_examples()
        if m and self.sg and inputs.ndim == 2 and inputs.shape[1] > 1:
            pairs = (inputs != len(self.vocab)).sum(axis=1).cumsum()
            cuts = pairs.searchsorted(range(size, int(pairs[-1]), size)) + 1
            return [0] + sorted(set(cuts.tolist()) - {m}) + [m]
        return list(range(0, m, size)) + [m]

    def _train_job(self, sentences, lr, rng, scratch, with_loss):
        """Draw the examples of one job and train them in steps; returns (summed loss as
        a float, examples, words kept by subsampling)."""
        inputs, targets, kept = self._examples(sentences, rng)
        bounds = self._step_bounds(inputs)
        # one copy per job to the model's device
        inputs = backend.to_device(inputs, self.device)
        targets = backend.to_device(targets, self.device)
        job_loss = 0.0
        for i, j in zip(bounds[:-1], bounds[1:]):
            job_loss = job_loss + self._train_step(inputs[i:j], targets[i:j], lr, scratch,
                                                   with_loss)
        return float(job_loss), targets.shape[0], kept                # one read per job

    def train(self, corpus_iterable=None, corpus_file=None, total_examples=None,
              total_words=None, epochs=None, start_alpha=None, end_alpha=None, word_count=0,
              queue_factor=2, report_delay=1.0, compute_loss=False, callbacks=(),
              progress=None, sentences=None):
        """Train for `epochs` passes (default: the model's) over the corpus (streamed;
        default: the one last given; a new one must fit the vocabulary), the learning
        rate decaying linearly from start_alpha (default alpha) to end_alpha (default
        min_alpha) over the passes. The progress of a pass is measured in raw words
        against ``total_words``, or in sentences against ``total_examples``, or (neither
        given; gensim requires one) in raw words against ``corpus_total_words``;
        ``word_count`` words count as already done. ``compute_loss`` (gensim's: False)
        sums the loss for ``get_latest_training_loss()``; ``callbacks`` get
        on_train_begin/on_epoch_begin/on_epoch_end/on_train_end(model). Callable again to
        continue training. Returns (words trained after subsampling, raw words), as
        gensim. ``queue_factor``: jobs queued per worker; ``report_delay`` is accepted
        (the progress bar is tqdm's); `progress`: the bar (default: the model's)."""
        if self.vocab is None:
            raise RuntimeError("Word2Vec.train: build the vocabulary first (build_vocab, or "
                               "pass sentences= or corpus_file= to the constructor)")
        if sentences is not None:
            corpus_iterable = sentences
        if corpus_iterable is None and corpus_file is None:
            corpus = getattr(self, "_corpus", None)
            if corpus is None:
                raise TypeError("Word2Vec.train: give sentences= (corpus_iterable) or "
                                "corpus_file=")
        else:
            corpus = corpus_iterable if isinstance(corpus_iterable, C.CorpusFile) else \
                C.corpus_iterable(corpus_iterable, corpus_file)
        self._corpus = corpus
        epochs = self.epochs if epochs is None else SETTING_CHECKS["epochs"]("epochs", epochs)
        a0 = self.alpha if start_alpha is None else \
            SETTING_CHECKS["alpha"]("start_alpha", start_alpha)
        a1 = self.min_alpha if end_alpha is None else \
            SETTING_CHECKS["min_alpha"]("end_alpha", end_alpha)
        for name, x in (("total_examples", total_examples), ("total_words", total_words)):
            if x is not None:
                SETTING_CHECKS["batch_words"](name, x)
        word_count = SETTING_CHECKS["min_count"]("word_count", word_count)
        queue_factor = SETTING_CHECKS["batch_words"]("queue_factor", queue_factor)
        self.compute_loss = SETTING_CHECKS["compute_loss"]("compute_loss", compute_loss)
        callbacks = check_callbacks("callbacks", callbacks)
        show = self.progress if progress is None else progress
        if total_words is not None:
            unit, total = "words", total_words
        elif total_examples is not None:
            unit, total = "sentences", total_examples
        else:
            unit, total = "words", self.vocab.total_words
        bar = _tqdm(total=epochs * total, unit="word" if unit == "words" else "sentence",
                    unit_scale=True, desc="word2vec") if show and _tqdm is not None else None
        self.running_training_loss = 0.0
        counts = {"examples": 0, "trained": 0, "raw": 0}
        started = time.perf_counter()

        def lr_at(epoch, done):
            progress_ = (epoch + done / max(total, 1)) / max(epochs, 1) + \
                word_count / max(total * epochs, 1)
            return max(a1, a0 - (a0 - a1) * progress_)

        self._call(callbacks, "on_train_begin")
        try:
            for epoch in range(epochs):
                self._call(callbacks, "on_epoch_begin")
                if self.workers == 1:
                    self._epoch_sequential(corpus, epoch, lr_at, unit, bar, counts)
                else:
                    self._epoch_threads(corpus, epoch, lr_at, unit, bar, counts, queue_factor)
                if callbacks:
                    self._sync_wv()
                self._call(callbacks, "on_epoch_end")
        finally:
            if bar is not None:
                bar.close()
        self.train_count += 1
        self.last_train_seconds = time.perf_counter() - started
        self.last_train_examples = counts["examples"]
        self._sync_wv()
        self._call(callbacks, "on_train_end")
        return counts["trained"], counts["raw"]

    def _call(self, callbacks, event):
        for cb in callbacks:
            method = getattr(cb, event, None)
            if method is not None:
                method(self)

    def _jobs(self, corpus, epoch, lr_at, unit, bar, encode=True):
        """The jobs of one pass: (sentences, raw words, learning rate), the rate from the
        progress before the job. ``encode=False``: sentences as (tokens, lengths), for
        the worker to encode (``C.encode_tokens``)."""
        done, get = 0, self.vocab.key_to_index.get
        for tokens, lengths, raw, n in C.token_jobs(corpus, self.batch_words):
            sentences_ = C.encode_tokens(tokens, lengths, get) if encode else (tokens, lengths)
            lr = lr_at(epoch, done)
            step = raw if unit == "words" else n
            done += step
            yield sentences_, raw, lr
            if bar is not None:
                bar.update(step)
                bar.set_postfix(lr=f"{lr:.5f}", refresh=False)

    def _epoch_sequential(self, corpus, epoch, lr_at, unit, bar, counts):
        for sentences_, raw, lr in self._jobs(corpus, epoch, lr_at, unit, bar):
            loss, examples, kept = self._train_job(sentences_, lr, self._rng, self._scratch,
                                                   self.compute_loss)
            if self.compute_loss:
                self.running_training_loss += loss
            counts["examples"] += examples
            counts["trained"] += kept
            counts["raw"] += raw

    def _epoch_threads(self, corpus, epoch, lr_at, unit, bar, counts, queue_factor):
        """One pass with `workers` threads training jobs from a bounded queue on the
        shared tables (Hogwild): each has its own generator, seeded from the model's,
        and its own scratch arrays, and encodes its jobs' tokens itself, so that the
        thread reading the corpus does little more than that (it would otherwise take
        a core's share beside the workers)."""
        n = self.workers
        if not hasattr(self, "_worker_scratch") or len(self._worker_scratch) != n:
            self._worker_scratch = [_Scratch() for _ in range(n)]
        seeds = self._rng.integers(0, 2 ** 63, size=n)
        jobs = queue.Queue(maxsize=queue_factor * n)
        results = [[0.0, 0, 0, 0, 0] for _ in range(n)]
        errors = []

        get = self.vocab.key_to_index.get

        def work(k):
            rng, scratch, res = np.random.default_rng(int(seeds[k])), self._worker_scratch[k], \
                results[k]
            while True:
                job = jobs.get()
                if job is None:
                    return
                if errors:
                    continue                                       # drain after a failure
                try:
                    (tokens, lengths), raw, lr = job
                    sentences_ = C.encode_tokens(tokens, lengths, get)
                    loss, examples, kept = self._train_job(sentences_, lr, rng, scratch,
                                                           self.compute_loss)
                    res[0] += loss
                    res[1] += examples
                    res[2] += kept
                    res[3] += raw
                    res[4] += 1
                except BaseException as e:     # re-raised in the calling thread
                    errors.append(e)

        threads = [threading.Thread(target=work, args=(k,), daemon=True,
                                    name=f"word2vec-worker-{k}") for k in range(n)]
        for t in threads:
            t.start()
        try:
            for job in self._jobs(corpus, epoch, lr_at, unit, bar, encode=False):
                if errors:
                    break
                jobs.put(job)
        finally:
            for _ in threads:
                jobs.put(None)
            for t in threads:
                t.join()
        if errors:
            raise errors[0]
        self.last_worker_jobs = [r[4] for r in results]     # jobs each worker trained
        for loss, examples, kept, raw, _ in results:
            if self.compute_loss:
                self.running_training_loss += loss
            counts["examples"] += examples
            counts["trained"] += kept
            counts["raw"] += raw

    def get_latest_training_loss(self):
        """The summed loss of the last train() call, when it had ``compute_loss=True``
        (else 0.0), as gensim."""
        return self.running_training_loss

    def predict_output_word(self, context_words_list, topn=10):
        """The topn words most probable at the center of `context_words_list` under the
        negative-sampling output layer: softmax of syn1neg . mean(context vectors), as
        gensim; a list of (word, probability), or None if no context word is known."""
        if not self.negative:
            raise RuntimeError("Word2Vec.predict_output_word: needs negative sampling "
                               "(negative > 0), as gensim's")
        ids = [self.vocab.key_to_index[w] for w in context_words_list
               if w in self.vocab.key_to_index]
        if not ids:
            return None
        syn0 = backend.to_numpy(self.syn0.weight.array)
        syn1neg = backend.to_numpy(self.syn1neg.weight.array)
        h = syn0[ids].sum(axis=0)
        if self.cbow_mean:
            h = h / len(ids)
        scores = syn1neg @ h
        p = np.exp(scores - scores.max())
        p = (p / p.sum()).astype(np.float32)
        best = np.argsort(-p, kind="stable")[:topn]
        return [(self.vocab.index_to_key[i], p[i]) for i in best]

    def __repr__(self):
        n = 0 if self.vocab is None else len(self.vocab)
        return (f"Word2Vec<vocab={n}, vector_size={self.vector_size}, sg={self.sg}, "
                f"hs={self.hs}, window={self.window}, negative={self.negative}, "
                f"alpha={self.alpha}>")


_NO_PATHS = np.zeros((1, 1), np.int64)        # the kernel's path arguments without hs
_NO_LABELS = np.zeros((1, 1), np.float32)


class _Scratch:
    """Reusable arrays for the steps of one worker, grown on demand. Without them a
    skip-gram step allocates and frees a few MB, glibc returns such blocks to the
    system, and every step pays the page faults of fresh memory again (measured here:
    about 40% of the step time)."""

    def __init__(self):
        self._arrays = {}

    def get(self, name, shape, dtype, xp):
        n = 1
        for d in shape:
            n *= int(d)
        a = self._arrays.get(name)
        if a is None or a.size < n or a.dtype != dtype or backend.array_module(a) is not xp:
            a = self._arrays[name] = xp.empty(max(n, 1), dtype=dtype)
        return a[:n].reshape(shape)
