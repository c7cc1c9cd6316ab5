"""Word2Vec: skip-gram and CBOW with negative sampling, trained on the framework.

The model is two ``nn.Embedding(sparse=True)`` tables: ``syn0`` (input vectors, the
word vectors of ``wv``; gensim's init, uniform in [-0.5/D, 0.5/D)) and ``syn1neg``
(output vectors, zero at the start). A minibatch holds examples (input words, positive
word, k negative words); its loss is

    sum over examples, over their input vectors h of  -log s(u_pos . h) - sum_k log s(-u_k . h)
      = F.binary_cross_entropy_with_logits(logits, labels, weight, reduction="sum")

with h: skip-gram, each context word's vector, predicting the center word, as word2vec
and gensim do (with ``shared_negatives``, the default, all the context words of one
center share one draw of negatives: Ji et al. 2016; without it each (center, context)
pair has its own, as in word2vec); CBOW, the mean of the context vectors, predicting
the center. The weight is 0 for padded context slots and for a negative that drew the
positive word (word2vec skips those draws). Autodiff gives row-sparse gradients of the rows used and ``optim.SGD`` with
lr = the decayed alpha updates those rows: per example, the update word2vec makes
(u += alpha (label - s(u.h)) h, h's rows += alpha sum (label - s(u.h)) u), except that
the examples of one minibatch all see the weights from before the step, and repeated
rows add their updates.

CBOW with ``cbow_mean=1`` follows word2vec and gensim exactly: the forward pass uses
the mean of the context vectors, and every context vector receives the full error of
the hidden layer (not divided by the number of context words, which the exact
gradient of the mean would be). That is written as h = s + detach(s/n - s) with s the
sum: the value is the mean, the gradient is that of the sum.
"""
import time

from .. import backend, nn, optim
from .. import functional as F
from ..creation import tensor
from ..errors import SerializationError
from ..io import load, save
from ..modes import no_grad
from . import corpus as C
from .keyedvectors import KeyedVectors
from .saved import SavedModel, file_name
from .settings import FORMAT_VERSION, SETTING_CHECKS, SETTINGS_OF_VERSION, checked_settings

try:  # optional progress bar
    from tqdm.auto import tqdm as _tqdm
except Exception:  # pragma: no cover - tqdm not installed
    _tqdm = None


