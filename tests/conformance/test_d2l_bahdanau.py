"""The d2l.ai chapter "The Bahdanau Attention Mechanism" (11.4) with its encoder-decoder
machinery (10.7 "Sequence-to-Sequence Learning", 11.3 "Attention Scoring Functions":
`masked_softmax`, `AdditiveAttention`), written once against `torch.*` and run with
torch and with tinygrad_seq.

What it exercises: `nn.LazyLinear` (materialized by a first forward, d2l's
`apply_init`), `init_seq2seq` (`type(module) == nn.Linear`, `nn.GRU`'s
`_flat_weights_names` and `module._parameters[param]`, `nn.init.xavier_uniform_`),
`masked_softmax` (`torch.repeat_interleave`, `torch.arange(maxlen, dtype=torch.float32,
device=X.device)[None, :] < valid_len[:, None]`, `X[~mask] = value` on a non-leaf,
`nn.functional.softmax`), `AdditiveAttention` (`queries.unsqueeze(2) +
keys.unsqueeze(1)`, `torch.tanh`, `.squeeze(-1)`, `torch.bmm`, a tensor kept as a module
attribute); the encoder: `nn.Embedding`, `X.t().type(torch.int64)`, `nn.GRU` over a
`nn.utils.rnn.pack_padded_sequence(..., enforce_sorted=False)` of the padded batch and
`pad_packed_sequence(..., total_length=...)` back (packing is ours to add: d2l runs the
padded batch); the attention decoder (`permute`, `for x in X`, `torch.unsqueeze(
hidden_state[-1], dim=1)`, `torch.cat((context, torch.unsqueeze(x, dim=1)), dim=-1)`,
a `nn.GRU` step with a given state, `self.dense(torch.cat(outputs, dim=0))`); the
masked loss (`F.cross_entropy(..., reduction='none')`, `(Y.reshape(-1) != pad)
.type(torch.float32)`, a float32 mask times a float64 loss in the float64 run);
`torch.utils.data.TensorDataset` / `DataLoader` with the test's sampler; `torch.optim.Adam`,
d2l's `clip_gradients`; greedy `predict_step` (`tgt[:, (0)].unsqueeze(1)`,
`Y.argmax(2)`, `torch.cat(outputs[1:], 1)`) and the attention weights it saves.
"""
import numpy as np
import pytest

from conformance_harness import (assert_accuracy_close, assert_losses_equal, build_pair,
                                 needs_torch, run_both)

PAD, BOS, EOS = 0, 1, 2


