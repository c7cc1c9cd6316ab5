"""The d2l.ai chapters "Recurrent Neural Network Implementation from Scratch" (9.5),
its "Concise Implementation" (9.6, with 10.1's LSTM and 10.2's GRU) and their data
pipeline (9.3, "Language Models": `TimeMachine` windows through `get_tensorloader`),
written once against `torch.*` and run with torch and with tinygrad_seq.

What it exercises: `RNNScratch(nn.Module)` with `nn.Parameter(torch.randn(...) *
sigma)`, `torch.zeros((batch, hiddens), device=inputs.device)`, iterating a
(T, N, V) tensor step by step (`for X in inputs:`), `torch.tanh(torch.matmul(...) + ...)`,
`state, = state` unpacking; `RNNLMScratch` with `F.one_hot(X.T, vocab_size).type(dtype)`,
`torch.stack(outputs, 1)`, `Y_hat.reshape((-1, Y_hat.shape[-1]))`, `F.cross_entropy(...,
reduction='mean')`; the data module: `torch.tensor([corpus[i:i+num_steps+1] for i in
...])`, `array[:, :-1]`, `torch.utils.data.TensorDataset(*tensors)` and
`torch.utils.data.DataLoader(dataset, batch_size, sampler=...)` (the order fixed by the
test, where d2l has `shuffle=train`); the Trainer: `torch.optim.SGD(self.parameters(),
lr)`, `zero_grad()`, `loss.backward()` inside `torch.no_grad()`, d2l's
`clip_gradients` (`torch.sqrt(sum(torch.sum((p.grad ** 2)) for p in params))`, `if
norm > grad_clip_val:`, `param.grad[:] *= grad_clip_val / norm`), validation perplexity
`torch.exp(l)`; `predict` (`torch.tensor([[outputs[-1]]], device=device)`,
`int(Y.argmax(axis=2).reshape(1))`); the concise model: `getattr(nn, cell)(num_inputs,
num_hiddens)` called with `H=None` or the previous state, `nn.LazyLinear(vocab_size)`,
`self.linear(hiddens).swapaxes(0, 1)`.
"""
import numpy as np
import pytest

from conformance_harness import (assert_loss_close, assert_losses_equal, build_pair,
                                 needs_torch, run_both)


def make_classes(torch):
    nn = torch.nn
    F = torch.nn.functional

    class RNNScratch(nn.Module):
        """The RNN model implemented from scratch."""

        def __init__(self, num_inputs, num_hiddens, sigma=0.01):
            super().__init__()
            self.num_inputs, self.num_hiddens, self.sigma = num_inputs, num_hiddens, sigma
            self.W_xh = nn.Parameter(torch.randn(num_inputs, num_hiddens) * sigma)
            self.W_hh = nn.Parameter(torch.randn(num_hiddens, num_hiddens) * sigma)
            self.b_h = nn.Parameter(torch.zeros(num_hiddens))

        def forward(self, inputs, state=None):
            if state is None:
                # Initial state with shape: (batch_size, num_hiddens)
                state = torch.zeros((inputs.shape[1], self.num_hiddens), device=inputs.device)
            else:
                state, = state
            outputs = []
            for X in inputs:  # Shape of inputs: (num_steps, batch_size, num_inputs)
                state = torch.tanh(torch.matmul(X, self.W_xh) +
                                   torch.matmul(state, self.W_hh) + self.b_h)
                outputs.append(state)
            return outputs, state

    class RNNLMScratch(nn.Module):
        """The RNN-based language model implemented from scratch."""

        def __init__(self, rnn, vocab_size, lr=0.01):
            super().__init__()
            self.rnn, self.vocab_size, self.lr = rnn, vocab_size, lr
            self.init_params()

        def init_params(self):
            self.W_hq = nn.Parameter(torch.randn(self.rnn.num_hiddens, self.vocab_size) * self.rnn.sigma)
            self.b_q = nn.Parameter(torch.zeros(self.vocab_size))

        def one_hot(self, X):
            # Output shape: (num_steps, batch_size, vocab_size)
            return F.one_hot(X.T, self.vocab_size).type(torch.get_default_dtype())

        def output_layer(self, rnn_outputs):
            outputs = [torch.matmul(H, self.W_hq) + self.b_q for H in rnn_outputs]
            return torch.stack(outputs, 1)

        def forward(self, X, state=None):
            embs = self.one_hot(X)
            rnn_outputs, _ = self.rnn(embs, state)
            return self.output_layer(rnn_outputs)

        def loss(self, Y_hat, Y, averaged=True):
            Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
            Y = Y.reshape((-1,))
            return F.cross_entropy(Y_hat, Y, reduction="mean" if averaged else "none")

        def training_step(self, batch):
            return self.loss(self(*batch[:-1]), batch[-1])

        def validation_step(self, batch):
            l = self.loss(self(*batch[:-1]), batch[-1])  # noqa: E741  (d2l's name)
            return torch.exp(l)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), self.lr)

        def predict(self, prefix, num_preds, vocab, device=None):
            state, outputs = None, [vocab[prefix[0]]]
            for i in range(len(prefix) + num_preds - 1):
                X = torch.tensor([[outputs[-1]]], device=device)
                embs = self.one_hot(X)
                rnn_outputs, state = self.rnn(embs, state)
                if i < len(prefix) - 1:  # Warm-up period
                    outputs.append(vocab[prefix[i + 1]])
                else:  # Predict num_preds steps
                    Y = self.output_layer(rnn_outputs)
                    outputs.append(int(Y.argmax(axis=2).reshape(1)))
            return "".join([vocab.idx_to_token[i] for i in outputs])

    # 9.6 "Concise Implementation" (and 10.1, 10.2: the LSTM and GRU)
    class RNN(nn.Module):
        """The RNN model implemented with high-level APIs."""

        def __init__(self, num_inputs, num_hiddens, cell="RNN"):
            super().__init__()
            self.num_inputs, self.num_hiddens = num_inputs, num_hiddens
            self.rnn = getattr(nn, cell)(num_inputs, num_hiddens)

        def forward(self, inputs, H=None):
            return self.rnn(inputs, H)

    class RNNLM(RNNLMScratch):
        """The RNN-based language model implemented with high-level APIs."""

        def init_params(self):
            self.linear = nn.LazyLinear(self.vocab_size)

        def output_layer(self, hiddens):
            return self.linear(hiddens).swapaxes(0, 1)

    return RNNScratch, RNNLMScratch, RNN, RNNLM


