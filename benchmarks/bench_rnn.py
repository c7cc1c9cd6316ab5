"""A recurrent training step: forward over T steps, an MSE loss on every output,
backpropagation through time, the gradients of all weights.

Cases (float32, time-major (T, N, I), one layer, one direction, zero initial states; the
input does not require grad, as in a first layer):
  LSTM small   N=32, I=64,  H=128, T=50
  LSTM medium  N=64, I=256, H=512, T=100
  GRU small    N=32, I=64,  H=128, T=50   (PyTorch's GRU: reset_after=True)
  GRU medium   N=64, I=256, H=512, T=100

Rows (ms per training step, medians; the ratio to the NumPy floor):
  tinygrad_seq fused      nn.LSTM / nn.GRU: one fused primitive per layer and direction
  tinygrad_seq composed   the same modules with fused=False: every gate a graph node
  NumPy floor             numpy_rnn.py: hand-written forward and hand-derived BPTT
  PyTorch                 torch.nn.LSTM / GRU (when installed)
and the peak memory of one LSTM medium and one GRU medium step (tracemalloc: NumPy's
arrays and Python's objects; PyTorch's allocations are not traced, so it has none)
against the floor's. (protocol.py times the same steps as a user's loop runs them.)

Run:  python benchmarks/bench_rnn.py [--repeats 7] [--quick] [--cases lstm_small,...]
"""
import _common  # noqa: F401  (first: pins BLAS threads, puts the repo on sys.path)

import argparse
import gc
import tracemalloc

import numpy as np

import numpy_rnn
from _common import DEVICE, load_line, machine_line, measure_many, sync, table, torch
import tinygrad_seq as ts
from tinygrad_seq import nn

CASES = {"lstm_small": ("LSTM", 32, 64, 128, 50), "lstm_medium": ("LSTM", 64, 256, 512, 100),
         "gru_small": ("GRU", 32, 64, 128, 50), "gru_medium": ("GRU", 64, 256, 512, 100)}
NAMES = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]


def make_problem(kind, N, I, H, T, seed=0):
    rng = np.random.default_rng(seed)
    G = 4 if kind == "LSTM" else 3
    k = 1 / np.sqrt(H)
    shapes = {"weight_ih_l0": (G * H, I), "weight_hh_l0": (G * H, H), "bias_ih_l0": (G * H,),
              "bias_hh_l0": (G * H,)}
    weights = {n: rng.uniform(-k, k, s).astype(np.float32) for n, s in shapes.items()}
    x = rng.standard_normal((T, N, I)).astype(np.float32)
    y = (rng.standard_normal((T, N, H)) * 0.5).astype(np.float32)
    return weights, x, y


def ts_runner(kind, weights, x, y, fused):
    T, N, I = x.shape
    H = weights["weight_hh_l0"].shape[1]
    m = getattr(nn, kind)(I, H, fused=fused)
    m.load_state_dict(weights)
    xt, yt = ts.tensor(x), ts.tensor(y)
    params = dict(m.named_parameters())

    def step():
        m.zero_grad()
        out, _ = m(xt)
        ((out - yt) ** 2).mean().backward()
        sync()
        return [params[n].grad.array for n in NAMES]
    return step


def numpy_runner(kind, weights, x, y):
    w = [weights[n] for n in NAMES]
    T, N, I = x.shape
    H = w[1].shape[1]
    zeros = np.zeros((N, H), np.float32)

    def step():
        if kind == "LSTM":
            out, cache = numpy_rnn.lstm_forward(x, zeros, zeros, *w)
        else:
            out, cache = numpy_rnn.gru_forward(x, zeros, *w)
        diff = out - y
        _loss = float((diff * diff).mean())
        diff *= 2.0 / diff.size
        backward = numpy_rnn.lstm_backward if kind == "LSTM" else numpy_rnn.gru_backward
        g = backward(diff, cache)
        return [g["w_ih"], g["w_hh"], g["b_ih"], g["b_hh"]]
    return step