def make_classes(torch):
    nn = torch.nn
    F = torch.nn.functional
    pack_padded_sequence = torch.nn.utils.rnn.pack_padded_sequence
    pad_packed_sequence = torch.nn.utils.rnn.pad_packed_sequence

    def masked_softmax(X, valid_lens):
        """Perform softmax operation by masking elements on the last axis."""
        # X: 3D tensor, valid_lens: 1D or 2D tensor
        def _sequence_mask(X, valid_len, value=0):
            maxlen = X.size(1)
            mask = torch.arange((maxlen), dtype=torch.float32,
                                device=X.device)[None, :] < valid_len[:, None]
            X[~mask] = value
            return X

        if valid_lens is None:
            return nn.functional.softmax(X, dim=-1)
        else:
            shape = X.shape
            if valid_lens.dim() == 1:
                valid_lens = torch.repeat_interleave(valid_lens, shape[1])
            else:
                valid_lens = valid_lens.reshape(-1)
            # On the last axis, replace masked elements with a very large negative
            # value, whose exponentiation outputs 0
            X = _sequence_mask(X.reshape(-1, shape[-1]), valid_lens, value=-1e6)
            return nn.functional.softmax(X.reshape(shape), dim=-1)

    class AdditiveAttention(nn.Module):
        """Additive attention."""

        def __init__(self, num_hiddens, dropout, **kwargs):
            super(AdditiveAttention, self).__init__(**kwargs)
            self.W_k = nn.LazyLinear(num_hiddens, bias=False)
            self.W_q = nn.LazyLinear(num_hiddens, bias=False)
            self.w_v = nn.LazyLinear(1, bias=False)
            self.dropout = nn.Dropout(dropout)

        def forward(self, queries, keys, values, valid_lens):
            queries, keys = self.W_q(queries), self.W_k(keys)
            # After dimension expansion, shape of queries: (batch_size, no. of
            # queries, 1, num_hiddens) and shape of keys: (batch_size, 1, no. of
            # key-value pairs, num_hiddens). Sum them up with broadcasting
            features = queries.unsqueeze(2) + keys.unsqueeze(1)
            features = torch.tanh(features)
            # There is only one output of self.w_v, so we remove the last
            # one-dimensional entry from the shape.
            scores = self.w_v(features).squeeze(-1)
            self.attention_weights = masked_softmax(scores, valid_lens)
            return torch.bmm(self.dropout(self.attention_weights), values)

    def init_seq2seq(module):
        """Initialize weights for sequence-to-sequence learning."""
        if type(module) == nn.Linear:
            nn.init.xavier_uniform_(module.weight)
        if type(module) == nn.GRU:
            for param in module._flat_weights_names:
                if "weight" in param:
                    nn.init.xavier_uniform_(module._parameters[param])

    class Seq2SeqEncoder(nn.Module):
        """The RNN encoder for sequence-to-sequence learning (here over a packed batch)."""

        def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embed_size)
            self.rnn = nn.GRU(embed_size, num_hiddens, num_layers, dropout=dropout)
            self.apply(init_seq2seq)

        def forward(self, X, src_valid_len):
            # X shape: (batch_size, num_steps)
            embs = self.embedding(X.t().type(torch.int64))
            # embs shape: (num_steps, batch_size, embed_size)
            packed = pack_padded_sequence(embs, src_valid_len.cpu(), enforce_sorted=False)
            outputs, state = self.rnn(packed)
            outputs, _ = pad_packed_sequence(outputs, total_length=X.shape[1])
            # outputs shape: (num_steps, batch_size, num_hiddens)
            # state shape: (num_layers, batch_size, num_hiddens)
            return outputs, state

    class Seq2SeqAttentionDecoder(nn.Module):
        def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
            super().__init__()
            self.attention = AdditiveAttention(num_hiddens, dropout)
            self.embedding = nn.Embedding(vocab_size, embed_size)
            self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout)
            self.dense = nn.LazyLinear(vocab_size)
            self.apply(init_seq2seq)

        def init_state(self, enc_outputs, enc_valid_lens):
            # Shape of outputs: (num_steps, batch_size, num_hiddens).
            # Shape of hidden_state: (num_layers, batch_size, num_hiddens)
            outputs, hidden_state = enc_outputs
            return (outputs.permute(1, 0, 2), hidden_state, enc_valid_lens)

        def forward(self, X, state):
            # Shape of enc_outputs: (batch_size, num_steps, num_hiddens).
            # Shape of hidden_state: (num_layers, batch_size, num_hiddens)
            enc_outputs, hidden_state, enc_valid_lens = state
            # Shape of the output X: (num_steps, batch_size, embed_size)
            X = self.embedding(X).permute(1, 0, 2)
            outputs, self._attention_weights = [], []
            for x in X:
                # Shape of query: (batch_size, 1, num_hiddens)
                query = torch.unsqueeze(hidden_state[-1], dim=1)
                # Shape of context: (batch_size, 1, num_hiddens)
                context = self.attention(query, enc_outputs, enc_outputs, enc_valid_lens)
                # Concatenate on the feature dimension
                x = torch.cat((context, torch.unsqueeze(x, dim=1)), dim=-1)
                # Reshape x as (1, batch_size, embed_size + num_hiddens)
                out, hidden_state = self.rnn(x.permute(1, 0, 2), hidden_state)
                outputs.append(out)
                self._attention_weights.append(self.attention.attention_weights)
            # After fully connected layer transformation, shape of outputs:
            # (num_steps, batch_size, vocab_size)
            outputs = self.dense(torch.cat(outputs, dim=0))
            return outputs.permute(1, 0, 2), [enc_outputs, hidden_state, enc_valid_lens]

        @property
        def attention_weights(self):
            return self._attention_weights

    class Seq2Seq(nn.Module):
        """The encoder-decoder architecture (d2l.EncoderDecoder + Seq2Seq)."""

        def __init__(self, encoder, decoder, tgt_pad, lr):
            super().__init__()
            self.encoder, self.decoder = encoder, decoder
            self.tgt_pad, self.lr = tgt_pad, lr

        def forward(self, enc_X, dec_X, *args):
            enc_all_outputs = self.encoder(enc_X, *args)
            dec_state = self.decoder.init_state(enc_all_outputs, *args)
            # Return decoder output only
            return self.decoder(dec_X, dec_state)[0]

        def loss(self, Y_hat, Y):
            Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
            l = F.cross_entropy(Y_hat, Y.reshape((-1,)), reduction="none")  # noqa: E741
            mask = (Y.reshape(-1) != self.tgt_pad).type(torch.float32)
            return (l * mask).sum() / mask.sum()

        def training_step(self, batch):
            return self.loss(self(*batch[:-1]), batch[-1])

        def configure_optimizers(self):
            # Adam optimizer is used here
            return torch.optim.Adam(self.parameters(), lr=self.lr)

        def predict_step(self, batch, device, num_steps, save_attention_weights=False):
            batch = [a.to(device) for a in batch]
            src, tgt, src_valid_len, _ = batch
            enc_all_outputs = self.encoder(src, src_valid_len)
            dec_state = self.decoder.init_state(enc_all_outputs, src_valid_len)
            outputs, attention_weights = [tgt[:, (0)].unsqueeze(1), ], []
            for _ in range(num_steps):
                Y, dec_state = self.decoder(outputs[-1], dec_state)
                outputs.append(Y.argmax(2))
                # Save attention weights (to be covered later)
                if save_attention_weights:
                    attention_weights.append(self.decoder.attention_weights)
            return torch.cat(outputs[1:], 1), attention_weights

    return Seq2SeqEncoder, Seq2SeqAttentionDecoder, Seq2Seq


