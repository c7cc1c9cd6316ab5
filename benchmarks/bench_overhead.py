"""Per-op overhead of tinygrad_seq on tiny tensors, side by side with NumPy and PyTorch.

On a (4, 4) tensor the arithmetic is nothing; what is timed is the Python around it
(argument checks, graph nodes, the backward pass). Two workloads, each op counted:

  chain   10 steps alternating  y = (y * 1.01 + 0.1).tanh()   (3 ops)
                           and  y = y.exp() * 0.5              (2 ops)
          then .sum(): 5*3 + 5*2 + 1 = 26 ops
  binary  10 steps of  y = (y * w + b).sigmoid()  with w, b leaves requiring grad
          (3 ops, two of them tensor-tensor), then .sum(): 10*3 + 1 = 31 ops

Columns, all in microseconds per op (the workload's time / its op count):
  numpy fwd         the same forward on raw NumPy arrays: the floor (NumPy has no
                    sigmoid, so there it is 1 / (1 + exp(-z)): 4 ufunc calls)
  ts fwd no_grad    tinygrad_seq forward under ts.no_grad() (no graph)
  ts fwd            tinygrad_seq forward recording the graph (leaves require grad)
  ts fwd+bwd        forward, then loss.backward()
  torch ...         the same for PyTorch (skipped when torch is not importable)
  ts/torch f+b      ratio of the two fwd+bwd columns

Run:  python benchmarks/bench_overhead.py [--repeats 7] [--quick] [--gc] [--cpu-time] [--profile]
(--cpu-time: each column timed in this thread's CPU time, not the wall clock; on a
shared machine with busy neighbours the wall clock of microsecond ops moves by 2x from
run to run, the CPU time by about 10%.)
With TINYGRAD_SEQ_DEVICE=cuda tinygrad_seq runs on the GPU (the clock is read after a
device synchronize), NumPy stays NumPy and PyTorch runs on --torch-device (cpu).
"""
import _common  # noqa: F401  (first: pins BLAS threads, puts the repo on sys.path)

import argparse
import cProfile
import time
import io
import pstats

import numpy as np

from _common import DEVICE, load_line, machine_line, measure_many, sync, table, torch, torch_sync
import tinygrad_seq as ts

STEPS = 10


# ---------------------------------------------------------------- the workloads
# The same code runs on tinygrad_seq and PyTorch tensors; NumPy gets its own copy.

def chain(y, steps=STEPS):
    for i in range(steps):
        if i % 2 == 0:
            y = (y * 1.01 + 0.1).tanh()
        else:
            y = y.exp() * 0.5
    return y.sum()


def chain_ops(steps=STEPS):
    return sum(3 if i % 2 == 0 else 2 for i in range(steps)) + 1


def chain_np(y, steps=STEPS):
    for i in range(steps):
        if i % 2 == 0:
            y = np.tanh(y * 1.01 + 0.1)
        else:
            y = np.exp(y) * 0.5
    return y.sum()


def binary(y, w, b, steps=STEPS):
    for _ in range(steps):
        y = (y * w + b).sigmoid()
    return y.sum()


def binary_ops(steps=STEPS):
    return 3 * steps + 1


def binary_np(y, w, b, steps=STEPS):
    for _ in range(steps):
        y = 1.0 / (1.0 + np.exp(-(y * w + b)))
    return y.sum()


# ---------------------------------------------------------------- runners

def run_workload(name, args, size, torch_device):
    rng = np.random.default_rng(0)
    n_leaves = 1 if name == "chain" else 3
    host = [(rng.standard_normal((size, size)) * 0.5).astype(np.float32) for _ in range(n_leaves)]
    fn, fn_np, n_ops = ((chain, chain_np, chain_ops(args.steps)) if name == "chain"
                        else (binary, binary_np, binary_ops(args.steps)))
    steps = args.steps
    fns, syncs = {}, {}

    arrays = [h.copy() for h in host]
    fns["numpy fwd"] = lambda: fn_np(*arrays, steps=steps)

    leaves = [ts.tensor(h, requires_grad=True) for h in host]

    def ts_fwd_nograd():
        with ts.no_grad():
            return fn(*leaves, steps=steps)

    def ts_fwd():
        return fn(*leaves, steps=steps)

    def ts_fwd_bwd():
        for t in leaves:
            t.grad = None
        fn(*leaves, steps=steps).backward()

    fns["ts fwd no_grad"], fns["ts fwd"], fns["ts fwd+bwd"] = ts_fwd_nograd, ts_fwd, ts_fwd_bwd
    for k in ("ts fwd no_grad", "ts fwd", "ts fwd+bwd"):
        syncs[k] = sync

    # the loss and gradients must agree with NumPy / PyTorch: same work in every column
    ts_fwd_bwd()
    loss_np = float(fn_np(*host, steps=steps))
    loss_ts = float(fn(*leaves, steps=steps).item())
    assert np.isclose(loss_np, loss_ts, rtol=1e-4), (name, loss_np, loss_ts)

    if torch is not None:
        tleaves = [torch.tensor(h, device=torch_device, requires_grad=True) for h in host]

        def torch_fwd_nograd():
            with torch.no_grad():
                return fn(*tleaves, steps=steps)

        def torch_fwd():
            return fn(*tleaves, steps=steps)

        def torch_fwd_bwd():
            for t in tleaves:
                t.grad = None
            fn(*tleaves, steps=steps).backward()

        torch_fwd_bwd()
        for t, tt in zip(leaves, tleaves):
            assert np.allclose(t.grad.numpy(), tt.grad.cpu().numpy(), rtol=1e-4, atol=1e-5), \
                f"{name}: tinygrad_seq and PyTorch gradients differ"
        fns["torch fwd no_grad"], fns["torch fwd"] = torch_fwd_nograd, torch_fwd
        fns["torch fwd+bwd"] = torch_fwd_bwd
        for k in ("torch fwd no_grad", "torch fwd", "torch fwd+bwd"):
            syncs[k] = (lambda: torch_sync(torch_device))

    res = measure_many(fns, repeats=args.repeats, min_time=args.min_time, sync_fns=syncs,
                       gc_off=not args.gc,
                       clock=time.thread_time if args.cpu_time else time.perf_counter)
    res["ops"] = n_ops
    res["_ts_fwd_bwd_fn"] = ts_fwd_bwd
    return res