def build(torch, vocab_size, num_hiddens=32, lr=1.0, kind="scratch"):
    RNNScratch, RNNLMScratch, RNN, RNNLM = make_classes(torch)
    if kind == "scratch":
        rnn = RNNScratch(num_inputs=vocab_size, num_hiddens=num_hiddens)
        return RNNLMScratch(rnn, vocab_size=vocab_size, lr=lr)
    model = RNNLM(RNN(vocab_size, num_hiddens, cell=kind), vocab_size=vocab_size, lr=lr)
    model(torch.zeros((2, 3), dtype=torch.long))      # materializes the LazyLinear
    return model


class Vocab:
    """Characters to indices (d2l's Vocab, for a fixed alphabet)."""

    def __init__(self, text):
        self.idx_to_token = sorted(set(text))
        self.token_to_idx = {t: i for i, t in enumerate(self.idx_to_token)}

    def __len__(self):
        return len(self.idx_to_token)

    def __getitem__(self, token):
        return self.token_to_idx[token]


def fit(torch, model, corpus, num_steps, num_train, num_val, batch_size, orders,
        gradient_clip_val=1.0):
    """d2l's data module and Trainer.fit; `orders` one index order per epoch (the
    test's). Returns (per-batch training losses, per-epoch validation perplexity)."""

    # the data module (d2l.TimeMachine)
    array = torch.tensor([corpus[i:i + num_steps + 1] for i in range(len(corpus) - num_steps)])
    X, Y = array[:, :-1], array[:, 1:]

    def get_tensorloader(tensors, sampler, indices=slice(0, None)):
        tensors = tuple(a[indices] for a in tensors)
        dataset = torch.utils.data.TensorDataset(*tensors)
        return torch.utils.data.DataLoader(dataset, batch_size, sampler=sampler)

    val_dataloader = get_tensorloader([X, Y], None, slice(num_train, num_train + num_val))

    def clip_gradients(grad_clip_val, model):
        params = [p for p in model.parameters() if p.requires_grad]
        norm = torch.sqrt(sum(torch.sum((p.grad ** 2)) for p in params))
        if norm > grad_clip_val:
            for param in params:
                param.grad[:] *= grad_clip_val / norm

    optim = model.configure_optimizers()
    losses, perplexities = [], []
    for order in orders:
        model.train()
        for batch in get_tensorloader([X, Y], list(order), slice(0, num_train)):
            loss = model.training_step(batch)
            optim.zero_grad()
            with torch.no_grad():
                loss.backward()
                if gradient_clip_val > 0:
                    clip_gradients(gradient_clip_val, model)
                optim.step()
            losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            ppl = [model.validation_step(batch).item() for batch in val_dataloader]
        perplexities.append(float(np.mean(ppl)))
    return losses, perplexities


def make_text(n, seed):
    """A character stream of words from a small lexicon: something to learn."""
    rng = np.random.default_rng(seed)
    words = ["time", "machine", "traveller", "the", "said", "it", "was"]
    return " ".join(words[i] for i in rng.integers(len(words), size=n))


def setup_data(n_words, num_steps, num_train, num_val, epochs, seed=0):
    text = make_text(n_words, seed)
    vocab = Vocab(text)
    corpus = [vocab[c] for c in text]
    assert len(corpus) - num_steps >= num_train + num_val
    rng = np.random.default_rng(seed + 10)
    orders = [rng.permutation(num_train) for _ in range(epochs)]
    return vocab, corpus, orders


@needs_torch
@pytest.mark.parametrize("kind", ["scratch", "RNN", "GRU", "LSTM"])
def test_d2l_rnn_scratch_float64_losses_and_prediction_match(kind):
    vocab, corpus, orders = setup_data(120, 8, 160, 40, 1)
    theirs, ours = build_pair(build, len(vocab), kind=kind)
    (lt, pt), (lo, po) = run_both(fit, theirs, ours, corpus, 8, 160, 40, 8, orders)
    assert len(lt) == 20
    assert_losses_equal(lt, lo)
    np.testing.assert_allclose(po, pt, rtol=1e-9)
    st, so = run_both(lambda lib, m: m.predict("the ", 12, vocab), theirs, ours)
    assert so == st


@needs_torch
@pytest.mark.parametrize("epochs, kind", [(3, "scratch"),
                                          pytest.param(15, "scratch", marks=pytest.mark.slow),
                                          pytest.param(15, "GRU", marks=pytest.mark.slow)])
def test_d2l_rnn_scratch_float32_perplexity(epochs, kind):
    vocab, corpus, orders = setup_data(600, 16, 1000, 200, epochs, seed=1)
    theirs, ours = build_pair(build, len(vocab), kind=kind, dtype="float32")
    (lt, pt), (lo, po) = run_both(fit, theirs, ours, corpus, 16, 1000, 200, 32, orders,
                                  dtype="float32")
    assert pt[-1] < 0.7 * len(vocab)        # better than uniform guessing
    assert_loss_close(pt[-1], po[-1])
