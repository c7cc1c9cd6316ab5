"""The benchmark protocol: what a user's training loop gets, time and memory.

Every case is one training step (forward, loss, backward, every weight's gradient) run
by several methods, one of them the hand-written NumPy floor. For each method:

  plain loop    the method alone in its own process (a fresh interpreter, so that no
                other method's arrays or allocator state are around), the step called
                in a plain Python loop with the garbage collector ON (as in a user's
                loop): 5 warm-up calls, then every one of --steps (default 30) calls
                timed on its own; the figure is the median call. The ratio is to the
                floor's plain-loop figure, measured the same way in its own process.
                This is the figure the README quotes.
  interleaved   the method and the floor in one process, called in pairs (method,
                floor, method, floor, ...; 5 warm-up pairs, then --steps timed pairs,
                collector on); the ratio of the two medians. A burst of load from a
                neighbour hits both members of a pair alike, so on a shared machine
                this ratio is steadier than the plain one, but each method runs
                beside the other's memory.
  traced peak   tracemalloc's peak during one step above what was allocated before the
                step before it (after one untraced call; the array pool emptied, then
                filled by that traced step, so its arrays count), in its own process: NumPy's arrays and
                Python's objects (PyTorch's allocations are not traced, so its column
                is empty). Deterministic: measured once.

The whole protocol is run --runs times (default 3); the table gives the median of the
runs and every run's figure. Before timing, each method's gradients are checked
against the floor's (in the interleaved process).

Cases (float32, one thread, time-major; the input does not require grad):
  lstm_small    LSTM N=32, I=64,  H=128, T=50   fused / composed (fused=False) / floor / PyTorch
  lstm_medium   LSTM N=64, I=256, H=512, T=100  the same
  gru_small     GRU  N=32, I=64,  H=128, T=50   the same (PyTorch's GRU: reset_after=True)
  gru_medium    GRU  N=64, I=256, H=512, T=100  the same
  notes_lstm    the notes' LSTM cell (gates f, i, c, o on the stacked [a<t-1>; x<t>],
                one column per example) written from Tensor primitives as in
                examples/rnn_step_by_step.py, n_x=256, n_a=512, m=64, T=100, MSE on every
                a<t>; its floor is its own hand-written NumPy forward and BPTT
  attention     nn.MultiheadAttention N=32, L=64, E=256, 8 heads (bench_attention.py's
                step) / floor (numpy_attention.py) / PyTorch

Run:  python benchmarks/protocol.py [--cases lstm_medium,notes_lstm] [--runs 3]
          [--steps 30] [--warmup 5] [--no-memory] [--no-time]
(one process per (case, method, mode); the lstm_medium and notes_lstm cases take a few
minutes each on a busy machine.)
"""
import _common  # noqa: F401  (first: pins BLAS threads, puts the repo on sys.path)

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc

import numpy as np

import notes_lstm
from _common import DEVICE, load_line, machine_line, sync, table, torch, ts

WARMUP, STEPS = 5, 30
FLOOR = "NumPy floor"


# ---------------------------------------------------------------- the cases

RNN_CASES = {"lstm_small": ("LSTM", 32, 64, 128, 50), "lstm_medium": ("LSTM", 64, 256, 512, 100),
             "gru_small": ("GRU", 32, 64, 128, 50), "gru_medium": ("GRU", 64, 256, 512, 100)}
CASES = list(RNN_CASES) + ["notes_lstm", "attention"]


def methods(case):
    """The methods of a case, the floor last."""
    if case in RNN_CASES:
        kind = RNN_CASES[case][0]
        names = ["tinygrad_seq fused", "tinygrad_seq composed"]
        torch_name = f"PyTorch nn.{kind}"
    elif case == "notes_lstm":
        return ["tinygrad_seq from primitives", FLOOR]
    else:
        names = ["tinygrad_seq nn.MultiheadAttention"]
        torch_name = "PyTorch nn.MultiheadAttention"
    return names + ([torch_name] if torch is not None else []) + [FLOOR]


def build(case, method):
    """The step function (returns the weight gradients as arrays) of `method` on `case`."""
    if case in RNN_CASES:
        import bench_rnn
        kind, N, I, H, T = RNN_CASES[case]
        weights, x, y = bench_rnn.make_problem(kind, N, I, H, T)
        if method == FLOOR:
            return bench_rnn.numpy_runner(kind, weights, x, y)
        if method.startswith("PyTorch"):
            step = bench_rnn.torch_runner(kind, weights, x, y)
            return lambda: [g.numpy() if hasattr(g, "numpy") else g for g in step()]
        return bench_rnn.ts_runner(kind, weights, x, y, fused=method.endswith("fused"))
    if case == "notes_lstm":
        params, x, y = notes_lstm.problem()
        if method == FLOOR:
            return notes_lstm.numpy_runner(params, x, y)
        return notes_lstm.ts_runner(params, x, y, sync)
    import bench_attention
    N, L, E, H = 32, 64, 256, 8
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, L, E)).astype(np.float32)
    R = rng.standard_normal((N, L, E)).astype(np.float32)
    weights = bench_attention.make_weights(E)
    if method == FLOOR:
        return bench_attention.numpy_runner(weights, x, R, H)[1]
    if method.startswith("PyTorch"):
        step = bench_attention.torch_runner(weights, x, R, H, False)[1]
        return lambda: [g for g in step()]
    return bench_attention.ts_runner(weights, x, R, H)[1]


