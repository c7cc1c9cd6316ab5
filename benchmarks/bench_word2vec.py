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
  wn   the WordNet 3.0 glosses of Debian's dict-wn package (/usr/share/dictd/wn.dict.dz,
       gzip-compressed dictd text): one sentence per sense of each entry, the
       headword followed by its gloss and examples, the [syn: ...] / [ant: ...] lists
       dropped, lowercased letters only, repeated sentences kept once (207k sentences,
       3.0M tokens),
       min_count 5. A synset's gloss appears once under each of its words, so words
       of one synset share their context: a corpus of definitions, larger than the
       KJV and with much more of WordSim-353's vocabulary.
Evaluation files: wordsim353.tsv and questions-words.txt from gensim's test data.

Ours runs with its two steps: the compiled kernel (word2vec/compiled.py, Numba; the
default where numba is installed) and the NumPy step (compiled=False); the same update
to float32 rounding. Skip-gram also runs with per-pair negatives (word2vec's and
gensim's sampling; compiled) besides the default shared negatives (one draw per center
word for its whole window). With --seeds a,b,c every run is repeated per seed: words/s is the median,
the Spearman the mean ± sd (48 in-vocabulary WordSim pairs on the KJV make one seed's
figure noisy).

Run:  python benchmarks/bench_word2vec.py [--corpus lee,kjv,wn] [--kjv-file F] [--wn-file F]
      [--max-tokens N] [--sg 1,0] [--epochs 5] [--seeds 1,2,3] [--batch-examples N]
      [--steps compiled,numpy] [--no-pairs] [--no-gensim]
"""
import _common  # noqa: F401  (first: pins BLAS threads, puts the repo on sys.path)

import argparse
import gzip
import os
import re
import shutil
import statistics
import subprocess
import time

from _common import DEVICE, machine_line
from tinygrad_seq.word2vec import Word2Vec
from tinygrad_seq.word2vec.compiled import available as compiled_available

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


WN_FILE = "/usr/share/dictd/wn.dict.dz"
SENSE = re.compile(r"^\s+(?:(?:n|v|adj|adv)\s+)?\d+:\s?(.*)$")
CROSS_REFS = re.compile(r"\[(?:syn|ant|also|see)?:?[^\]]*\]", re.S)


def load_wn(path=None):
    """The senses of WordNet's dictd text (gzip), each as its headword + gloss tokens,
    repeated sentences once; None when the file is absent."""
    path = path or WN_FILE
    if not os.path.exists(path):
        return None
    sents, seen, head, sense = [], set(), None, None

    def flush():
        if head is not None and sense is not None:
            toks = tokenize(head) + tokenize(CROSS_REFS.sub(" ", " ".join(sense)))
            key = " ".join(toks)
            if toks and key not in seen:
                seen.add(key)
                sents.append(toks)

    with gzip.open(path, "rt", encoding="utf8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            if not line[0].isspace():                 # a headword: a new entry
                flush()
                head, sense = line.strip(), None
                if head.startswith("00-database") or head.startswith("00database"):
                    head = None
                continue
            m = SENSE.match(line)
            if m:                                       # a new sense of the entry
                flush()
                sense = [m.group(1)]
            elif sense is not None:
                sense.append(line.strip())              # the sense continues
    flush()
    return sents


def capped(sents, max_tokens):
    """The first sentences holding at most max_tokens tokens (all without a cap)."""
    if not max_tokens:
        return sents
    out, n = [], 0
    for s in sents:
        if n + len(s) > max_tokens:
            break
        out.append(s)
        n += len(s)
    return out


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


def run_ours(sents, sg, min_count, epochs, seed, batch_examples, shared, compiled=None):
    m = Word2Vec(vector_size=100, window=5, min_count=min_count, sg=sg, negative=5, sample=1e-3,
                 alpha=0.025, min_alpha=0.0001, epochs=epochs, seed=seed, progress=False,
                 batch_examples=batch_examples, shared_negatives=shared, compiled=compiled)
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
    ap.add_argument("--wn-file", default=None, help=f"WordNet dictd text (default {WN_FILE})")
    ap.add_argument("--max-tokens", type=int, default=None,
                    help="train on the first sentences of each corpus holding at most N tokens")
    ap.add_argument("--steps", default="compiled,numpy",
                    help="our steps to run: compiled (Numba kernel), numpy (compiled=False)")
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
        sents = {"lee": load_lee, "kjv": lambda: load_kjv(args.kjv_file),
                 "wn": lambda: load_wn(args.wn_file)}[name]()
        if sents is None:
            print(f"{name}: not available, skipped")
            continue
        sents = capped(sents, args.max_tokens)
        min_count = 2 if name == "lee" else 5
        tokens = sum(map(len, sents))
        for sg in (int(s) for s in args.sg.split(",")):
            model = "skip-gram" if sg else "CBOW"
            runs = []
            if not (args.no_gensim or gensim is None):
                runs.append(("gensim (1 worker)",
                             lambda seed: run_gensim(sents, sg, min_count, args.epochs, seed)))
            for step in args.steps.split(","):
                if step == "compiled" and not compiled_available():
                    print("tinygrad_seq compiled: numba not installed, skipped")
                    continue
                runs.append((f"tinygrad_seq {step}" + (", shared negatives" if sg else ""),
                             lambda seed, c=step == "compiled": run_ours(
                                 sents, sg, min_count, args.epochs, seed, args.batch_examples,
                                 True, c)))
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
