"""Word2Vec: skip-gram and CBOW with negative sampling, trained on the framework.

The model is two ``nn.Embedding(sparse=True)`` tables: ``syn0`` (input vectors, the
word vectors of ``wv``; gensim's init, uniform in [-0.5/D, 0.5/D)) and ``syn1neg``
(output vectors, zero at the start). A minibatch holds examples (input, positive word,
k negative words); its loss is

    sum over examples of  -log s(u_pos . h) - sum_k log s(-u_k . h)
      = F.binary_cross_entropy_with_logits(logits, labels, reduction="sum")

with h the input vector (skip-gram: the context word's vector, predicting the center
word, as word2vec and gensim do; CBOW: the mean of the context vectors, predicting the
center). Autodiff gives row-sparse gradients of the rows used and ``optim.SGD`` with
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
from ..autograd import Tensor
from ..modes import no_grad
from . import corpus as C
from .keyedvectors import KeyedVectors

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
    a job and decays between jobs. ``batch_examples`` (not in gensim): examples per SGD
    step; the job's examples are trained in steps of that many, in order. The examples
    of one step all see the weights from before it and a row used by several of them
    gets the sum of their updates, so a step must stay small next to the vocabulary
    (a row repeated hundreds of times in one step makes SGD diverge where word2vec's
    one-example steps would not). ``fast_path``: train with ``step_fast`` (the same
    update as the autodiff ``step_autodiff``, written on backend arrays) or with
    ``step_autodiff`` (Embedding(sparse=True), F.binary_cross_entropy_with_logits,
    optim.SGD). ``device``: where the tables live (default: the framework's
    default device). The vectors are in ``model.wv`` (KeyedVectors)."""

    def __init__(self, sentences=None, corpus_file=None, vector_size=100, window=5, min_count=5,
                 max_vocab_size=None, sg=0, negative=5, ns_exponent=0.75, sample=1e-3,
                 alpha=0.025, min_alpha=0.0001, epochs=5, batch_words=10000, seed=1,
                 progress=True, cbow_mean=1, batch_examples=1024, fast_path=True, device=None):
        if (vector_size < 1 or window < 1 or negative < 1 or epochs < 0 or batch_words < 1
                or batch_examples < 1):
            raise ValueError(f"Word2Vec: vector_size, window, negative and batch_words must be "
                             f">= 1 and epochs >= 0 (got vector_size={vector_size}, "
                             f"window={window}, negative={negative}, epochs={epochs}, "
                             f"batch_words={batch_words}, batch_examples={batch_examples})")
        if sg not in (0, 1) or cbow_mean not in (0, 1):
            raise ValueError(f"Word2Vec: sg and cbow_mean must be 0 or 1, got {sg}, {cbow_mean}")
        self.vector_size, self.window, self.min_count = int(vector_size), int(window), min_count
        self.max_vocab_size, self.sg, self.negative = max_vocab_size, int(sg), int(negative)
        self.ns_exponent, self.sample, self.cbow_mean = ns_exponent, sample, int(cbow_mean)
        self.alpha, self.min_alpha, self.epochs = float(alpha), float(min_alpha), int(epochs)
        self.batch_words, self.seed, self.progress = int(batch_words), seed, progress
        self.batch_examples, self.fast_path = int(batch_examples), bool(fast_path)
        self.device = device if device is not None else backend.default_device
        self.vocab = None
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
        self.vocab = C.Vocabulary.build(corpus, self.min_count, self.max_vocab_size)
        V, D = len(self.vocab), self.vector_size
        self._keep_prob = self.vocab.keep_probabilities(self.sample)
        self._cum_table = self.vocab.cum_table(self.ns_exponent)
        init = self._rng.random((V + 1, D), dtype="float32")
        init = (init - 0.5) / D
        init[V] = 0.0                      # the padding row of CBOW contexts
        # row V pads CBOW contexts: zero, never updated (padding_idx)
        self.syn0 = nn.Embedding(V + 1, D, padding_idx=V, sparse=True,
                                 _weight=Tensor(init, device=self.device))
        self.syn1neg = nn.Embedding(V, D, sparse=True,
                                    _weight=Tensor(init[:V] * 0.0, device=self.device))
        self.optimizer = optim.SGD(list(self.syn0.parameters()) + list(self.syn1neg.parameters()),
                                   lr=self.alpha)
        self.train_count = 0
        self._sync_wv()
        return self

    def _sync_wv(self):
        vectors = backend.to_numpy(self.syn0.weight.data[:len(self.vocab)])
        self.wv = KeyedVectors(vectors, list(self.vocab.index_to_key),
                               counts=self.vocab.counts)

    # ---- one minibatch
    def examples(self, sentences):
        """The training examples of one minibatch of encoded sentences (lists of word
        indices), drawn with the model's random generator: (inputs, targets) with
        inputs (m,) word indices (skip-gram) or (m, 2*window) padded contexts (CBOW) and
        targets (m, 1 + negative): the positive word, then the negatives."""
        words, sid = C.subsample(sentences, self._keep_prob, self._rng)
        b = C.reduced_windows(words.shape[0], self.window, self._rng)
        if self.sg:
            center, inputs = C.skipgram_pairs(words, sid, self.window, b)
        else:
            center, inputs = C.cbow_examples(words, sid, self.window, b, pad=len(self.vocab))
        negatives = C.draw_negatives(self._cum_table, (center.shape[0], self.negative), self._rng)
        xp = backend.xp("cpu")
        targets = xp.concatenate([center[:, None], negatives], axis=1)
        return inputs, targets

    def loss(self, inputs, targets):
        """The summed negative-sampling loss of a minibatch (a Tensor, with a graph to
        syn0 and syn1neg): binary cross-entropy of the logits u_t . h with label 1 for
        the positive column and 0 for the negatives (a negative that drew the positive
        word itself is skipped, as in word2vec)."""
        weight = C.collision_weights(targets[:, 0], targets[:, 1:])
        xp = backend.xp("cpu")
        labels = xp.zeros(targets.shape, dtype="float32")
        labels[:, 0] = 1.0
        dev = self.device
        inp = Tensor(inputs, device=dev)
        if self.sg:
            h = self.syn0(inp)                                     # (m, D)
        else:
            s = self.syn0(inp).sum(axis=1)                         # (m, D): padding rows are 0
            if self.cbow_mean:
                n = (inputs != len(self.vocab)).sum(axis=1, keepdims=True).astype("float32")
                s = s + (s * Tensor(1.0 / n - 1.0, device=dev)).detach()   # value: mean
            h = s
        u = self.syn1neg(Tensor(targets, device=dev))              # (m, 1 + k, D)
        logits = (u @ h.unsqueeze(-1)).squeeze(-1)                 # (m, 1 + k)
        return F.binary_cross_entropy_with_logits(
            logits, Tensor(labels, device=dev), reduction="sum",
            weight=None if weight is None else Tensor(weight, device=dev))

    def step(self, inputs, targets, lr):
        """One SGD step of learning rate `lr` on a minibatch; returns the summed loss.
        ``fast_path=True`` (default): ``step_fast``, else ``step_autodiff``."""
        if self.fast_path:
            return self.step_fast(inputs, targets, lr)
        return self.step_autodiff(inputs, targets, lr)

    def step_autodiff(self, inputs, targets, lr):
        """The reference step: ``loss`` through autodiff, row-sparse gradients, optim.SGD."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad()
        loss = self.loss(inputs, targets)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def step_fast(self, inputs, targets, lr):
        """The same step as ``step_autodiff`` written out on backend arrays (no graph).
        With f = u_t . h and e = (s(f) - label) * weight (the gradient of the summed
        loss in f), the syn1neg rows t get -lr e h and the rows of h (the skip-gram
        input, or each CBOW context word) get -lr sum_t e u_t; both from the weights
        before the step, repeated rows adding up, as SGD's sparse update. Tested equal
        to step_autodiff, step by step and over whole trainings (tests/test_word2vec.py)."""
        w0, w1 = self.syn0.weight, self.syn1neg.weight
        W0, W1 = w0.data, w1.data
        xp = backend.array_module(W0)
        dev = self.device
        inputs_d, targets_d = backend.to_device(inputs, dev), backend.to_device(targets, dev)
        if self.sg:
            h = xp.take(W0, inputs_d, axis=0)                      # (m, D)
        else:
            h = xp.take(W0, inputs_d, axis=0).sum(axis=1)
            if self.cbow_mean:
                n = (inputs_d != len(self.vocab)).sum(axis=1, keepdims=True)
                h = h / n.astype(h.dtype)
        u = xp.take(W1, targets_d, axis=0)                         # (m, 1 + k, D)
        f = xp.einsum("mkd,md->mk", u, h)                          # (m, 1 + k)
        sign = xp.full(f.shape, -1.0, dtype=f.dtype)
        sign[:, 0] = 1.0
        e = backend.sigmoid(f)
        e[:, 0] -= 1.0                                             # s(f) - label
        nll = xp.logaddexp(0.0, -sign * f)                         # -log s(+-f)
        weight = C.collision_weights(targets[:, 0], targets[:, 1:])
        if weight is not None:
            weight = backend.to_device(weight, dev).astype(f.dtype)
            e *= weight
            nll *= weight
        loss = float(nll.sum())
        e *= -lr                                                   # the SGD step: -lr grad
        step_in = xp.einsum("mk,mkd->md", e, u)                    # (m, D): -lr dloss/dh
        step_out = e[:, :, None] * h[:, None, :]                   # (m, 1 + k, D)
        D = W0.shape[1]
        _add_rows(W1, targets_d.reshape(-1), step_out.reshape(-1, D))
        if self.sg:
            _add_rows(W0, inputs_d, step_in)
        else:
            rows = xp.nonzero(inputs_d != len(self.vocab))
            _add_rows(W0, inputs_d[rows], step_in[rows[0]])
        w0._version[0] += 1
        w1._version[0] += 1
        return loss

    # ---- training
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
        epochs = self.epochs if epochs is None else int(epochs)
        a0 = self.alpha if start_alpha is None else float(start_alpha)
        a1 = self.min_alpha if end_alpha is None else float(end_alpha)
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
                    for i in range(0, targets.shape[0], self.batch_examples):
                        j = i + self.batch_examples
                        self.running_training_loss += self.step(inputs[i:j], targets[i:j], lr)
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


def _add_rows(table, rows, values):
    """table[rows] += values with repeated rows adding up: one add-at on the flat table
    with one index per element (NumPy's fast 1-D add.at path, faster here than sorting
    + add.reduceat or the row-wise add.at; CuPy: an atomic scatter-add)."""
    if rows.shape[0] == 0:
        return
    if backend.device_of(table) != "cpu" or not table.flags.c_contiguous:
        backend.add_at(table, rows, values)
        return
    xp = backend.array_module(table)
    width = table.shape[1]
    flat = (rows[:, None] * width + xp.arange(width)).reshape(-1)
    backend.add_at(table.reshape(-1), flat, values.reshape(-1))
