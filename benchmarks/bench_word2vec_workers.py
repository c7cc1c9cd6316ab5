"""word2vec's workers=N (Hogwild threads on shared tables) against workers=1.

A synthetic Zipf corpus (vocabulary --vocab, --words tokens, sentences of 20 words,
each sentence drawn mostly from one of 50 topics so that there is something to learn)
is trained with the same settings for each worker count. Printed per run: training
words/s (raw words x epochs / seconds of train()), the CPU time of the process over
the wall time (how many cores the run really kept busy: about N for N workers on an
idle machine), and the topic separation of the vectors (mean cosine within a topic
minus across topics; the quality must not drop with more workers). Repeated --repeats
times, alternating worker counts; the median is shown. On a machine shared with other
work the CPU/wall column says how many cores the run got.

Where the machine is busy (other processes holding the cores) words/s cannot show the
speed-up, so a second part accounts for the time of each worker thread from Linux's
/proc/<pid>/task/<tid>/schedstat: wall = CPU time + time runnable but waiting for a
core + time blocked (asleep: waiting for the GIL, the only lock the threads share).
Blocked time near zero means the threads do not serialise on the GIL, so on an idle
2-core machine two workers run about 2 x (1 - blocked share) as fast as one.

Run:  python benchmarks/bench_word2vec_workers.py [--workers 1,2] [--sg 1]
      [--words 400000] [--vocab 2000] [--epochs 1] [--repeats 3]
"""
import _common  # noqa: F401  (first: pins BLAS threads, puts the repo on sys.path)

import argparse
import os
import statistics
import threading
import time

import numpy as np

from _common import machine_line
from tinygrad_seq.word2vec import Word2Vec
from tinygrad_seq.word2vec import corpus as C
from tinygrad_seq.word2vec.model import _Scratch


def corpus(n_words, vocab, seed=0, length=20, topics=50):
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, vocab + 1)
    p = 1.0 / ranks
    p /= p.sum()
    topic_of = rng.integers(0, topics, size=vocab)
    members = [np.flatnonzero(topic_of == t) for t in range(topics)]
    sents = []
    for _ in range(n_words // length):
        t = int(rng.integers(topics))
        general = rng.choice(vocab, size=length, p=p)
        own = rng.choice(members[t], size=length)
        pick = rng.random(length) < 0.6
        sents.append([f"w{i}" for i in np.where(pick, own, general)])
    return sents, topic_of


def separation(model, topic_of, n=2000):
    wv = model.wv
    idx = [wv.key_to_index[f"w{i}"] for i in range(n) if f"w{i}" in wv.key_to_index]
    topics = np.array([topic_of[int(wv.index_to_key[i][1:])] for i in idx])
    u = wv.get_normed_vectors()[idx]
    cos = u @ u.T
    same = topics[:, None] == topics[None, :]
    np.fill_diagonal(same, False)
    diff = topics[:, None] != topics[None, :]
    return float(cos[same].mean() - cos[diff].mean())


def _schedstat():
    """(CPU seconds, seconds runnable waiting for a core) of the calling thread."""
    with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as f:
        cpu, wait, _ = map(int, f.read().split())
    return cpu / 1e9, wait / 1e9


def gil_accounting(model, sents, n_threads, n_jobs=10):
    """Each of n_threads threads trains the same n_jobs jobs the way train()'s workers
    do (own generator and scratch, shared tables); returns per thread (wall, cpu,
    waiting for a core, blocked)."""
    jobs = [b for b, _ in C.encode_batches(sents, model.vocab, model.batch_words)][:n_jobs]
    out = {}

    def run(k):
        rng, scratch = __import__("numpy").random.default_rng(k), _Scratch()
        wall, (cpu, wait) = time.perf_counter(), _schedstat()
        for b in jobs:
            model._train_job(b, 0.01, rng, scratch, False)
        cpu1, wait1 = _schedstat()
        wall = time.perf_counter() - wall
        out[k] = (wall, cpu1 - cpu, wait1 - wait, wall - (cpu1 - cpu) - (wait1 - wait))

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [out[k] for k in range(n_threads)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--sg", type=int, default=1)
    ap.add_argument("--hs", type=int, default=0)
    ap.add_argument("--words", type=int, default=400_000)
    ap.add_argument("--vocab", type=int, default=2_000)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(machine_line())
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()}")
    sents, topic_of = corpus(args.words, args.vocab)
    counts = [int(w) for w in args.workers.split(",")]
    results = {n: [] for n in counts}
    base = Word2Vec(sents, vector_size=100, min_count=5, sg=args.sg, hs=args.hs,
                    negative=0 if args.hs else 5, epochs=0, progress=False)
    raw = base.corpus_total_words * args.epochs
    for _ in range(args.repeats):
        for n in counts:
            m = Word2Vec(vector_size=100, min_count=5, sg=args.sg, hs=args.hs,
                         negative=0 if args.hs else 5, epochs=args.epochs, workers=n,
                         progress=False)
            m.build_vocab(sents)
            wall, cpu = time.perf_counter(), time.process_time()
            m.train(sents, total_examples=m.corpus_count, epochs=args.epochs)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            results[n].append((raw / wall, cpu / wall, separation(m, topic_of)))
            print(f"  workers={n}: {raw / wall:,.0f} words/s, cpu/wall {cpu / wall:.2f}, "
                  f"separation {results[n][-1][2]:.3f}", flush=True)
    print(f"sg={args.sg} hs={args.hs}, {args.words:,} words x {args.epochs} epochs, "
          f"vocabulary {len(base.wv):,}; median of {args.repeats}:")
    one = statistics.median(r[0] for r in results[counts[0]])
    for n in counts:
        wps = statistics.median(r[0] for r in results[n])
        print(f"workers={n}: {wps:,.0f} words/s ({wps / one:.2f}x), cpu/wall "
              f"{statistics.median(r[1] for r in results[n]):.2f}, separation "
              f"{statistics.median(r[2] for r in results[n]):.3f}")
    if os.path.exists(f"/proc/self/task/{threading.get_native_id()}/schedstat"):
        print("thread accounting (schedstat), 2 threads x 10 jobs each:")
        m = Word2Vec(sents, vector_size=100, min_count=5, sg=args.sg, hs=args.hs,
                     negative=0 if args.hs else 5, epochs=0, progress=False)
        for _ in range(args.repeats):
            for k, (wall, cpu, wait, blocked) in enumerate(gil_accounting(m, sents, 2)):
                print(f"  thread {k}: wall {wall:.2f}s = cpu {cpu:.2f} + waiting for a core "
                      f"{wait:.2f} + blocked (GIL) {blocked:.2f} ({blocked / wall:.0%})")


if __name__ == "__main__":
    main()
