"""word2vec side by side with gensim (when installed; workers=1) on real text.

Both train on the same token stream with the same hyper-parameters (vector_size 100,
window 5, negative 5, sample 1e-3, epochs 5, alpha 0.025 -> 0.0001), skip-gram and
CBOW. Printed per run: training words/s (raw corpus words x epochs / seconds of
train(), vocabulary building excluded), WordSim-353 Spearman (and OOV %), and the
accuracy on Google's analogy questions (restricted to the 30,000 most frequent words;
questions with unknown words skipped, as gensim).

Corpora (no downloads):
  lee  gensim's test data lee_background.cor (~60k tokens), min_count 2
  kjv  the King James Bible from Debian's bible-kjv package (`bible` prints it;
       ~0.8M tokens), one verse per sentence, lowercased letters only, min_count 5
Evaluation files: wordsim353.tsv and questions-words.txt from gensim's test data.

Ours runs twice for skip-gram: with shared negatives (the default: one draw per center
word for its whole window) and with per-pair negatives (word2vec's and gensim's
sampling). With --seeds a,b,c every run is repeated per seed: words/s is the median,
the Spearman the mean ± sd (48 in-vocabulary WordSim pairs on the KJV make one seed's
figure noisy).

Run:  python benchmarks/bench_word2vec.py [--corpus lee,kjv] [--kjv-file F] [--sg 1,0]
      [--epochs 5] [--seeds 1,2,3] [--batch-examples N] [--no-pairs] [--no-gensim]
"""
import _common  # noqa: F401  (first: pins BLAS threads, puts the repo on sys.path)

import argparse
import os
import re
import shutil
import statistics
import subprocess
import time

from _common import DEVICE, machine_line
from tinygrad_seq.word2vec import Word2Vec

try:
    import gensim
    from gensim.models import Word2Vec as GensimWord2Vec
except Exception:  # not installed
    gensim = None

TOKEN = re.compile(r"[a-z]+")


def test_data_dir():
    if gensim is None:
        return None
    return os.path.join(os.path.dirname(gensim.__file__), "test", "test_data")


def tokenize(text):
    return TOKEN.findall(text.lower())


def load_lee():
    d = test_data_dir()
    if d is None:
        return None
    with open(os.path.join(d, "lee_background.cor"), encoding="utf8") as f:
        return [t for t in (tokenize(line) for line in f) if t]


def load_kjv(path=None):
    """Verses of the KJV: from a text file (one verse per line) or from `bible`."""
    if path:
        with open(path, encoding="utf8") as f:
            return [t for t in (tokenize(line) for line in f) if t]
    if shutil.which("bible") is None:
        return None
    out = subprocess.run(["bible", "gen1:1-rev22:21"], capture_output=True, text=True,
                         check=True).stdout
    verses, cur = [], []
    for line in out.splitlines():
        m = re.match(r"^\s+\d+ (.*)$", line)
        if m:                                   # a new verse
            if cur:
                verses.append(cur)
            cur = tokenize(m.group(1))
        elif re.match(r"^\S.* \d+$", line) or not line.strip():
            continue                            # a chapter heading or a blank line
        else:
            cur += tokenize(line)               # the verse continues
    if cur:
        verses.append(cur)
    return verses


def evaluate(wv):
    d = test_data_dir()
    if d is None:
        return float("nan"), float("nan"), float("nan")
    _, (rho, _), oov = wv.evaluate_word_pairs(os.path.join(d, "wordsim353.tsv"))
    acc, _ = wv.evaluate_word_analogies(os.path.join(d, "questions-words.txt"),
                                        restrict_vocab=30000)
    return float(rho), float(oov), float(acc)


def run_gensim(sents, sg, min_count, epochs, seed):
    m = GensimWord2Vec(vector_size=100, window=5, min_count=min_count, sg=sg, hs=0, negative=5,
                       sample=1e-3, alpha=0.025, min_alpha=0.0001, workers=1, seed=seed)
    m.build_vocab(sents)
    t = time.perf_counter()
    m.train(sents, total_examples=m.corpus_count, epochs=epochs)
    dt = time.perf_counter() - t
    return m.corpus_total_words * epochs / dt, evaluate(m.wv)


