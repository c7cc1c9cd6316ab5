"""The idioms of "The Annotated Transformer" (harvardnlp), an encoder-decoder trained on
its synthetic copy task, written once against `torch.*` (in this project's words, not
the original's) and run with torch and with tinygrad_seq.

What it exercises: layers cloned with `copy.deepcopy` into an `nn.ModuleList`; a
hand-written LayerNorm (`x.mean(-1, keepdim=True)`, `x.std(-1, keepdim=True)`, the
unbiased std) around residual sublayers; attention as a function
(`scores.masked_fill(mask == 0, -1e9)`, `scores.softmax(dim=-1)`, `math.sqrt(d_k)`),
multi-head attention through `view(nbatches, -1, h, d_k).transpose(1, 2)` and back with
`.contiguous().view(...)`; embeddings scaled by `math.sqrt(d_model)`; the sinusoidal
positional encoding built with `torch.arange(...).unsqueeze(1)`, `torch.exp`, slice
assignment `pe[:, 0::2] = torch.sin(...)` and `register_buffer`, read as
`self.pe[:, : x.size(1)].requires_grad_(False)`; `subsequent_mask` from
`torch.triu(torch.ones(attn_shape), diagonal=1).type(torch.uint8) == 0`; the Batch
masks `(src != pad).unsqueeze(-2)` and `tgt_mask & subsequent_mask(...).type_as(...)`;
label smoothing (`true_dist.fill_`, `scatter_(1, target.data.unsqueeze(1), confidence)`,
`true_dist[:, padding_idx] = 0`, `torch.nonzero(target.data == padding_idx)`,
`index_fill_`) with `nn.KLDivLoss(reduction="sum")` on `log_softmax` outputs; the
`rate()` warm-up schedule through `LambdaLR` and `Adam(betas=(0.9, 0.98), eps=1e-9)`;
and greedy decoding (`torch.max(prob, dim=1)`, `next_word.data[0]`,
`torch.empty(1, 1).type_as(src.data).fill_(next_word)`, `torch.cat(..., dim=1)`).
Dropout is 0 (the rules of conformance_harness), the batches are the test's arrays.
"""
import copy
import math

import numpy as np

from conformance_harness import assert_losses_equal, build_pair, needs_torch, run_both

V, D_MODEL, D_FF, HEADS, LAYERS = 11, 32, 64, 4, 2
BATCH, LENGTH, STEPS = 8, 10, 20


