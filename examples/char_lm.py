"""Character-level language model: dinosaur-like names from a small built-in
probabilistic grammar, learnt by an RNN, GRU or LSTM, and sampled with a temperature.

The grammar: a name is prefix + root + suffix, each drawn independently with fixed
(Zipf-like) probabilities, e.g. "ptero" + "don" + "saurus". Its exact entropy is
computed by enumerating every (prefix, root, suffix) triple and adding up the
probability of each distinct string (two triples can spell the same name); per
character it is H / E[len + 1] nats (the +1: the end-of-name symbol "\\n", which the
model predicts too). No model can do better on average.

The model: characters -> nn.Embedding -> nn.RNN / nn.GRU / nn.LSTM (`--cell`) ->
nn.Linear -> softmax over the characters; it reads "\\n" + name and predicts name +
"\\n" (the end of one name is the start of the next, as in a text file), trained with
Adam on the cross-entropy, with element-wise gradient clipping to [-5, 5] as in the
notes (optim.clip_grad_value_). Sampling feeds each sampled character back in, one
step at a time, carrying the recurrent state, with probabilities softmax(logits / T).

Success criterion (the grammar): held-out cross-entropy per character within 0.15 nats
of the grammar's entropy, and at least 80% of 100 samples (temperature 1) end in one
of the grammar's suffixes. `--data FILE` trains on the lines of any text file instead
(the criterion then does not apply: it prints the held-out cross-entropy and samples).

    python examples/char_lm.py                  # LSTM, about a minute on 2 CPU cores
    python examples/char_lm.py --cell gru       # or rnn
    python examples/char_lm.py --quick          # smoke run (CI)
    python examples/char_lm.py --data names.txt
"""
import argparse
import os
import sys
import time
from collections import defaultdict

# small matrices: one BLAS thread is as fast and does not collapse on shared cores
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import tinygrad_seq as ts  # noqa: E402
import tinygrad_seq.functional as F  # noqa: E402
from tinygrad_seq import nn, optim  # noqa: E402

try:
    from tqdm import tqdm
except ImportError:  # no progress bar without tqdm
    tqdm = None

PREFIXES = ["", "ptero", "tyranno", "veloci", "stego", "tricera", "brachio", "allo", "diplo",
            "ankylo", "spino", "megalo", "iguano", "compso"]
ROOTS = ["", "a", "bar", "cer", "gal", "kar", "lith", "mor", "nyx", "pel", "rhin", "tor",
         "vex", "zil", "dro", "sin"]
SUFFIXES = ["saurus", "raptor", "don", "ceratops", "mimus", "titan", "venator", "nychus"]
END = "\n"


def zipf(n, s=0.8):
    p = 1.0 / np.arange(1, n + 1) ** s
    return p / p.sum()


P_PREFIX, P_ROOT, P_SUFFIX = zipf(len(PREFIXES)), zipf(len(ROOTS)), zipf(len(SUFFIXES))


def grammar_distribution():
    """{name: probability} over every distinct string the grammar spells."""
    dist = defaultdict(float)
    for p, pp in zip(PREFIXES, P_PREFIX):
        for r, pr in zip(ROOTS, P_ROOT):
            for s, ps in zip(SUFFIXES, P_SUFFIX):
                dist[p + r + s] += pp * pr * ps
    return dict(dist)


def grammar_entropy(dist):
    """(entropy in nats per name, expected characters per name including the end)."""
    p = np.array(list(dist.values()))
    lengths = np.array([len(name) + 1 for name in dist])
    return float(-(p * np.log(p)).sum()), float((p * lengths).sum())


def sample_grammar(rng, n):
    pre = rng.choice(len(PREFIXES), n, p=P_PREFIX)
    root = rng.choice(len(ROOTS), n, p=P_ROOT)
    suf = rng.choice(len(SUFFIXES), n, p=P_SUFFIX)
    return [PREFIXES[a] + ROOTS[b] + SUFFIXES[c] for a, b, c in zip(pre, root, suf)]


class CharModel(nn.Module):
    def __init__(self, vocab, cell="lstm", embed=32, hidden=128):
        super().__init__()
        layer = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cell]
        self.embed = nn.Embedding(vocab, embed)
        self.rnn = layer(embed, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, idx, state=None):
        """idx (N, T) -> logits (N, T, vocab), the final recurrent state."""
        h, state = self.rnn(self.embed(idx), state)
        return self.out(h), state


def batch_arrays(names, stoi):
    """Inputs "\\n" + name and targets name + "\\n", padded: targets -100 past the end."""
    T = max(len(n) for n in names) + 1
    x = np.full((len(names), T), stoi[END], dtype=np.int64)
    y = np.full((len(names), T), -100, dtype=np.int64)
    for i, name in enumerate(names):
        ids = [stoi[c] for c in name]
        x[i, 1:len(ids) + 1] = ids
        y[i, :len(ids) + 1] = ids + [stoi[END]]
    return x, y


def cross_entropy_per_char(model, names, stoi, batch=500):
    model.eval()
    total, count = 0.0, 0
    with ts.no_grad():
        for i in range(0, len(names), batch):
            x, y = batch_arrays(names[i:i + batch], stoi)
            logits, _ = model(ts.tensor(x))
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ts.tensor(y.reshape(-1)),
                                     reduction="sum").item()
            count += int((y != -100).sum())
    model.train()
    return total / count


