"""A word-level language model in the style of pytorch/examples `word_language_model`
(`data.py`, `model.py`, `main.py`, `generate.py`), written once against `torch.*` and
run with torch and with tinygrad_seq.

What it exercises: a `Dictionary`/`Corpus` tokenizer building `torch.tensor(ids)
.type(torch.int64)` and `torch.cat`; `batchify` (`narrow`, `view(bsz, -1).t()
.contiguous()`, `.to(device)`); `get_batch` slicing `source[i:i+seq_len]` and
`.view(-1)`, `len(tensor)`; `RNNModel` for RNN_TANH, RNN_RELU, LSTM and GRU
(`getattr(nn, rnn_type)(...)`, `nn.RNN(..., nonlinearity=...)`, `nn.Dropout`, tied
encoder/decoder weights, `init_weights` through `weight.data.uniform_` and
`bias.data.zero_()`, `init_hidden` through `next(self.parameters()).new_zeros(...)`,
`F.log_softmax(decoded, dim=1)`); `TransformerModel` (a `PositionalEncoding` buffer
filled by `pe[:, 0::2] = torch.sin(...)`, `register_buffer`, `nn.TransformerEncoder`
of `nn.TransformerEncoderLayer` with a float mask `torch.log(torch.tril(torch.ones(sz,
sz)))`), in the older form (an `nn.Module`) and in the current one (a subclass of
`nn.Transformer` whose `decoder` attribute is replaced by the output `nn.Linear`);
`main.py`'s loop: `model.zero_grad()`, `repackage_hidden` (detaching the hidden
state between batches), `nn.NLLLoss`, `torch.nn.utils.clip_grad_norm_`, the manual SGD
step `p.data.add_(p.grad, alpha=-lr)`, `evaluate` under `torch.no_grad()` with
`model.eval()`, learning-rate annealing, saving the best model's state dict with
`torch.save(model.state_dict(), f)` to an open file and loading it back with
`model.load_state_dict(torch.load(f))` and `model.rnn.flatten_parameters()` (state
dicts, never whole-model pickles); `generate.py`: `output.squeeze().div(temperature)
.exp()`, `torch.multinomial(word_weights, 1)[0]`, `input.fill_(word_idx)`,
`torch.cat([input, word_tensor], 0)`.

Sampling: the test passes the draws (inverse-CDF draws from uniforms it made) so both
libraries follow one sequence, and compares the word weights along it; the program's
own `torch.multinomial` path runs too, checked for valid indices.
"""
import math
import os

import numpy as np
import pytest

from conformance_harness import (assert_loss_close, assert_losses_equal, build_pair,
                                 needs_torch, run_both)


# ---- data.py

class Dictionary(object):
    def __init__(self):
        self.word2idx = {}
        self.idx2word = []

    def add_word(self, word):
        if word not in self.word2idx:
            self.idx2word.append(word)
            self.word2idx[word] = len(self.idx2word) - 1
        return self.word2idx[word]

    def __len__(self):
        return len(self.idx2word)


class Corpus(object):
    """data.py's Corpus, reading lines from memory (the test's synthetic text)."""

    def __init__(self, torch, train, valid, test):
        self.torch = torch
        self.dictionary = Dictionary()
        self.train = self.tokenize(train)
        self.valid = self.tokenize(valid)
        self.test = self.tokenize(test)

    def tokenize(self, lines):
        torch = self.torch
        for line in lines:
            words = line.split() + ["<eos>"]
            for word in words:
                self.dictionary.add_word(word)
        idss = []
        for line in lines:
            words = line.split() + ["<eos>"]
            ids = []
            for word in words:
                ids.append(self.dictionary.word2idx[word])
            idss.append(torch.tensor(ids).type(torch.int64))
        ids = torch.cat(idss)
        return ids


# ---- model.py