COLUMNS = ["numpy fwd", "ts fwd no_grad", "ts fwd", "ts fwd+bwd",
           "torch fwd no_grad", "torch fwd", "torch fwd+bwd"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=7, help="repeats; the median is reported")
    p.add_argument("--quick", action="store_true", help="3 repeats of ~0.05 s (smoke run)")
    p.add_argument("--steps", type=int, default=STEPS, help="steps per workload (default 10)")
    p.add_argument("--size", type=int, default=4, help="tensors are (size, size) (default 4)")
    p.add_argument("--torch-device", default="cpu", help="PyTorch's device (default cpu)")
    p.add_argument("--gc", action="store_true",
                   help="keep Python's garbage collector on while timing (timeit turns it off)")
    p.add_argument("--cpu-time", action="store_true",
                   help="time with this thread's CPU time (time.thread_time), not the wall "
                        "clock: on a busy shared machine the time spent waiting for a core "
                        "is left out (CPU only)")
    p.add_argument("--profile", action="store_true",
                   help="also run tinygrad_seq fwd+bwd under cProfile and print the top entries")
    args = p.parse_args()
    args.min_time = 0.2
    if args.quick:
        args.repeats, args.min_time = min(args.repeats, 3), 0.05

    print(machine_line())
    print(f"tensors ({args.size}, {args.size}) float32; median of {args.repeats} repeats; "
          f"us per op = workload time / op count; gc {'on' if args.gc else 'off'} while timing "
          f"(as timeit); repeats interleaved across columns; "
          f"{'thread CPU time' if args.cpu_time else 'wall clock'}; tinygrad_seq on {DEVICE}"
          + (f", torch on {args.torch_device}" if torch is not None else ""))
    cols = [c for c in COLUMNS if torch is not None or not c.startswith("torch")]
    headers = ["workload (ops)"] + [c + " us/op" for c in cols] + ["ts/numpy f+b"]
    if torch is not None:
        headers.append("ts/torch f+b")
    rows, results = [], {}
    for name in ("chain", "binary"):
        r = results[name] = run_workload(name, args, args.size, args.torch_device)
        row = [f"{name} ({r['ops']})"] + [f"{r[c] / r['ops'] * 1e6:.2f}" for c in cols]
        row.append(f"{r['ts fwd+bwd'] / r['numpy fwd']:.1f}x")
        if torch is not None:
            row.append(f"{r['ts fwd+bwd'] / r['torch fwd+bwd']:.2f}x")
        rows.append(row)
    print(table(headers, rows))
    print("(no PyTorch: its columns are skipped)" if torch is None else
          "(gradients of tinygrad_seq and PyTorch checked equal before timing)")
    for name, r in results.items():
        line = f"SUMMARY overhead {name}: ts fwd+bwd {r['ts fwd+bwd'] / r['ops'] * 1e6:.2f} us/op"
        if torch is not None:
            line += (f", torch fwd+bwd {r['torch fwd+bwd'] / r['ops'] * 1e6:.2f} us/op, "
                     f"ratio {r['ts fwd+bwd'] / r['torch fwd+bwd']:.2f}x")
        print(line)

    print(load_line('at end'))
    if args.profile:
        for name, r in results.items():
            fn = r["_ts_fwd_bwd_fn"]
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(2000):
                fn()
            prof.disable()
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
            print(f"\n---- cProfile: tinygrad_seq fwd+bwd, workload {name}, 2000 runs "
                  f"(sorted by tottime) ----")
            print(out.getvalue().strip())


if __name__ == "__main__":
    main()
