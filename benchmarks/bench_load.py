"""Time ``ts.load`` of a ~200 MB checkpoint (and ``ts.load_safetensors`` of the same
tensors): the median of --repeats loads, after one untimed load so that the file is in
the page cache (we measure the loader, not the disk).

The state dict mixes a few large matrices with many small tensors, as a model's does:
4 float32 (5000, 2000) matrices (160 MB), 96 float32 (100_000,) vectors (38.4 MB) and
100 tiny ones, about 200 MB in 200 members.

    python benchmarks/bench_load.py [--repeats 5] [--mb 200]
"""
import argparse
import os
import statistics
import tempfile
import time

import _common  # noqa: F401  (pins thread pools, puts the repository on sys.path)
from _common import load_line, machine_line, np, ts


def state_dict(mb):
    rng = np.random.default_rng(0)
    scale = mb / 200.0
    big = max(1, int(5000 * scale))
    state = {f"layer{i}.weight": rng.standard_normal((big, 2000), dtype=np.float32)
             for i in range(4)}
    state.update({f"layer{i}.bias": rng.standard_normal(100_000, dtype=np.float32)
                  for i in range(96)})
    state.update({f"norm{i}.scale": np.ones(8, np.float32) for i in range(100)})
    return state


def time_loads(load, path, repeats):
    load(path)                                   # untimed: the page cache, lazy imports
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = load(path)
        times.append(time.perf_counter() - t0)
        del out
    return statistics.median(times), times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--mb", type=float, default=200.0)
    args = parser.parse_args()
    print(machine_line())
    state = state_dict(args.mb)
    with tempfile.TemporaryDirectory() as tmp:
        tsz, st = os.path.join(tmp, "ckpt.tsz"), os.path.join(tmp, "ckpt.safetensors")
        ts.save(state, tsz)
        ts.save_safetensors(state, st)
        del state
        for label, load, path in (("ts.load", ts.load, tsz),
                                  ("ts.load_safetensors", ts.load_safetensors, st)):
            median, times = time_loads(load, path, args.repeats)
            size = os.path.getsize(path) / 1e6
            print(f"{label:>20}: {size:.0f} MB, median of {args.repeats}: {median * 1e3:.0f} ms "
                  f"({size / median:.0f} MB/s); all: "
                  + ", ".join(f"{t * 1e3:.0f}" for t in times))
    print(load_line("at end"))


if __name__ == "__main__":
    main()