def make_models(torch):
    nn = torch.nn
    F = torch.nn.functional

    class RNNModel(nn.Module):
        """Container module with an encoder, a recurrent module, and a decoder."""

        def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False):
            super(RNNModel, self).__init__()
            self.ntoken = ntoken
            self.drop = nn.Dropout(dropout)
            self.encoder = nn.Embedding(ntoken, ninp)
            if rnn_type in ["LSTM", "GRU"]:
                self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
            else:
                try:
                    nonlinearity = {"RNN_TANH": "tanh", "RNN_RELU": "relu"}[rnn_type]
                except KeyError as e:
                    raise ValueError("An invalid option for `--model` was supplied") from e
                self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity, dropout=dropout)
            self.decoder = nn.Linear(nhid, ntoken)
            if tie_weights:
                if nhid != ninp:
                    raise ValueError("When using the tied flag, nhid must be equal to emsize")
                self.decoder.weight = self.encoder.weight
            self.init_weights()
            self.rnn_type = rnn_type
            self.nhid = nhid
            self.nlayers = nlayers

        def init_weights(self):
            initrange = 0.1
            self.encoder.weight.data.uniform_(-initrange, initrange)
            self.decoder.bias.data.zero_()
            self.decoder.weight.data.uniform_(-initrange, initrange)

        def forward(self, input, hidden):
            emb = self.drop(self.encoder(input))
            output, hidden = self.rnn(emb, hidden)
            output = self.drop(output)
            decoded = self.decoder(output)
            decoded = decoded.view(-1, self.ntoken)
            return F.log_softmax(decoded, dim=1), hidden

        def init_hidden(self, bsz):
            weight = next(self.parameters())
            if self.rnn_type == "LSTM":
                return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                        weight.new_zeros(self.nlayers, bsz, self.nhid))
            else:
                return weight.new_zeros(self.nlayers, bsz, self.nhid)

    class PositionalEncoding(nn.Module):
        def __init__(self, d_model, dropout=0.1, max_len=5000):
            super(PositionalEncoding, self).__init__()
            self.dropout = nn.Dropout(p=dropout)
            pe = torch.zeros(max_len, d_model)
            position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
            div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
            pe[:, 0::2] = torch.sin(position * div_term)
            pe[:, 1::2] = torch.cos(position * div_term)
            pe = pe.unsqueeze(0).transpose(0, 1)
            self.register_buffer("pe", pe)

        def forward(self, x):
            x = x + self.pe[:x.size(0), :]
            return self.dropout(x)

    class TransformerModel(nn.Module):
        """Container module with an encoder, a recurrent or transformer module, and a decoder."""

        def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.5):
            super(TransformerModel, self).__init__()
            self.model_type = "Transformer"
            self.src_mask = None
            self.pos_encoder = PositionalEncoding(ninp, dropout, max_len=64)
            encoder_layers = nn.TransformerEncoderLayer(ninp, nhead, nhid, dropout)
            self.transformer_encoder = nn.TransformerEncoder(encoder_layers, nlayers,
                                                             enable_nested_tensor=False)
            self.encoder = nn.Embedding(ntoken, ninp)
            self.ninp = ninp
            self.decoder = nn.Linear(ninp, ntoken)
            self.init_weights()

        def _generate_square_subsequent_mask(self, sz):
            return torch.log(torch.tril(torch.ones(sz, sz)))

        def init_weights(self):
            initrange = 0.1
            nn.init.uniform_(self.encoder.weight, -initrange, initrange)
            nn.init.zeros_(self.decoder.bias)
            nn.init.uniform_(self.decoder.weight, -initrange, initrange)

        def forward(self, src, has_mask=True):
            if has_mask:
                device = src.device
                if self.src_mask is None or self.src_mask.size(0) != len(src):
                    mask = self._generate_square_subsequent_mask(len(src)).to(device)
                    self.src_mask = mask
            else:
                self.src_mask = None
            src = self.encoder(src) * math.sqrt(self.ninp)
            src = self.pos_encoder(src)
            output = self.transformer_encoder(src, self.src_mask)
            output = self.decoder(output)
            return F.log_softmax(output, dim=-1)

    class TransformerSubclassModel(nn.Transformer):
        """The current model.py's form: a subclass of nn.Transformer whose `decoder` is
        replaced by the output Linear (dropout passed down, so that it can be off)."""

        def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.5):
            super(TransformerSubclassModel, self).__init__(d_model=ninp, nhead=nhead,
                                                           dim_feedforward=nhid,
                                                           num_encoder_layers=nlayers,
                                                           dropout=dropout)
            self.model_type = "Transformer"
            self.src_mask = None
            self.pos_encoder = PositionalEncoding(ninp, dropout, max_len=64)
            self.input_emb = nn.Embedding(ntoken, ninp)
            self.ninp = ninp
            self.decoder = nn.Linear(ninp, ntoken)
            self.init_weights()

        def _generate_square_subsequent_mask(self, sz):
            return torch.log(torch.tril(torch.ones(sz, sz)))

        def init_weights(self):
            initrange = 0.1
            nn.init.uniform_(self.input_emb.weight, -initrange, initrange)
            nn.init.zeros_(self.decoder.bias)
            nn.init.uniform_(self.decoder.weight, -initrange, initrange)

        def forward(self, src, has_mask=True):
            if has_mask:
                device = src.device
                if self.src_mask is None or self.src_mask.size(0) != len(src):
                    mask = self._generate_square_subsequent_mask(len(src)).to(device)
                    self.src_mask = mask
            else:
                self.src_mask = None
            src = self.input_emb(src) * math.sqrt(self.ninp)
            src = self.pos_encoder(src)
            output = self.encoder(src, mask=self.src_mask)
            output = self.decoder(output)
            return F.log_softmax(output, dim=-1)

    return RNNModel, TransformerModel, TransformerSubclassModel