def make_model(torch):
    nn = torch.nn

    def clones(module, n):
        return nn.ModuleList([copy.deepcopy(module) for _ in range(n)])

    class LayerNorm(nn.Module):
        def __init__(self, features, eps=1e-6):
            super().__init__()
            self.a_2 = nn.Parameter(torch.ones(features))
            self.b_2 = nn.Parameter(torch.zeros(features))
            self.eps = eps

        def forward(self, x):
            mean = x.mean(-1, keepdim=True)
            std = x.std(-1, keepdim=True)
            return self.a_2 * (x - mean) / (std + self.eps) + self.b_2

    class Residual(nn.Module):
        def __init__(self, size):
            super().__init__()
            self.norm = LayerNorm(size)

        def forward(self, x, sublayer):
            return x + sublayer(self.norm(x))

    def attention(query, key, value, mask=None):
        d_k = query.size(-1)
        scores = torch.matmul(query, key.transpose(-2, -1)) / math.sqrt(d_k)
        if mask is not None:
            scores = scores.masked_fill(mask == 0, -1e9)
        p_attn = scores.softmax(dim=-1)
        return torch.matmul(p_attn, value), p_attn

    class MultiHeaded(nn.Module):
        def __init__(self, h, d_model):
            super().__init__()
            self.d_k, self.h = d_model // h, h
            self.linears = clones(nn.Linear(d_model, d_model), 4)
            self.attn = None

        def forward(self, query, key, value, mask=None):
            if mask is not None:
                mask = mask.unsqueeze(1)          # the same mask for every head
            nbatches = query.size(0)
            query, key, value = [lin(x).view(nbatches, -1, self.h, self.d_k).transpose(1, 2)
                                 for lin, x in zip(self.linears, (query, key, value))]
            x, self.attn = attention(query, key, value, mask=mask)
            x = x.transpose(1, 2).contiguous().view(nbatches, -1, self.h * self.d_k)
            del query, key, value
            return self.linears[-1](x)

    class FeedForward(nn.Module):
        def __init__(self, d_model, d_ff):
            super().__init__()
            self.w_1, self.w_2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)

        def forward(self, x):
            return self.w_2(self.w_1(x).relu())

    class EncoderLayer(nn.Module):
        def __init__(self, size, self_attn, feed_forward):
            super().__init__()
            self.self_attn, self.feed_forward = self_attn, feed_forward
            self.sublayer = clones(Residual(size), 2)
            self.size = size

        def forward(self, x, mask):
            x = self.sublayer[0](x, lambda x: self.self_attn(x, x, x, mask))
            return self.sublayer[1](x, self.feed_forward)

    class DecoderLayer(nn.Module):
        def __init__(self, size, self_attn, src_attn, feed_forward):
            super().__init__()
            self.self_attn, self.src_attn, self.feed_forward = self_attn, src_attn, feed_forward
            self.sublayer = clones(Residual(size), 3)
            self.size = size

        def forward(self, x, memory, src_mask, tgt_mask):
            m = memory
            x = self.sublayer[0](x, lambda x: self.self_attn(x, x, x, tgt_mask))
            x = self.sublayer[1](x, lambda x: self.src_attn(x, m, m, src_mask))
            return self.sublayer[2](x, self.feed_forward)

    class Stack(nn.Module):
        def __init__(self, layer, n):
            super().__init__()
            self.layers = clones(layer, n)
            self.norm = LayerNorm(layer.size)

        def forward(self, x, *args):
            for layer in self.layers:
                x = layer(x, *args)
            return self.norm(x)

    class Embeddings(nn.Module):
        def __init__(self, d_model, vocab):
            super().__init__()
            self.lut = nn.Embedding(vocab, d_model)
            self.d_model = d_model

        def forward(self, x):
            return self.lut(x) * math.sqrt(self.d_model)

    class PositionalEncoding(nn.Module):
        def __init__(self, d_model, max_len=64):
            super().__init__()
            pe = torch.zeros(max_len, d_model)
            position = torch.arange(0, max_len).unsqueeze(1)
            div_term = torch.exp(torch.arange(0, d_model, 2) * -(math.log(10000.0) / d_model))
            pe[:, 0::2] = torch.sin(position * div_term)
            pe[:, 1::2] = torch.cos(position * div_term)
            self.register_buffer("pe", pe.unsqueeze(0))

        def forward(self, x):
            return x + self.pe[:, : x.size(1)].requires_grad_(False)

    class Generator(nn.Module):
        def __init__(self, d_model, vocab):
            super().__init__()
            self.proj = nn.Linear(d_model, vocab)

        def forward(self, x):
            return self.proj(x).log_softmax(dim=-1)

    class EncoderDecoder(nn.Module):
        def __init__(self):
            super().__init__()
            attn = MultiHeaded(HEADS, D_MODEL)
            ff = FeedForward(D_MODEL, D_FF)
            c = copy.deepcopy
            self.encoder = Stack(EncoderLayer(D_MODEL, c(attn), c(ff)), LAYERS)
            self.decoder = Stack(DecoderLayer(D_MODEL, c(attn), c(attn), c(ff)), LAYERS)
            self.src_embed = nn.Sequential(Embeddings(D_MODEL, V), PositionalEncoding(D_MODEL))
            self.tgt_embed = nn.Sequential(Embeddings(D_MODEL, V), PositionalEncoding(D_MODEL))
            self.generator = Generator(D_MODEL, V)

        def encode(self, src, src_mask):
            return self.encoder(self.src_embed(src), src_mask)

        def decode(self, memory, src_mask, tgt, tgt_mask):
            return self.decoder(self.tgt_embed(tgt), memory, src_mask, tgt_mask)

        def forward(self, src, tgt, src_mask, tgt_mask):
            return self.decode(self.encode(src, src_mask), src_mask, tgt, tgt_mask)

    model = EncoderDecoder()
    for p in model.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)
    return model


def subsequent_mask(torch, size):
    attn_shape = (1, size, size)
    mask = torch.triu(torch.ones(attn_shape), diagonal=1).type(torch.uint8)
    return mask == 0


class Batch:
    def __init__(self, torch, src, tgt, pad=0):
        self.src = src
        self.src_mask = (src != pad).unsqueeze(-2)
        self.tgt = tgt[:, :-1]
        self.tgt_y = tgt[:, 1:]
        tgt_mask = (self.tgt != pad).unsqueeze(-2)
        self.tgt_mask = tgt_mask & subsequent_mask(torch, self.tgt.size(-1)).type_as(tgt_mask.data)
        self.ntokens = (self.tgt_y != pad).data.sum()


def make_criterion(torch, size, padding_idx=0, smoothing=0.1):
    nn = torch.nn

    class LabelSmoothing(nn.Module):
        def __init__(self):
            super().__init__()
            self.criterion = nn.KLDivLoss(reduction="sum")
            self.confidence = 1.0 - smoothing

        def forward(self, x, target):
            assert x.size(1) == size
            true_dist = x.data.clone()
            true_dist.fill_(smoothing / (size - 2))
            true_dist.scatter_(1, target.data.unsqueeze(1), self.confidence)
            true_dist[:, padding_idx] = 0
            mask = torch.nonzero(target.data == padding_idx)
            if mask.dim() > 0:
                true_dist.index_fill_(0, mask.squeeze(), 0.0)
            return self.criterion(x, true_dist.clone().detach())

    return LabelSmoothing()