# ---------------------------------------------------------------- one process's work

def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def plain_loop(step, warmup, steps):
    """The plain loop: warm-up calls, then each call timed, collector on."""
    gc.enable()
    for _ in range(warmup):
        step()
    return [_timed(step) for _ in range(steps)]


def interleaved(step, floor, warmup, steps):
    """Pairs (method, floor) in one process: the times of each."""
    gc.enable()
    for _ in range(warmup):
        step()
        floor()
    mine, theirs = [], []
    for _ in range(steps):
        mine.append(_timed(step))
        theirs.append(_timed(floor))
    return mine, theirs


def traced_peak(step):
    """tracemalloc's peak during one call above what was allocated before the call
    before it, after one untraced call (lazy set-up is not counted). The array pool is
    emptied first and the previous call is traced, so the arrays the pool keeps between
    steps (this step's workspaces) are counted as this step's memory."""
    step()
    ts.memory.empty_cache()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    result = step()                   # fills the pool, traced
    del result
    tracemalloc.reset_peak()
    result = step()
    peak = tracemalloc.get_traced_memory()[1] - base
    del result
    tracemalloc.stop()
    return peak


def check_same(case, method, step, floor):
    got, want = step(), floor()
    rtol = 2e-3
    for k, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g), np.asarray(w)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=2e-4 * np.abs(w).max(),
                                   err_msg=f"{case}: {method}: gradient {k}")


def worker(args):
    case, method, mode = args.worker
    step = build(case, method)
    if mode == "plain":
        result = {"times": plain_loop(step, args.warmup, args.steps)}
    elif mode == "pair":
        floor = build(case, FLOOR)
        check_same(case, method, step, floor)
        mine, theirs = interleaved(step, floor, args.warmup, args.steps)
        result = {"times": mine, "floor_times": theirs}
    else:
        result = {"peak": traced_peak(step)}
    print("RESULT " + json.dumps(result))


def spawn(case, method, mode, args):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", case, method, mode,
           "--steps", str(args.steps), "--warmup", str(args.warmup)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{case} / {method} / {mode} failed:\n{proc.stdout}\n{proc.stderr}")
    line = [s for s in proc.stdout.splitlines() if s.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


# ---------------------------------------------------------------- the runner

def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", default="lstm_medium,gru_medium,notes_lstm",
                   help=f"comma-separated, of {CASES}")
    p.add_argument("--runs", type=int, default=3, help="runs of the whole protocol")
    p.add_argument("--steps", type=int, default=STEPS, help="timed steps per process (>= 30)")
    p.add_argument("--warmup", type=int, default=WARMUP, help="warm-up calls (pairs)")
    p.add_argument("--no-memory", action="store_true", help="skip the traced peaks")
    p.add_argument("--no-time", action="store_true", help="traced peaks only")
    p.add_argument("--worker", nargs=3, metavar=("CASE", "METHOD", "MODE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    cases = args.cases.split(",")
    for case in cases:
        if case not in CASES:
            p.error(f"unknown case {case!r}; known: {CASES}")
    print(machine_line())
    print(f"protocol: each method in its own process; plain loop = median of {args.steps} "
          f"timed steps after {args.warmup} warm-up calls, collector on; interleaved = "
          f"(method, floor) pairs in one process, ratio of medians; {args.runs} runs; "
          f"tinygrad_seq on {DEVICE}")
    for case in cases:
        names = methods(case)
        plain = {m: [] for m in names}
        pair = {m: [] for m in names if m != FLOOR}
        if not args.no_time:
            for run in range(args.runs):
                for m in names:
                    plain[m].append(statistics.median(spawn(case, m, "plain", args)["times"]))
                for m in pair:
                    r = spawn(case, m, "pair", args)
                    pair[m].append(statistics.median(r["times"]) /
                                   statistics.median(r["floor_times"]))
                print(f"  ({case}: run {run + 1} of {args.runs} done; {load_line('now')})",
                      flush=True)
        peaks = {}
        if not args.no_memory and DEVICE == "cpu":
            peaks = {m: spawn(case, m, "memory", args)["peak"] for m in names
                     if not m.startswith("PyTorch")}
        rows = []
        for m in names:
            row = [m]
            if not args.no_time:
                ms = [t * 1e3 for t in plain[m]]
                ratios = [a / b for a, b in zip(plain[m], plain[FLOOR])]
                row += [f"{statistics.median(ms):.1f}", " / ".join(f"{v:.1f}" for v in ms),
                        f"{statistics.median(ratios):.2f}x"]
                row += ([f"{statistics.median(pair[m]):.2f}x",
                         " / ".join(f"{v:.2f}" for v in pair[m])] if m in pair else ["1", ""])
            if peaks:
                row += ([f"{peaks[m] / 2 ** 20:.1f}", f"{peaks[m] / peaks[FLOOR]:.2f}x"]
                        if m in peaks else ["", ""])
            rows.append(row)
        headers = ["method"]
        if not args.no_time:
            headers += ["plain ms", "runs ms", "plain vs floor", "interleaved vs floor",
                        "runs (interleaved)"]
        if peaks:
            headers += ["traced peak MiB", "peak vs floor"]
        print(f"\n{case}:")
        print(table(headers, rows))
        summary = ", ".join(f"{r[0]} {r[1]}" for r in rows)
        print(f"SUMMARY protocol {case}: {summary}", flush=True)
    print(load_line("at end"))


if __name__ == "__main__":
    main()
