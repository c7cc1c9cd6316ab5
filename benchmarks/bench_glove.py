"""GloVe on the corpora of bench_word2vec.py (lee, kjv), evaluated as there: WordSim-353
Spearman (and OOV %) and Google's analogy accuracy (30,000 most frequent words), with
skip-gram Word2Vec on the same corpus for reference. Printed: seconds to count, seconds
to train, the loss J of the first and last epochs.

Run:  python benchmarks/bench_glove.py [--corpus lee,kjv] [--kjv-file F] [--epochs 25]
      [--vector-size 100] [--window 10] [--batch-size 512] [--no-word2vec]
"""
import _common  # noqa: F401  (first: pins BLAS threads, puts the repo on sys.path)

import argparse
import time

from bench_word2vec import evaluate, load_kjv, load_lee, run_ours
from tinygrad_seq.word2vec import GloVe


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="lee")
    ap.add_argument("--kjv-file", default=None)
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--vector-size", type=int, default=100)
    ap.add_argument("--window", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--x-max", type=float, default=100.0)
    ap.add_argument("--no-word2vec", action="store_true")
    args = ap.parse_args()
    for name in args.corpus.split(","):
        sents = load_lee() if name == "lee" else load_kjv(args.kjv_file)
        if sents is None:
            print(f"{name}: corpus not available")
            continue
        min_count = 2 if name == "lee" else 5
        m = GloVe(vector_size=args.vector_size, window=args.window, min_count=min_count,
                  x_max=args.x_max, epochs=args.epochs, batch_size=args.batch_size, seed=1)
        t = time.perf_counter()
        m.build_vocab(sents)
        counted = time.perf_counter() - t
        m.train()
        rho, oov, acc = evaluate(m.wv)
        print(f"{name}: GloVe vocab {len(m.vocab)}, {m.rows.shape[0]} nonzero; count {counted:.1f} s, "
              f"train {m.last_train_seconds:.1f} s; J {m.epoch_losses[0]:.4g} -> "
              f"{m.epoch_losses[-1]:.4g}; WS353 Spearman {rho:.3f} (OOV {oov:.1f}%), "
              f"analogies {acc:.3f}")
        if not args.no_word2vec:
            _, (rho, oov, acc) = run_ours(sents, 1, min_count, 5, 1, 1024, True)
            print(f"{name}: Word2Vec sg (5 epochs) WS353 Spearman {rho:.3f}, analogies {acc:.3f}")


if __name__ == "__main__":
    main()