def rate(step, model_size, factor, warmup):
    if step == 0:
        step = 1
    return factor * (model_size ** (-0.5) * min(step ** (-0.5), step * warmup ** (-1.5)))


def copy_task_batches(steps, seed=0):
    """The copy task's data, made here: token 1 starts every sequence, 0 pads the tail
    of some (so that the masks and the label smoothing's padding rows matter)."""
    gen = np.random.default_rng(seed)
    batches = []
    for _ in range(steps):
        data = gen.integers(2, V, size=(BATCH, LENGTH))
        data[:, 0] = 1
        for row, keep in enumerate(gen.integers(LENGTH - 3, LENGTH + 1, size=BATCH)):
            data[row, keep:] = 0
        batches.append(data)
    return batches


def train(torch, model, batches):
    criterion = make_criterion(torch, V)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.5, betas=(0.9, 0.98), eps=1e-9)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer=optimizer, lr_lambda=lambda step: rate(step, D_MODEL, factor=1.0, warmup=8))
    model.train()
    losses, rates = [], []
    for data in batches:
        src = torch.from_numpy(data).long()
        batch = Batch(torch, src, src.clone(), pad=0)
        out = model.forward(batch.src, batch.tgt, batch.src_mask, batch.tgt_mask)
        x = model.generator(out)
        loss = criterion(x.contiguous().view(-1, x.size(-1)),
                         batch.tgt_y.contiguous().view(-1)) / batch.ntokens
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        scheduler.step()
        losses.append(loss.item())
        rates.append(optimizer.param_groups[0]["lr"])
    return losses, rates


def greedy_decode(torch, model, src, src_mask, max_len, start_symbol):
    memory = model.encode(src, src_mask)
    ys = torch.zeros(1, 1).fill_(start_symbol).type_as(src.data)
    for i in range(max_len - 1):
        out = model.decode(memory, src_mask, ys, subsequent_mask(torch, ys.size(1)).type_as(src.data))
        prob = model.generator(out[:, -1])
        _, next_word = torch.max(prob, dim=1)
        next_word = next_word.data[0]
        ys = torch.cat([ys, torch.empty(1, 1).type_as(src.data).fill_(next_word)], dim=1)
    return ys


def decode_after(torch, model, batches):
    train(torch, model, batches)
    model.eval()
    src = torch.LongTensor([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]])
    src_mask = torch.ones(1, 1, 10)
    with torch.no_grad():
        return greedy_decode(torch, model, src, src_mask, max_len=10, start_symbol=1).numpy()


@needs_torch
def test_losses_and_learning_rates_equal_torch_in_float64():
    theirs, ours = build_pair(make_model)
    batches = copy_task_batches(STEPS)
    (t_losses, t_rates), (o_losses, o_rates) = run_both(train, theirs, ours, batches)
    assert_losses_equal(t_losses, o_losses)
    np.testing.assert_allclose(o_rates, t_rates, rtol=1e-12)


@needs_torch
def test_pieces_equal_torch():
    """The masks, the smoothed target distribution and the positional table, exactly."""
    import tinygrad_seq
    import torch
    src = np.array([[1, 4, 5, 0], [1, 2, 0, 0]])
    for name in ("src_mask", "tgt_mask", "ntokens"):
        want = getattr(Batch(torch, torch.from_numpy(src), torch.from_numpy(src)), name)
        got = getattr(Batch(tinygrad_seq, tinygrad_seq.from_numpy(src),
                            tinygrad_seq.from_numpy(src)), name)
        np.testing.assert_array_equal(np.asarray(got.numpy()), want.numpy(), err_msg=name)
    x = np.log(np.full((4, 5), 0.2))
    target = np.array([2, 1, 0, 3])
    want = make_criterion(torch, 5)(torch.tensor(x), torch.tensor(target)).item()
    got = make_criterion(tinygrad_seq, 5)(tinygrad_seq.tensor(x), tinygrad_seq.tensor(target))
    np.testing.assert_allclose(got.item(), want, rtol=1e-12)


@needs_torch
def test_greedy_decoding_after_training_equals_torch():
    """Same weights, same 20 steps, float64: the same greedy decode of 1..10."""
    theirs, ours = build_pair(make_model)
    want, got = run_both(decode_after, theirs, ours, copy_task_batches(STEPS))
    np.testing.assert_array_equal(got, want)