def run_ours(sents, sg, min_count, epochs, seed, batch_examples, shared):
    m = Word2Vec(vector_size=100, window=5, min_count=min_count, sg=sg, negative=5, sample=1e-3,
                 alpha=0.025, min_alpha=0.0001, epochs=epochs, seed=seed, progress=False,
                 batch_examples=batch_examples, shared_negatives=shared)
    m.build_vocab(sents)
    t = time.perf_counter()
    m.train(sents)
    dt = time.perf_counter() - t
    return m.vocab.total_words * epochs / dt, evaluate(m.wv)


def summarize(results):
    """(median words/s, mean and sd of Spearman, mean analogy accuracy, OOV %) of runs."""
    wps = statistics.median(r[0] for r in results)
    rhos = [r[1][0] for r in results]
    sd = statistics.stdev(rhos) if len(rhos) > 1 else float("nan")
    return (wps, statistics.fmean(rhos), sd, statistics.fmean(r[1][2] for r in results),
            results[0][1][1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="lee,kjv")
    ap.add_argument("--kjv-file", default=None, help="KJV text, one verse per line")
    ap.add_argument("--sg", default="1,0")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--seeds", default="1", help="comma-separated seeds; every run is "
                    "repeated per seed (median words/s, mean and sd of the Spearman)")
    ap.add_argument("--batch-examples", type=int, default=1024)
    ap.add_argument("--no-pairs", action="store_true",
                    help="skip our skip-gram with per-pair negatives (word2vec's sampling)")
    ap.add_argument("--no-gensim", action="store_true")
    args = ap.parse_args()
    seeds = [int(x) for x in args.seeds.split(",")]
    print(machine_line())
    print(f"tinygrad_seq device: {DEVICE}; gensim: "
          f"{'not installed' if gensim is None else gensim.__version__}")
    print("vector_size 100, window 5, negative 5, sample 1e-3, alpha 0.025 -> 0.0001, "
          f"epochs {args.epochs}, seeds {seeds}; ours: batch_examples {args.batch_examples}")
    rows = []
    for name in args.corpus.split(","):
        sents = load_lee() if name == "lee" else load_kjv(args.kjv_file)
        if sents is None:
            print(f"{name}: not available, skipped")
            continue
        min_count = 2 if name == "lee" else 5
        tokens = sum(map(len, sents))
        for sg in (int(s) for s in args.sg.split(",")):
            model = "skip-gram" if sg else "CBOW"
            runs = []
            if not (args.no_gensim or gensim is None):
                runs.append(("gensim (1 worker)",
                             lambda seed: run_gensim(sents, sg, min_count, args.epochs, seed)))
            runs.append(("tinygrad_seq" + (", shared negatives" if sg else ""),
                         lambda seed: run_ours(sents, sg, min_count, args.epochs, seed,
                                               args.batch_examples, True)))
            if sg and not args.no_pairs:
                runs.append(("tinygrad_seq, per-pair negatives",
                             lambda seed: run_ours(sents, sg, min_count, args.epochs, seed,
                                                   args.batch_examples, False)))
            base = None
            for who, fn in runs:
                wps, rho, sd, acc, oov = summarize([fn(seed) for seed in seeds])
                base = base or wps
                rho_txt = f"{rho:.3f}" + ("" if sd != sd else f" ± {sd:.3f}")
                rows.append((f"{name} ({tokens / 1e3:.0f}k tokens)", model, who, f"{wps:,.0f}",
                             f"{wps / base:.2f}x", rho_txt, f"{oov:.1f}", f"{acc:.3f}"))
                print("  ".join(rows[-1]), flush=True)
    head = ("corpus", "model", "implementation", "words/s", "vs gensim", "WS353 Spearman",
            "WS353 OOV %", "analogy acc")
    print()
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
