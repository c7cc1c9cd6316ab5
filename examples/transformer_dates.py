"""Transformer on the date task: the same human-readable dates as date_translation.py
("saturday april 28 1990", "10.11.19", ...) translated to ISO YYYY-MM-DD by an
encoder-decoder Transformer built from the framework's layers.

- source: characters -> nn.Embedding + nn.PositionalEncoding (no sqrt(d_model) scaling:
  with PyTorch's N(0, 1) embedding init the scaled embeddings would be ~8x the positional
  code and drown out where each character is, which the numeric formats depend on)
  -> nn.TransformerEncoder (2 nn.TransformerEncoderLayer), with a key-padding mask
  (True at <pad>) so that padding is never attended to;
- target: <bos> y1 ... y9 -> nn.Embedding + nn.PositionalEncoding ->
  nn.TransformerDecoder (2 nn.TransformerDecoderLayer) with the causal mask (a boolean
  (T, T) mask, True above the diagonal: position t may not look at t' > t) and
  cross-attention over the encoder's output -> nn.Linear -> softmax over 11 symbols;
- training with teacher forcing (the decoder reads the true previous characters),
  Adam with a warm-up then cosine learning-rate schedule (optim.lr_scheduler.LambdaLR);
- translation by greedy decoding: start from <bos>, append the arg-max, 10 times;
  with `--beam B`, also by beam search (`tinygrad_seq.decoding.beam_search`, B
  hypotheses kept per step, the decoder rerun on each hypothesis's prefix), and the
  exact match of both is reported (`--quick`: on the first 200 held-out dates). Every
  date has 10 characters, so length normalisation would change nothing: none is used.

The data come from date_translation.py (same 24 formats, same 1,000 held-out calendar
dates, never seen in training).

Success criterion: >= 98% exact match of greedy decoding on the 1,000 held-out dates
(full mode; `--quick`: >= 60%; with `--beam B` beam search must also reach it), and the
causal mask works: changing a future target token leaves the earlier outputs
unchanged, and the gradient of the earlier outputs with respect to the later target
embeddings is exactly 0.

    python examples/transformer_dates.py           # full mode, about 2 minutes on 2 CPU cores
    python examples/transformer_dates.py --quick   # smoke run (CI)
    python examples/transformer_dates.py --beam 3  # also beam search with 3 hypotheses
"""
import argparse
import math
import os
import sys
import time

# small matrices: one BLAS thread is as fast and does not collapse on shared cores
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import tinygrad_seq as ts  # noqa: E402
import tinygrad_seq.functional as F  # noqa: E402
from tinygrad_seq import nn, optim  # noqa: E402
from tinygrad_seq.decoding import beam_search  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from date_translation import (HUMAN_VOCAB, MACHINE_CHARS, PAD, TY, encode_human,  # noqa: E402
                              make_examples, split_dates)

try:
    from tqdm import tqdm
except ImportError:  # no progress bar without tqdm
    tqdm = None

BOS = len(MACHINE_CHARS)            # the decoder's start symbol (input only)