def torch_runner(kind, weights, x, y):
    T, N, I = x.shape
    H = weights["weight_hh_l0"].shape[1]
    m = getattr(torch.nn, kind)(I, H)
    m.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    params = dict(m.named_parameters())

    def step():
        m.zero_grad(set_to_none=True)
        out, _ = m(xt)
        ((out - yt) ** 2).mean().backward()
        return [params[n].grad.numpy() for n in NAMES]
    return step


def peak_bytes(step):
    """Peak traced allocation of one call of `step` above what was allocated before it
    (after one untraced call, so that lazy set-up is not counted)."""
    step()
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    result = step()
    peak = tracemalloc.get_traced_memory()[1] - base
    del result
    tracemalloc.stop()
    return peak


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=7, help="repeats; the median is reported")
    p.add_argument("--quick", action="store_true", help="3 repeats of ~0.05 s (smoke run)")
    p.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {list(CASES)}")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory table")
    p.add_argument("--profile", action="store_true", help="cProfile the fused LSTM small step")
    args = p.parse_args()
    min_time = 0.5
    if args.quick:
        args.repeats, min_time = min(args.repeats, 3), 0.05

    print(machine_line())
    print(f"recurrent training step (forward over T, MSE on every output, BPTT, gradients of "
          f"all weights), float32, 1 thread; ms per step, median of {args.repeats} repeats "
          f"(interleaved); tinygrad_seq on {DEVICE}")
    summary, rows, memory_rows = [], [], []
    for case in args.cases.split(","):
        kind, N, I, H, T = CASES[case]
        weights, x, y = make_problem(kind, N, I, H, T)
        runners = {"tinygrad_seq fused": ts_runner(kind, weights, x, y, True),
                   "tinygrad_seq composed": ts_runner(kind, weights, x, y, False),
                   "NumPy floor": numpy_runner(kind, weights, x, y)}
        if torch is not None:
            runners[f"PyTorch nn.{kind}"] = torch_runner(kind, weights, x, y)
        # all compute the same gradients (float32: compared relative to each one's scale)
        want = runners["NumPy floor"]()
        for label, step in runners.items():
            for name, got, w in zip(NAMES, step(), want):
                np.testing.assert_allclose(np.asarray(got), w, rtol=2e-3,
                                           atol=2e-4 * np.abs(w).max(), err_msg=f"{label}: {name}")
        if args.profile and case == "lstm_small":
            import cProfile
            import pstats
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(10):
                runners["tinygrad_seq fused"]()
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(15)
        res = measure_many(runners, repeats=args.repeats, min_time=min_time)
        floor = res["NumPy floor"]
        for label in runners:
            rows.append([f"{kind} {case.split('_')[1]} (N={N}, I={I}, H={H}, T={T})", label,
                         f"{res[label] * 1e3:.1f}", f"{res[label] / floor:.2f}x"])
        summary.append(f"{case}: " + ", ".join(f"{label} {res[label] * 1e3:.1f} ms "
                                               f"({res[label] / floor:.2f}x)" for label in runners))
        if case.endswith("medium") and not args.no_memory and DEVICE == "cpu":
            floor_peak = peak_bytes(runners["NumPy floor"])
            for label in ("tinygrad_seq fused", "tinygrad_seq composed", "NumPy floor"):
                peak = floor_peak if label == "NumPy floor" else peak_bytes(runners[label])
                memory_rows.append([f"{kind} medium", label, f"{peak / 2 ** 20:.1f}",
                                    f"{peak / floor_peak:.2f}x"])
    print(table(["case", "method", "train step ms", "vs NumPy floor"], rows,
                ["<", "<", ">", ">"]))
    if memory_rows:
        print("\npeak memory of one medium training step (tracemalloc, above the "
              "parameters already allocated):")
        print(table(["case", "method", "peak MiB", "vs NumPy floor"], memory_rows))
    print("SUMMARY rnn step: " + "; ".join(summary))
    print("(every method's weight gradients were checked against the NumPy floor first)")
    print(load_line("at end"))


if __name__ == "__main__":
    main()