def sample(model, itos, stoi, rng, n=100, temperature=1.0, max_len=40):
    """n names sampled in parallel; a name that reaches max_len without "\\n" is cut."""
    model.eval()
    names = [""] * n
    done = np.zeros(n, dtype=bool)
    idx = np.full((n, 1), stoi[END], dtype=np.int64)
    state = None
    with ts.no_grad():
        for _ in range(max_len):
            logits, state = model(ts.tensor(idx), state)
            z = logits.numpy()[:, -1, :].astype(np.float64) / temperature
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            nxt = (p.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
            for i in np.flatnonzero(~done):
                if itos[nxt[i]] == END:
                    done[i] = True
                else:
                    names[i] += itos[nxt[i]]
            if done.all():
                break
            idx = nxt[:, None]
    model.train()
    return names, done


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cell", choices=["rnn", "gru", "lstm"], default="lstm")
    parser.add_argument("--quick", action="store_true", help="a short smoke run (CI)")
    parser.add_argument("--steps", type=int, default=None, help="Adam steps (default 1500; quick 250)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--train-names", type=int, default=2000,
                        help="size of the training set sampled from the grammar")
    parser.add_argument("--data", default=None, help="train on the lines of this text file instead")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    steps = args.steps or (250 if args.quick else 1500)
    ts.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    if args.data:
        with open(args.data, encoding="utf-8") as f:
            lines = [line.strip() for line in f if line.strip()]
        order = rng.permutation(len(lines))
        n_test = max(1, len(lines) // 10)
        test = [lines[i] for i in order[:n_test]]
        train = [lines[i] for i in order[n_test:]]
        entropy_per_char = None
        suffixes = ()
        print(f"{args.data}: {len(train)} training lines, {len(test)} held out")
    else:
        dist = grammar_distribution()
        h_name, mean_len = grammar_entropy(dist)
        entropy_per_char = h_name / mean_len
        suffixes = tuple(SUFFIXES)
        train = sample_grammar(rng, args.train_names)
        test = sample_grammar(np.random.default_rng(args.seed + 1), 2000)
        best = -sum(np.log(dist[n]) for n in test) / sum(len(n) + 1 for n in test)
        print(f"grammar: {len(PREFIXES)} prefixes x {len(ROOTS)} roots x {len(SUFFIXES)} suffixes, "
              f"{len(dist)} distinct names")
        print(f"grammar entropy: {h_name:.4f} nats per name, {mean_len:.3f} characters per name "
              f"(with the end) -> {entropy_per_char:.4f} nats per character")
        print(f"(the true distribution's cross-entropy on the 2,000 held-out names: {best:.4f})")
        print(f"training on {len(train)} names sampled from it ({len(set(train))} distinct); "
              f"{sum(n not in set(train) for n in test)} of the 2,000 held-out names are not among them")

    chars = sorted(set("".join(train) + "".join(test)) | {END})
    stoi = {c: i for i, c in enumerate(chars)}
    itos = {i: c for c, i in stoi.items()}
    model = CharModel(len(chars), args.cell, hidden=args.hidden)
    params = list(model.parameters())
    print(f"{args.cell.upper()} model, hidden {args.hidden}, vocabulary {len(chars)}, "
          f"{sum(p.numel() for p in params):,} parameters")
    optimizer = optim.Adam(params, lr=args.lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=args.lr / 20)

    start = time.perf_counter()
    steps_iter = range(1, steps + 1)
    bar = tqdm(steps_iter, desc="training", unit="step", mininterval=1.0) if tqdm else None
    running = None
    for step in (bar if bar is not None else steps_iter):
        names = [train[i] for i in rng.integers(0, len(train), args.batch)]
        x, y = batch_arrays(names, stoi)
        logits, _ = model(ts.tensor(x))
        loss = F.cross_entropy(logits.reshape(-1, len(chars)), ts.tensor(y.reshape(-1)))
        optimizer.zero_grad()
        loss.backward()
        optim.clip_grad_value_(params, 5.0)                 # element-wise, as in the notes
        optimizer.step()
        scheduler.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if bar is not None:
            bar.set_postfix(loss=f"{running:.3f}", refresh=False)
        elif step % max(steps // 10, 1) == 0 or step == 1:
            print(f"step {step:5d}  loss per character {running:.4f}")
    if bar is not None:
        bar.close()
    print(f"trained {steps} steps of {args.batch} names in {time.perf_counter() - start:.1f} s")

    ce = cross_entropy_per_char(model, test, stoi)
    print(f"held-out cross-entropy: {ce:.4f} nats per character")
    srng = np.random.default_rng(args.seed + 2)
    for temp in (0.5, 1.5):
        names, _ = sample(model, itos, stoi, srng, n=8, temperature=temp)
        print(f"samples at temperature {temp}: {', '.join(names)}")
    names, done = sample(model, itos, stoi, srng, n=100, temperature=args.temperature)
    print(f"samples at temperature {args.temperature}: {', '.join(names[:12])}, ...")
    novel = [n for n in names if n not in set(train)]
    print(f"{len(novel)} of 100 samples are novel (not in the training data)"
          + (f", e.g. {', '.join(novel[:5])}" if novel else ""))

    if entropy_per_char is None:
        print("success criterion: not applicable to --data (the grammar's criterion)")
        return 0
    grammatical = sum(n in dist for n in novel)
    print(f"{grammatical} of the {len(novel)} novel samples are names the grammar can spell")
    ending = sum(bool(d) and n.endswith(suffixes) for n, d in zip(names, done))
    gap = ce - entropy_per_char
    print(f"cross-entropy - grammar entropy = {gap:.4f} nats per character; "
          f"{ending} of 100 samples end in a grammar suffix")
    ok = gap <= 0.15 and ending >= 80
    print("success criterion (within 0.15 nats of the entropy, >= 80 of 100 samples end in a "
          "suffix):", "MET" if ok else "NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