class DateTransformer(nn.Module):
    def __init__(self, d_model=64, nhead=4, layers=2, dim_feedforward=128, dropout=0.0):
        super().__init__()
        self.d_model = d_model
        self.src_embed = nn.Embedding(len(HUMAN_VOCAB), d_model)
        self.tgt_embed = nn.Embedding(len(MACHINE_CHARS) + 1, d_model)
        self.pos = nn.PositionalEncoding(d_model, max_len=64)
        enc = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, batch_first=True)
        dec = nn.TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(enc, layers)
        self.decoder = nn.TransformerDecoder(dec, layers)
        self.out = nn.Linear(d_model, len(MACHINE_CHARS))

    def encode(self, src):
        """src (N, S) indices -> memory (N, S, d), padding mask (N, S) True at <pad>."""
        pad = src == PAD
        x = self.pos(self.src_embed(ts.tensor(src)))
        return self.encoder(x, src_key_padding_mask=pad), pad

    def embed_target(self, tgt_in):
        return self.tgt_embed(ts.tensor(tgt_in))

    def decode(self, tgt_emb, memory, pad):
        """Target embeddings (N, T, d) -> logits (N, T, 11), each position seeing only
        itself and the positions before it."""
        T = tgt_emb.shape[1]
        causal = np.triu(np.ones((T, T), dtype=bool), k=1)     # True = may not attend
        h = self.decoder(self.pos(tgt_emb), memory, tgt_mask=causal,
                         memory_key_padding_mask=pad)
        return self.out(h)

    def forward(self, src, tgt_in):
        memory, pad = self.encode(src)
        return self.decode(self.embed_target(tgt_in), memory, pad)

    def greedy(self, src):
        """Greedy decoding: (N, TY) predicted indices."""
        memory, pad = self.encode(src)
        tgt = np.full((len(src), 1), BOS, dtype=np.int64)
        for _ in range(TY):
            logits = self.decode(self.embed_target(tgt), memory, pad)
            nxt = logits[:, -1, :].argmax(axis=-1).numpy()
            tgt = np.concatenate([tgt, nxt[:, None]], axis=1)
        return tgt[:, 1:]

    def beam(self, src_row, beam_size):
        """Beam search for one date (src_row (S,) indices): the best (TY,) indices. The
        decoding state of each hypothesis is its prefix (with <bos>) and the memory; the
        decoder reruns on the whole prefix at each step (no cache: 10 short steps)."""
        memory, pad = self.encode(src_row[None])
        pad = ts.tensor(pad)                     # a Tensor, so that the beam reorders it
        prefix = ts.tensor(np.zeros((1, 0), dtype=np.int64))     # <bos> comes as the first token

        def step(tokens, state):
            prefix, memory, pad = state
            prefix = ts.cat([prefix, tokens.unsqueeze(1)], dim=1)
            logits = self.decode(self.tgt_embed(prefix), memory, pad)
            return F.log_softmax(logits[:, -1], dim=-1), (prefix, memory, pad)
        best = beam_search(step, (prefix, memory, pad), BOS, beam_size, max_len=TY, eos=None)
        return np.array(best[0][0], dtype=np.int64)


def trim(X):
    """Cut the columns that are <pad> in every row (the encoder then runs on fewer steps)."""
    width = int((X != PAD).sum(axis=1).max())
    return X[:, :width]


def teacher_inputs(Y):
    return np.concatenate([np.full((len(Y), 1), BOS, dtype=np.int64), Y[:, :-1]], axis=1)


def translate(model, X, batch=500):
    model.eval()
    with ts.no_grad():
        out = np.concatenate([model.greedy(trim(X[i:i + batch])) for i in range(0, len(X), batch)])
    model.train()
    return out


def translate_beam(model, X, beam_size, progress=False):
    model.eval()
    rows = [trim(X[n:n + 1])[0] for n in range(len(X))]
    if progress and tqdm is not None:
        rows = tqdm(rows, desc=f"beam {beam_size}", unit="date", mininterval=1.0)
    with ts.no_grad():
        out = np.stack([model.beam(r, beam_size) for r in rows])
    model.train()
    return out