def build(torch, model_name, ntokens, emsize=16, nhid=16, nlayers=2, tied=False):
    RNNModel, TransformerModel, TransformerSubclassModel = make_models(torch)
    if model_name == "Transformer":
        return TransformerModel(ntokens, emsize, 2, nhid, nlayers, dropout=0.0)
    if model_name == "nn.Transformer":
        return TransformerSubclassModel(ntokens, emsize, 2, nhid, nlayers, dropout=0.0)
    return RNNModel(model_name, ntokens, emsize, nhid, nlayers, dropout=0.0, tie_weights=tied)


# ---- main.py

def main(torch, model, lines, save_dir, epochs=2, batch_size=4, eval_batch_size=2, bptt=8,
         lr=5.0, clip=0.25, max_batches=None):
    """main.py's training: returns (the per-batch training losses, the test loss of the
    best model, loaded back from its saved state dict)."""
    device = torch.device("cpu")
    corpus = Corpus(torch, *lines)

    def batchify(data, bsz):
        nbatch = data.size(0) // bsz
        data = data.narrow(0, 0, nbatch * bsz)
        data = data.view(bsz, -1).t().contiguous()
        return data.to(device)

    train_data = batchify(corpus.train, batch_size)
    val_data = batchify(corpus.valid, eval_batch_size)
    test_data = batchify(corpus.test, eval_batch_size)
    ntokens = len(corpus.dictionary)
    criterion = torch.nn.NLLLoss()
    is_transformer = not hasattr(model, "rnn_type")

    def repackage_hidden(h):
        """Wraps hidden states in new Tensors, to detach them from their history."""
        if isinstance(h, torch.Tensor):
            return h.detach()
        else:
            return tuple(repackage_hidden(v) for v in h)

    def get_batch(source, i):
        seq_len = min(bptt, len(source) - 1 - i)
        data = source[i:i + seq_len]
        target = source[i + 1:i + 1 + seq_len].view(-1)
        return data, target

    def evaluate(data_source):
        model.eval()
        total_loss = 0.
        if not is_transformer:
            hidden = model.init_hidden(eval_batch_size)
        with torch.no_grad():
            for i in range(0, data_source.size(0) - 1, bptt):
                data, targets = get_batch(data_source, i)
                if is_transformer:
                    output = model(data)
                    output = output.view(-1, ntokens)
                else:
                    output, hidden = model(data, hidden)
                    hidden = repackage_hidden(hidden)
                total_loss += len(data) * criterion(output, targets).item()
        return total_loss / (len(data_source) - 1)

    losses = []

    def train():
        model.train()
        if not is_transformer:
            hidden = model.init_hidden(batch_size)
        for batch, i in enumerate(range(0, train_data.size(0) - 1, bptt)):
            if max_batches is not None and batch >= max_batches:
                break
            data, targets = get_batch(train_data, i)
            model.zero_grad()
            if is_transformer:
                output = model(data)
                output = output.view(-1, ntokens)
            else:
                hidden = repackage_hidden(hidden)
                output, hidden = model(data, hidden)
            loss = criterion(output, targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)
            losses.append(loss.item())

    save = os.path.join(save_dir, "model.pt")
    best_val_loss = None
    for epoch in range(1, epochs + 1):
        train()
        val_loss = evaluate(val_data)
        if not best_val_loss or val_loss < best_val_loss:
            with open(save, "wb") as f:
                torch.save(model.state_dict(), f)
            best_val_loss = val_loss
        else:
            lr /= 4.0
    with open(save, "rb") as f:
        model.load_state_dict(torch.load(f))
        if not is_transformer:
            model.rnn.flatten_parameters()
    test_loss = evaluate(test_data)
    return losses, test_loss, math.exp(test_loss)


# ---- generate.py