def build(torch, arrays, vocab_size, embed_size=8, num_hiddens=16, num_layers=2, lr=0.005):
    Encoder, Decoder, Seq2Seq = make_classes(torch)
    encoder = Encoder(vocab_size, embed_size, num_hiddens, num_layers)
    decoder = Decoder(vocab_size, embed_size, num_hiddens, num_layers)
    model = Seq2Seq(encoder, decoder, tgt_pad=PAD, lr=lr)
    # d2l's apply_init: one forward materializes the lazy layers
    src, tgt_in, src_len, _ = (torch.from_numpy(a[:2]) for a in arrays)
    model(src, tgt_in, src_len)
    return model


def fit(torch, model, arrays, val_arrays, orders, batch_size=8, gradient_clip_val=1.0):
    """d2l's Trainer.fit over the test's batch orders. Returns (per-batch losses,
    the greedy token accuracy on val_arrays in percent, its first batch's attention)."""
    tensors = [torch.from_numpy(a) for a in arrays]
    dataset = torch.utils.data.TensorDataset(*tensors)

    def clip_gradients(grad_clip_val, model):
        params = [p for p in model.parameters() if p.requires_grad]
        norm = torch.sqrt(sum(torch.sum((p.grad ** 2)) for p in params))
        if norm > grad_clip_val:
            for param in params:
                param.grad[:] *= grad_clip_val / norm

    optim = model.configure_optimizers()
    losses = []
    for order in orders:
        model.train()
        for batch in torch.utils.data.DataLoader(dataset, batch_size, sampler=list(order)):
            loss = model.training_step(batch)
            optim.zero_grad()
            with torch.no_grad():
                loss.backward()
                if gradient_clip_val > 0:
                    clip_gradients(gradient_clip_val, model)
                optim.step()
            losses.append(loss.item())
    model.eval()
    val = torch.utils.data.TensorDataset(*[torch.from_numpy(a) for a in val_arrays])
    correct = total = 0
    attention = None
    with torch.no_grad():
        for batch in torch.utils.data.DataLoader(val, batch_size=16):
            preds, att = model.predict_step(batch, torch.device("cpu"), batch[3].shape[1],
                                            save_attention_weights=attention is None)
            if attention is None:
                attention = torch.cat([a[0] for a in att], 1).numpy()
            label = batch[3]
            keep = label != PAD
            correct += (preds == label)[keep].sum().item()
            total += keep.sum().item()
    return losses, 100.0 * correct / total, attention