class Word2Vec:
    """Word2Vec with gensim's names and defaults (``sg=0`` CBOW, ``sg=1`` skip-gram,
    negative sampling only). Given ``sentences`` (a re-iterable of token lists) or
    ``corpus_file`` (one sentence per line, whitespace-tokenized) it builds the
    vocabulary and trains at once; otherwise call ``build_vocab`` and ``train``.

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
    default device). The vectors are in ``model.wv`` (KeyedVectors)."""

    def __init__(self, sentences=None, corpus_file=None, vector_size=100, window=5, min_count=5,
                 max_vocab_size=None, sg=0, negative=5, ns_exponent=0.75, sample=1e-3,
                 alpha=0.025, min_alpha=0.0001, epochs=5, batch_words=10000, seed=1,
                 progress=True, cbow_mean=1, batch_examples=1024, shared_negatives=True,
                 fast_path=True, device=None, max_pair_repeats=4):
        settings = checked_settings(dict(
            vector_size=vector_size, window=window, min_count=min_count,
            max_vocab_size=max_vocab_size, sg=sg, negative=negative, ns_exponent=ns_exponent,
            sample=sample, alpha=alpha, min_alpha=min_alpha, epochs=epochs,
            batch_words=batch_words, seed=seed, progress=progress, cbow_mean=cbow_mean,
            batch_examples=batch_examples, shared_negatives=shared_negatives,
            fast_path=fast_path, max_pair_repeats=max_pair_repeats))
        for name, value in settings.items():
            setattr(self, name, value)
        self.device = device if device is not None else backend.default_device
        self.vocab = None
        self._scratch = _Scratch()
        # syn0's scatter in step_fast: True adds every context slot (pads add zeros; no
        # host sync, for the GPU), False only the real ones (less work, for NumPy);
        # None: True on the GPU, False on the CPU. The same update either way.
        self.scatter_pads = None
        self.wv = None
        self.running_training_loss = 0.0
        self.train_count = 0
        self._rng = backend.xp("cpu").random.default_rng(seed)
        if sentences is not None or corpus_file is not None:
            corpus = C.corpus_iterable(sentences, corpus_file)
            self.build_vocab(corpus)
            self.train(corpus, epochs=self.epochs)

    # ---- vocabulary and tables
    def build_vocab(self, sentences=None, corpus_file=None):
        """Count the corpus, keep words with >= min_count occurrences, and initialise
        the tables (input uniform in [-0.5/D, 0.5/D), output zero). Resets training."""
        corpus = sentences if isinstance(sentences, C.CorpusFile) else \
            C.corpus_iterable(sentences, corpus_file)
        vocab = C.Vocabulary.build(corpus, self.min_count, self.max_vocab_size)
        V, D = len(vocab), self.vector_size
        init = self._rng.random((V + 1, D), dtype="float32")
        init = (init - 0.5) / D
        init[V] = 0.0                      # the padding row of contexts
        self._set_tables(vocab, init, init[:V] * 0.0)
        self.train_count = 0
        return self

    def _set_tables(self, vocab, syn0, syn1neg):
        """Install a vocabulary and the two tables (host or device arrays)."""
        self.vocab = vocab
        V, D = len(vocab), self.vector_size
        self._keep_prob = vocab.keep_probabilities(self.sample)
        self._cum_table = vocab.cum_table(self.ns_exponent)
        self._pair_rate = self._most_repeated_pair_rate()
        # row V pads the contexts: zero, never updated (padding_idx)
        self.syn0 = nn.Embedding(V + 1, D, padding_idx=V, sparse=True,
                                 _weight=tensor(syn0, device=self.device))
        self.syn1neg = nn.Embedding(V, D, sparse=True, _weight=tensor(syn1neg, device=self.device))
        self.optimizer = optim.SGD(list(self.syn0.parameters()) + list(self.syn1neg.parameters()),
                                   lr=self.alpha)
        self._sync_wv()

    # ---- saving the whole model (gensim's model.save / Word2Vec.load)
    _SAVED = SETTINGS_OF_VERSION[FORMAT_VERSION]     # the settings a save holds

    def save(self, path):
        """Save the whole model (settings, vocabulary and counts, both tables, the
        random generator's state, the training count) with ``ts.save``, so that
        ``Word2Vec.load(path).train(sentences)`` continues exactly where this model
        would. The corpus is not saved. For the vectors alone, use
        ``model.wv.save_word2vec_format``."""
        if self.vocab is None:
            raise RuntimeError("Word2Vec.save: nothing to save before build_vocab")
        save({"format": "tinygrad_seq.word2vec", "version": FORMAT_VERSION,
              "settings": {k: getattr(self, k) for k in SETTINGS_OF_VERSION[FORMAT_VERSION]},
              "index_to_key": list(self.vocab.index_to_key), "counts": self.vocab.counts,
              "total_words": self.vocab.total_words, "syn0": self.syn0.weight.array,
              "syn1neg": self.syn1neg.weight.array, "train_count": self.train_count,
              "rng": self._rng.bit_generator.state}, path)

    @classmethod
    def load(cls, path, device=None):
        """A model saved by ``save``, on `device` (default: the framework's default);
        train() on it needs the corpus again (``sentences=`` or ``corpus_file=``).
        Every field is checked before anything is built: a file that is not an intact
        Word2Vec save raises ``ts.SerializationError`` naming the file and the field.
        Files of an older format version load (settings added since take their
        defaults); a newer version is refused."""
        name = file_name(path)
        saved = SavedModel(load(path, device="cpu"), name)
        model = cls(device=device, **saved.settings)
        model._set_tables(saved.vocabulary, saved.syn0, saved.syn1neg)
        model.train_count = saved.train_count
        model._rng.bit_generator.state = saved.rng
        return model

    def _sync_wv(self):
        vectors = backend.to_numpy(self.syn0.weight.array[:len(self.vocab)])
        self.wv = KeyedVectors(vectors, list(self.vocab.index_to_key),
                               counts=self.vocab.counts)

    # ---- one minibatch
    def examples(self, sentences):
        """The training examples of one minibatch of encoded sentences (lists of word
        indices), drawn with the model's random generator, as host arrays (inputs,
        targets): targets (m, 1 + negative) holds the positive word, then the negatives;
        inputs (m, J) holds the input words, padded with len(vocab):

        - CBOW: one example per center word, J = 2 window context words (their mean is
          the input vector);
        - skip-gram with ``shared_negatives`` (default): one example per center word, J =
          2 window context words, each its own input vector, all scored against the
          same targets (the center and one draw of negatives);
        - skip-gram without: one example per (center, context) pair, J = 1, with its
          own draw of negatives, as word2vec and gensim."""
        words, sid = C.subsample(sentences, self._keep_prob, self._rng)
        b = C.reduced_windows(words.shape[0], self.window, self._rng)
        if self.sg and not self.shared_negatives:
            center, context = C.skipgram_pairs(words, sid, self.window, b)
            inputs = context[:, None]
        else:
            center, inputs = C.cbow_examples(words, sid, self.window, b, pad=len(self.vocab))
        negatives = C.draw_negatives(self._cum_table, (center.shape[0], self.negative), self._rng)
        xp = backend.xp("cpu")
        targets = xp.concatenate([center[:, None], negatives], axis=1)
        return inputs, targets

    def _as_inputs(self, inputs):
        """Inputs as (m, J); a 1-D skip-gram input is one word per example."""
        return inputs[:, None] if inputs.ndim == 1 else inputs

    def _logit_weights(self, inputs, targets):
        """Weights of the logits, on the arrays' device: 0 for a negative that drew the
        positive word itself (word2vec skips those draws) and, in skip-gram, for padded
        input slots; else 1. Skip-gram: (m, J, 1 + k); CBOW: (m, 1, 1 + k)."""
        xp = backend.array_module(targets)
        keep = targets != targets[:, :1]
        keep[:, 0] = True
        if self.sg:
            keep = (inputs != len(self.vocab))[:, :, None] & keep[:, None, :]
        else:
            keep = keep[:, None, :]
        return keep.astype(xp.float32)

    def loss(self, inputs, targets):
        """The summed negative-sampling loss of a minibatch (a Tensor, with a graph to
        syn0 and syn1neg): binary cross-entropy of the logits u_t . h with label 1 for
        the positive column and 0 for the negatives, for every input vector h of an
        example (skip-gram: each context word; CBOW: the mean of them), weighted by
        ``_logit_weights``."""
        inputs = self._as_inputs(inputs)
        dev = self.device
        weight = self._logit_weights(inputs, targets)
        inp = tensor(inputs, device=dev)
        if self.sg:
            h = self.syn0(inp)                                     # (m, J, D)
        else:
            h = self.syn0(inp).sum(axis=1, keepdims=True)          # (m, 1, D): pads are 0
            if self.cbow_mean:
                n = (inputs != len(self.vocab)).sum(axis=1).astype("float32")[:, None, None]
                h = h + (h * tensor(1.0 / n - 1.0, device=dev)).detach()   # value: mean
        u = self.syn1neg(tensor(targets, device=dev))              # (m, 1 + k, D)
        logits = h @ u.mT                                          # (m, J | 1, 1 + k)
        xp = backend.xp("cpu")
        labels = xp.zeros(logits.shape, dtype="float32")
        labels[..., 0] = 1.0
        return F.binary_cross_entropy_with_logits(
            logits, tensor(labels, device=dev), reduction="sum",
            weight=tensor(weight, device=dev))

    def step(self, inputs, targets, lr):
        """One SGD step of learning rate `lr` on a minibatch; returns the summed loss.
        ``fast_path=True`` (default): ``step_fast``, else ``step_autodiff``."""
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

    def _train_step(self, inputs, targets, lr):
        """``step`` inside train(): the fast path's loss stays a backend scalar, so that
        a GPU step needs no sync."""
        if self.fast_path:
            return self._step_fast(inputs, targets, lr)
        return self.step_autodiff(inputs, targets, lr)

    def step_fast(self, inputs, targets, lr):
        """The same step as ``step_autodiff`` written out on backend arrays (no graph).
        With f = u_t . h and e = (s(f) - label) * weight (the gradient of the summed
        loss in f), the syn1neg rows t get -lr sum_h e h and the rows of h (each
        skip-gram input word, or each CBOW context word) get -lr sum_t e u_t; both from
        the weights before the step, repeated rows adding up, as SGD's sparse update.
        Tested equal to step_autodiff, step by step and over whole trainings
        (tests/test_word2vec.py)."""
        return float(self._step_fast(inputs, targets, lr))

    def _step_fast(self, inputs, targets, lr):
        """step_fast's work; returns the loss as a backend scalar."""
        w0, w1 = self.syn0.weight, self.syn1neg.weight
        W0, W1 = w0.array, w1.array
        xp = backend.array_module(W0)
        dev, pad, D, dt = self.device, len(self.vocab), W0.shape[1], W0.dtype
        inputs = backend.to_device(self._as_inputs(inputs), dev)
        targets = backend.to_device(targets, dev)
        (m, J), K = inputs.shape, targets.shape[1]
        get = self._scratch.get
        weight = self._logit_weights(inputs, targets).astype(dt, copy=False)
        v = xp.take(W0, inputs, axis=0, out=get("v", (m, J, D), dt, xp))
        if self.sg:
            h = v                                                  # each input its own h
        else:
            h = v.sum(axis=1, keepdims=True)                       # (m, 1, D)
            if self.cbow_mean:
                h /= (inputs != pad).sum(axis=1).astype(dt)[:, None, None]
        u = xp.take(W1, targets, axis=0, out=get("u", (m, K, D), dt, xp))
        f = xp.matmul(h, u.transpose(0, 2, 1))                     # (m, J | 1, K)
        e = backend.sigmoid(f)
        e[..., 0] -= 1.0                                           # s(f) - label
        e *= weight
        f[..., 0] *= -1.0
        loss = (xp.logaddexp(0.0, f) * weight).sum()               # -log s(+-f), weighted
        e *= -lr                                                   # the SGD step: -lr grad
        step_out = xp.matmul(e.transpose(0, 2, 1), h, out=get("out", (m, K, D), dt, xp))
        step_in = xp.matmul(e, u, out=get("in", (m, h.shape[1], D), dt, xp))
        # flat-index scratch of the NumPy scatter (CuPy's atomic scatter needs none)
        index = get("index", (m * max(J, K) * D,), backend.intp, xp) if dev == "cpu" \
            else None
        backend.add_rows(W1, targets.reshape(-1), step_out.reshape(-1, D), index)
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
        w1._version[0] += 1
        return loss

    # ---- training
    def _most_repeated_pair_rate(self):
        """The expected number of times, per example, that the most frequent (input row,
        output row) pair is updated: max_j P(input j) * max_i (P(positive i) + negative
        P(negative i)), with the frequencies of the words kept by subsampling. A CBOW
        example counts its input words once, not once per context word: with
        ``cbow_mean`` each of them moves the logit by 1/n of what it would alone; with
        the sum (``cbow_mean=0``) it counts the expected window+1 context words."""
        counts = self.vocab.counts * self._keep_prob
        p = counts / max(counts.sum(), 1e-300)
        q = self.vocab.negative_distribution(self.ns_exponent)
        inputs = float(p.max()) * (self.window + 1 if not self.sg and not self.cbow_mean else 1)
        return inputs * float((p + self.negative * q).max())

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

    def train(self, sentences=None, corpus_file=None, epochs=None, start_alpha=None,
              end_alpha=None, progress=None):
        """Train for `epochs` passes (default: the model's) over the corpus (default: the
        one given at construction; a new one must use the same vocabulary), the
        learning rate decaying linearly from start_alpha (default alpha) to end_alpha
        (default min_alpha) over the raw words of all passes. Callable again to
        continue training. Returns (words trained after subsampling, raw words)."""
        if self.vocab is None:
            raise RuntimeError("Word2Vec.train: build the vocabulary first (build_vocab, or "
                               "pass sentences= or corpus_file= to the constructor)")
        if sentences is None and corpus_file is None:
            corpus = getattr(self, "_corpus", None)
            if corpus is None:
                raise TypeError("Word2Vec.train: give sentences= or corpus_file=")
        else:
            corpus = sentences if isinstance(sentences, C.CorpusFile) else \
                C.corpus_iterable(sentences, corpus_file)
        self._corpus = corpus
        epochs = self.epochs if epochs is None else SETTING_CHECKS["epochs"]("epochs", epochs)
        a0 = self.alpha if start_alpha is None else \
            SETTING_CHECKS["alpha"]("start_alpha", start_alpha)
        a1 = self.min_alpha if end_alpha is None else \
            SETTING_CHECKS["min_alpha"]("end_alpha", end_alpha)
        show = self.progress if progress is None else progress
        total = self.vocab.total_words
        bar = _tqdm(total=epochs * total, unit="word", unit_scale=True, desc="word2vec") \
            if show and _tqdm is not None else None
        self.running_training_loss, examples, trained, raw_all = 0.0, 0, 0, 0
        started = time.perf_counter()
        try:
            for epoch in range(epochs):
                done = 0
                for sentences_, raw in C.encode_batches(corpus, self.vocab, self.batch_words):
                    progress_ = (epoch + done / max(total, 1)) / max(epochs, 1)
                    lr = max(a1, a0 - (a0 - a1) * progress_)
                    inputs, targets = self.examples(sentences_)
                    bounds = self._step_bounds(inputs)
                    # one copy per job to the model's device
                    inputs = backend.to_device(inputs, self.device)
                    targets = backend.to_device(targets, self.device)
                    job_loss = 0.0
                    for i, j in zip(bounds[:-1], bounds[1:]):
                        job_loss = job_loss + self._train_step(inputs[i:j], targets[i:j], lr)
                    self.running_training_loss += float(job_loss)     # one read per job
                    examples += targets.shape[0]
                    trained += sum(len(s) for s in sentences_)
                    done += raw
                    raw_all += raw
                    if bar is not None:
                        bar.update(raw)
                        bar.set_postfix(loss=f"{self.running_training_loss / max(examples, 1):.4f}",
                                        lr=f"{lr:.5f}", refresh=False)
        finally:
            if bar is not None:
                bar.close()
        self.train_count += 1
        self.last_train_seconds = time.perf_counter() - started
        self.last_train_examples = examples
        self._sync_wv()
        return trained, raw_all

    def get_latest_training_loss(self):
        """The summed loss of the last train() call (gensim's name)."""
        return self.running_training_loss

    def __repr__(self):
        n = 0 if self.vocab is None else len(self.vocab)
        return (f"Word2Vec<vocab={n}, vector_size={self.vector_size}, sg={self.sg}, "
                f"window={self.window}, negative={self.negative}, alpha={self.alpha}>")



class _Scratch:
    """Reusable arrays for the steps of one model, grown on demand. Without them a
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