def generate(torch, model, ntokens, words, temperature=1.0, draw=None):
    """generate.py's loop. `draw(word_weights)` picks the next word (default: the
    program's `torch.multinomial(word_weights, 1)[0]`). Returns (word ids, weights)."""
    if draw is None:
        def draw(word_weights):
            return torch.multinomial(word_weights, 1)[0]
    model.eval()
    is_transformer = not hasattr(model, "rnn_type")
    if not is_transformer:
        hidden = model.init_hidden(1)
    input = torch.tensor([[3]], dtype=torch.long)   # the test's start word (not randint)
    out, seen = [], []
    with torch.no_grad():
        for i in range(words):
            if is_transformer:
                output = model(input, False)
                word_weights = output[-1].squeeze().div(temperature).exp().cpu()
                word_idx = draw(word_weights)
                word_tensor = torch.Tensor([[word_idx]]).long()
                input = torch.cat([input, word_tensor], 0)
            else:
                output, hidden = model(input, hidden)
                word_weights = output.squeeze().div(temperature).exp().cpu()
                word_idx = draw(word_weights)
                input.fill_(word_idx)
            seen.append(word_weights.numpy())
            out.append(int(word_idx))
    return out, np.stack(seen)


# ---- the test's synthetic text

def make_lines(n, seed):
    """Sentences of a small grammar: subject verb object, with agreement to learn."""
    rng = np.random.default_rng(seed)
    subj = [("the dog", "runs"), ("the dogs", "run"), ("a cat", "sleeps"), ("cats", "sleep"),
            ("my friend", "reads"), ("our friends", "read")]
    tails = ["fast", "at home", "in the park", "every day", "quietly"]
    return [f"{s} {v} {tails[rng.integers(len(tails))]}" for s, v in
            (subj[rng.integers(len(subj))] for _ in range(n))]


def corpus_lines(n_train=80, seed=0):
    return make_lines(n_train, seed), make_lines(20, seed + 1), make_lines(20, seed + 2)


def n_tokens(lines):
    return len({w for part in lines for line in part for w in line.split()} | {"<eos>"})


MODELS = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU", "LSTM_tied", "Transformer", "nn.Transformer"]


def _build_args(name):
    return (name.replace("_tied", ""),), {"tied": name.endswith("_tied")}


def run_main(torch, model, lines, tmp_path, **kwargs):
    """main() with a save directory of its own per library."""
    save_dir = tmp_path / torch.__name__
    save_dir.mkdir()
    return main(torch, model, lines, str(save_dir), **kwargs)


def inverse_cdf_draws(uniforms):
    """The test's draws: word i where the cumulative weight first passes u * total."""
    it = iter(uniforms)

    def draw(word_weights):
        w = word_weights.numpy()
        return int(np.searchsorted(np.cumsum(w), next(it) * w.sum(), side="right"))
    return draw


@needs_torch
@pytest.mark.parametrize("name", MODELS)
def test_word_lm_float64_losses_match(name, tmp_path):
    lines = corpus_lines()
    args, kwargs = _build_args(name)
    ntokens = n_tokens(lines)
    theirs, ours = build_pair(build, *args, ntokens, **kwargs)
    (lt, tt, _), (lo, to, _) = run_both(run_main, theirs, ours, lines, tmp_path,
                                        epochs=2, max_batches=10)
    assert len(lt) == 20
    assert_losses_equal(lt, lo)
    np.testing.assert_allclose(to, tt, rtol=1e-9)
    # generate.py with the test's draws: one sequence, the same word weights along it
    uniforms = np.random.default_rng(5).random(15)
    (wt, pt), (wo, po) = run_both(lambda lib, m: generate(lib, m, ntokens, 15, 0.8,
                                                          inverse_cdf_draws(uniforms)),
                                  theirs, ours)
    assert wo == wt
    np.testing.assert_allclose(po, pt, rtol=1e-9)
    # and with the program's own torch.multinomial: valid words
    words, _ = run_both(lambda lib, m: generate(lib, m, ntokens, 10), theirs, ours)[1]
    assert all(0 <= w < ntokens for w in words)


@needs_torch
@pytest.mark.parametrize("name", ["LSTM", "Transformer",
                                  pytest.param("GRU", marks=pytest.mark.slow),
                                  pytest.param("nn.Transformer", marks=pytest.mark.slow),
                                  pytest.param("RNN_TANH", marks=pytest.mark.slow)])
def test_word_lm_float32_test_loss(name, tmp_path):
    slow = name in ("GRU", "RNN_TANH", "nn.Transformer")
    lines = corpus_lines(n_train=400 if slow else 160)
    args, kwargs = _build_args(name)
    theirs, ours = build_pair(build, *args, n_tokens(lines), dtype="float32", **kwargs)
    lr = 1.0 if "Transformer" in name else 5.0
    (lt, tt, _), (lo, to, _) = run_both(run_main, theirs, ours, lines, tmp_path,
                                        epochs=6 if slow else 3, lr=lr, dtype="float32")
    assert tt < 0.8 * lt[0]            # it learned something
    assert_loss_close(tt, to)