def make_arrays(n, seed, vocab_size=12, min_len=3, max_len=7):
    """Reverse a sequence: src `x1..xn <eos>`, target `xn..x1 <eos>`, padded with 0;
    d2l's (src, tgt[:, :-1] with <bos>, src_valid_len, label) arrays."""
    rng = np.random.default_rng(seed)
    T = max_len + 1
    src = np.full((n, T), PAD, np.int64)
    tgt_in = np.full((n, T), PAD, np.int64)
    label = np.full((n, T), PAD, np.int64)
    src_len = np.zeros(n, np.int64)
    for i in range(n):
        k = rng.integers(min_len, max_len + 1)
        x = rng.integers(3, vocab_size, size=k)
        src[i, :k + 1] = np.append(x, EOS)
        y = np.append(x[::-1], EOS)
        label[i, :k + 1] = y
        tgt_in[i, 0] = BOS
        tgt_in[i, 1:k + 1] = y[:-1]
        src_len[i] = k + 1
    return src, tgt_in, src_len, label


@needs_torch
def test_d2l_bahdanau_float64_losses_and_predictions_match():
    arrays, val = make_arrays(80, 0), make_arrays(16, 1)
    orders = [np.random.default_rng(2).permutation(80) for _ in range(2)]
    theirs, ours = build_pair(build, arrays, 12)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    (lt, at, wt), (lo, ao, wo) = run_both(fit, theirs, ours, arrays, val, orders)
    assert len(lt) == 20
    assert_losses_equal(lt, lo)
    assert ao == at
    np.testing.assert_allclose(wo, wt, rtol=1e-8, atol=1e-12)


# The long form runs at a lower learning rate: at lr=0.01 this seq2seq's loss spikes
# after about 250 Adam steps, and the float32 runs of the two libraries, 1e-7 apart
# before, separate there (98.5% against 96.0% after 25 epochs) while the float64 runs
# of the same 325 steps agree to 1e-8 (test_d2l_bahdanau_float64_long_run below).

@needs_torch
@pytest.mark.parametrize("epochs, lr", [(6, 0.01), pytest.param(25, 0.003, marks=pytest.mark.slow)])
def test_d2l_bahdanau_float32_accuracy(epochs, lr):
    arrays, val = make_arrays(400, 3), make_arrays(200, 4)
    rng = np.random.default_rng(5)
    orders = [rng.permutation(400) for _ in range(epochs)]
    theirs, ours = build_pair(build, arrays, 12, lr=lr, dtype="float32")
    (lt, at, _), (lo, ao, _) = run_both(fit, theirs, ours, arrays, val, orders, batch_size=32,
                                        dtype="float32")
    assert at > 30.0                        # far above chance (1 in 10)
    assert_accuracy_close(at, ao)


@needs_torch
@pytest.mark.slow
def test_d2l_bahdanau_float64_long_run():
    """All 325 steps of the long form at lr=0.01, in float64: the same losses."""
    arrays, val = make_arrays(400, 3), make_arrays(200, 4)
    rng = np.random.default_rng(5)
    orders = [rng.permutation(400) for _ in range(25)]
    theirs, ours = build_pair(build, arrays, 12, lr=0.01)
    (lt, at, _), (lo, ao, _) = run_both(fit, theirs, ours, arrays, val, orders, batch_size=32)
    np.testing.assert_allclose(lo, lt, rtol=1e-6)
    assert ao == at