def causal_check(model, X, Y, k=5):
    """Changing target token k changes no output before k, and the gradient of the
    outputs before k with respect to the target embeddings at k and after is exactly 0."""
    model.eval()
    src = trim(X[:16])
    tgt_in = teacher_inputs(Y[:16])
    with ts.no_grad():
        before = model(src, tgt_in).numpy()
        changed = tgt_in.copy()
        changed[:, k:] = (changed[:, k:] + 3) % len(MACHINE_CHARS)
        after = model(src, changed).numpy()
    unchanged = np.array_equal(before[:, :k], after[:, :k])
    differs_later = not np.allclose(before[:, k:], after[:, k:])
    memory, pad = model.encode(src)
    emb = model.embed_target(tgt_in).detach().requires_grad_()
    logits = model.decode(emb, memory, pad)
    (g,) = ts.grad(logits[:, :k].sum(), [emb])
    g = g.numpy()
    model.train()
    return unchanged and differs_later, float(np.abs(g[:, k:]).max()), float(np.abs(g[:, :k]).max())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run (CI)")
    parser.add_argument("--steps", type=int, default=None, help="Adam steps (default 1500; quick 450)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--beam", type=int, default=0, metavar="B",
                        help="also decode with beam search of B hypotheses (default: greedy only)")
    args = parser.parse_args(argv)
    if args.beam < 0:
        parser.error(f"--beam must be at least 1 (0: greedy only), got {args.beam}")
    steps = args.steps or (450 if args.quick else 1500)
    target = 0.60 if args.quick else 0.98

    ts.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train_dates, heldout_dates = split_dates(rng, 1000)
    test_texts, X_test, Y_test = make_examples(np.random.default_rng(args.seed + 1), heldout_dates)

    model = DateTransformer()
    params = list(model.parameters())
    print(f"Transformer: {sum(p.numel() for p in params):,} parameters")
    optimizer = optim.Adam(params, lr=args.lr, betas=(0.9, 0.98))
    warmup = max(steps // 20, 1)
    schedule = lambda s: min(1.0, (s + 1) / warmup) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * s / steps)))  # noqa: E731,E501
    scheduler = optim.lr_scheduler.LambdaLR(optimizer, schedule)

    start = time.perf_counter()
    steps_iter = range(1, steps + 1)
    bar = tqdm(steps_iter, desc="training", unit="step", mininterval=1.0) if tqdm else None
    running = None
    for step in (bar if bar is not None else steps_iter):
        _, X, Y = make_examples(rng, train_dates, args.batch)
        logits = model(trim(X), teacher_inputs(Y))                     # teacher forcing
        loss = F.cross_entropy(logits.reshape(-1, len(MACHINE_CHARS)), ts.tensor(Y.reshape(-1)))
        optimizer.zero_grad()
        loss.backward()
        optim.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if bar is not None:
            bar.set_postfix(loss=f"{running:.3f}", refresh=False)
        elif step % max(steps // 10, 1) == 0 or step == 1:
            print(f"step {step:5d}  loss {running:.4f}  ({time.perf_counter() - start:.0f} s)")
    if bar is not None:
        bar.close()
    print(f"trained {steps} steps of {args.batch} in {time.perf_counter() - start:.1f} s")

    pred = translate(model, X_test)
    per_position = (pred == Y_test).mean(axis=0)
    exact = (pred == Y_test).all(axis=1).mean()
    print("held-out per-position accuracy (greedy decoding):", " ".join(f"{p:.3f}" for p in per_position))
    print(f"held-out exact match: {exact:.1%} of {len(Y_test)} dates never seen in training")
    beam_ok = True
    if args.beam:
        # one date at a time (under 0.1 s each on 2 shared cores): --quick searches the
        # first 200 held-out dates only, and compares greedy decoding on the same 200
        n = 200 if args.quick else len(Y_test)
        t0 = time.perf_counter()
        beam_pred = translate_beam(model, X_test[:n], args.beam, progress=True)
        beam_exact = (beam_pred == Y_test[:n]).all(axis=1).mean()
        greedy_exact = (pred[:n] == Y_test[:n]).all(axis=1).mean()
        changed = int((beam_pred != pred[:n]).any(axis=1).sum())
        print(f"held-out exact match on {n} dates: greedy {greedy_exact:.1%}, beam search "
              f"(B = {args.beam}) {beam_exact:.1%}; the beam changed {changed} translations "
              f"({time.perf_counter() - t0:.1f} s)")
        beam_ok = beam_exact >= target
    typed = ["3 may 1979", "tue 10 jul 2007", "the 21st of august 2016", "12/25/99", "25.12.99"]
    for text, p in zip(typed, translate(model, encode_human(typed))):
        print(f"  {text!r:>26} -> {''.join(MACHINE_CHARS[i] for i in p)}")

    same, leak, flow = causal_check(model, X_test, Y_test)
    print(f"causal mask: outputs before position 5 unchanged when targets 5.. change: {same}; "
          f"max |d outputs<5 / d target embeddings>=5| = {leak:g} (and {flow:.3g} for the earlier ones)")
    causal_ok = same and leak == 0.0 and flow > 0
    ok = exact >= target and beam_ok and causal_ok
    which = f"greedy and beam {args.beam}" if args.beam else "held-out"
    print(f"success criterion ({which} exact match >= {target:.0%}, causal gradient exactly 0):",
          "MET" if ok else "NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
