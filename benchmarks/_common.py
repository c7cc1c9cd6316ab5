"""Shared helpers of the benchmark scripts (not a benchmark itself).

Import this module FIRST in a benchmark script: it pins the BLAS/OpenMP thread pools to
one thread before NumPy (or PyTorch) is imported, so that timings on a shared machine
compare single-threaded code, and it puts the repository root on ``sys.path`` so that
``python benchmarks/bench_x.py`` runs from a plain checkout.
"""
import os
import sys

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import gc  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

try:  # noqa: E402
    import torch
    torch.set_num_threads(1)
except Exception:  # not installed (or broken): torch columns are skipped
    torch = None

import tinygrad_seq as ts  # noqa: E402
from tinygrad_seq import backend  # noqa: E402

DEVICE = backend.default_device      # "cpu" or "cuda" (TINYGRAD_SEQ_DEVICE)


def sync():
    """Wait for the GPU (when tinygrad_seq runs on cuda) before reading the clock."""
    if DEVICE == "cuda":
        backend._load_cupy().cuda.Device().synchronize()


def torch_sync(device):
    if torch is not None and str(device).startswith("cuda"):
        torch.cuda.synchronize()


def cpu_model():
    """The CPU model from /proc/cpuinfo (platform.processor() is often empty on Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line():
    """One line naming the machine and the versions, for the README's tables."""
    parts = [f"cpu: {cpu_model()} ({os.cpu_count()} logical cores, benchmarks use 1 thread)",
             f"{platform.system()} {platform.machine()}",
             f"python {platform.python_version()}",
             f"numpy {np.__version__}",
             f"torch {torch.__version__}" if torch is not None else "torch: not installed",
             f"tinygrad_seq {ts.__version__} on {DEVICE}"]
    if DEVICE == "cuda":
        cp = backend._load_cupy()
        props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        parts.append(f"gpu: {name}, cupy {cp.__version__}")
    return "machine: " + "; ".join(parts) + f"\n{load_line('at start')}"


def load_line(when):
    """The 1-minute load average: above ~1 on this many cores, neighbours were busy."""
    try:
        return f"load average {when}: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)"
    except OSError:
        return f"load average {when}: unknown"


def _calibrate(fn, min_time, sync_fn, clock=time.perf_counter):
    """Loop count so that one repeat of `fn` lasts about `min_time` seconds."""
    number = 1
    while True:
        t0 = clock()
        for _ in range(number):
            fn()
        sync_fn()
        dt = clock() - t0
        if dt >= min_time / 2 or number >= 1 << 20:
            break
        number *= 2 if dt > 0 else 10
    return max(1, int(number * min_time / max(dt, 1e-9)))


def _one_repeat(fn, number, sync_fn, clock=time.perf_counter):
    fn()                            # one untimed call first: after another function ran,
    sync_fn()                       # the first call may pay for the allocator's state
    t0 = clock()
    for _ in range(number):
        fn()
    sync_fn()
    return (clock() - t0) / number


def measure_many(fns, repeats=7, min_time=0.2, sync_fns=None, number=None, gc_off=True,
                 clock=time.perf_counter):
    """timeit-style timing of several functions: warm up each, pick a loop count per
    function so that one repeat lasts about `min_time` seconds, then run the repeats
    interleaved (repeat 1 of every function, then repeat 2, ...) so that a burst of
    load from a neighbour on a shared machine hits all of them alike; each repeat starts
    with one untimed call (large NumPy arrays are madvised to huge pages, and the first
    page faults after another function freed its arrays can stall). Returns
    {name: median seconds per call}. `sync_fns[name]` is called before each clock read
    (GPU work). Like timeit, the garbage collector is off while timing (gc_off).
    `clock=time.thread_time` counts the CPU time of this thread only: on a machine
    shared with busy neighbours it leaves out the time spent waiting for a core (CPU
    code only; a GPU's work is not counted)."""
    sync_fns = sync_fns or {}
    noop = (lambda: None)
    numbers = {}
    for name, fn in fns.items():
        s = sync_fns.get(name, noop)
        fn()
        s()                         # warm-up (allocations, caches, lazy imports)
        numbers[name] = number or _calibrate(fn, min_time, s, clock)
    times = {name: [] for name in fns}
    was_enabled = gc.isenabled()
    if gc_off:
        gc.disable()
    try:
        for _ in range(repeats):
            for name, fn in fns.items():
                times[name].append(_one_repeat(fn, numbers[name], sync_fns.get(name, noop),
                                               clock))
    finally:
        if was_enabled:
            gc.enable()
    return {name: statistics.median(ts_) for name, ts_ in times.items()}


def measure(fn, repeats=7, min_time=0.2, sync_fn=None, number=None, gc_off=True):
    """measure_many for one function: median seconds per call."""
    return measure_many({"f": fn}, repeats, min_time, {"f": sync_fn} if sync_fn else None,
                        number, gc_off)["f"]


def table(headers, rows, aligns=None):
    """A Markdown table (pipes), so the output can be pasted into the README."""
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    aligns = aligns or ["<"] + [">"] * (len(headers) - 1)

    def line(items):
        return "| " + " | ".join(f"{s:{a}{w}}" for s, a, w in zip(items, aligns, widths)) + " |"
    sep = "|" + "|".join(("-" * (w + 1) + ":") if a == ">" else ("-" * (w + 2))
                         for a, w in zip(aligns, widths)) + "|"
    return "\n".join([line(headers), sep] + [line(r) for r in cells])
