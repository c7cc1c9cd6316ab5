"""Scatter-add of rows, the backward of an embedding lookup: out[index[i]] += values[i].

out is (V, D) float32, index n int64 row numbers (repeats add up), values (n, D)
float32. Methods compared (all on NumPy, one thread):

  add.at          np.add.at(out, idx, vals)                  (out = zeros((V, D)))
  add.at flat     np.add.at on out.ravel() with idx * D + arange(D)
  sort+reduceat   stable argsort of idx, np.add.reduceat over the runs of equal
                  indices, one fancy assignment of the sums
  bincount/col    np.bincount(idx, weights=vals[:, j], minlength=V) for each column j
  bincount flat   one np.bincount over idx * D + arange(D) (V*D float64 bins; only where
                  that fits in --max-flat-mb)
  library         tinygrad_seq.backend.scatter_add_rows(V, idx, vals), what the
                  backward of ``w[idx]`` runs (with TINYGRAD_SEQ_DEVICE=cuda: on CuPy
                  arrays, timed after a device synchronize; the NumPy rows stay NumPy)

(A one-hot sparse matmul needs scipy, which is not a dependency: not measured.)
Every method's result is checked against np.add.at in float64 (np.allclose) before timing.

The library's rule (backend.scatter_add_rows, chosen from these measurements): one
bincount per column when the rows are narrow (width <= 16) and there are at least as many
indices as rows (n >= V); np.add.at on the flattened output ("add.at flat") otherwise. Before
that it was sort+reduceat for width >= 16 and add.at on rows below: the columns of those two.

Run:  python benchmarks/bench_scatter_add.py [--repeats 7] [--quick] [--dist uniform|zipf]
"""
import _common  # noqa: F401  (first: pins BLAS threads, puts the repo on sys.path)

import argparse

import numpy as np

from _common import DEVICE, load_line, machine_line, measure_many, sync, table
from tinygrad_seq import backend

CASES = [(50_000, 300, 4_096), (50_000, 16, 4_096), (10_000, 100, 50_000),
         (1_000, 4, 100_000), (100, 64, 10_000)]


def add_at(V, idx, vals):
    out = np.zeros((V,) + vals.shape[1:], dtype=vals.dtype)
    np.add.at(out, idx, vals)
    return out


def add_at_flat(V, idx, vals):
    D = vals.shape[1]
    out = np.zeros(V * D, dtype=vals.dtype)
    np.add.at(out, (idx[:, None] * D + np.arange(D)).ravel(), vals.ravel())
    return out.reshape(V, D)


def sort_reduceat(V, idx, vals):
    out = np.zeros((V,) + vals.shape[1:], dtype=vals.dtype)
    order = np.argsort(idx, kind="stable")
    s = idx[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    out[s[starts]] = np.add.reduceat(vals[order], starts, axis=0)
    return out


def bincount_cols(V, idx, vals):
    D = vals.shape[1]
    out = np.empty((V, D), dtype=vals.dtype)
    cols = np.ascontiguousarray(vals.T)     # one contiguous weights row per column
    for j in range(D):
        out[:, j] = np.bincount(idx, weights=cols[j], minlength=V)
    return out


def bincount_flat(V, idx, vals):
    D = vals.shape[1]
    flat = (idx[:, None] * D + np.arange(D)).ravel()
    return np.bincount(flat, weights=vals.ravel(), minlength=V * D).reshape(V, D).astype(vals.dtype)


METHODS = {"add.at": add_at, "add.at flat": add_at_flat, "sort+reduceat": sort_reduceat,
           "bincount/col": bincount_cols, "bincount flat": bincount_flat}


def make_index(rng, V, n, dist):
    if dist == "uniform":
        return rng.integers(0, V, size=n, dtype=np.int64)
    # Zipf-like word frequencies: p(rank r) ~ 1 / (r + 1)^1.1, ranks shuffled over rows
    p = 1.0 / np.arange(1, V + 1) ** 1.1
    return rng.permutation(V)[rng.choice(V, size=n, p=p / p.sum())].astype(np.int64)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=7, help="repeats; the median is reported")
    p.add_argument("--quick", action="store_true", help="3 repeats of ~0.05 s (smoke run)")
    p.add_argument("--dist", choices=("uniform", "zipf"), default="uniform",
                   help="distribution of the indices (default uniform)")
    p.add_argument("--max-flat-mb", type=float, default=512.0,
                   help="skip 'bincount flat' when its V*D float64 bins exceed this (MB)")
    args = p.parse_args()
    min_time = 0.2
    if args.quick:
        args.repeats, min_time = min(args.repeats, 3), 0.05

    print(machine_line())
    print(f"out[idx[i]] += vals[i]; out (V, D) float32, idx {args.dist} int64; ms per call, "
          f"median of {args.repeats} repeats (interleaved); library on {DEVICE}")
    rng = np.random.default_rng(0)
    names = list(METHODS) + ["library"]
    headers = (["V", "D", "n", "uniq rows"] + [f"{m} ms" for m in names[:-1]]
               + [f"library ({DEVICE}) ms", "fastest", "library/fastest"])
    rows, summary = [], []
    for V, D, n in CASES:
        idx = make_index(rng, V, n, args.dist)
        vals = rng.standard_normal((n, D)).astype(np.float32)
        dev_idx = backend.to_device(idx, DEVICE)
        dev_vals = backend.to_device(vals, DEVICE)
        fns = {m: (lambda f=f: f(V, idx, vals)) for m, f in METHODS.items()}
        if V * D * 8 > args.max_flat_mb * 2 ** 20:
            del fns["bincount flat"]
        fns["library"] = lambda: backend.scatter_add_rows(V, dev_idx, dev_vals)

        # reference in float64; float32 sums of k terms in another order differ by ~k eps
        ref = add_at(V, idx, vals.astype(np.float64))
        atol = 1e-5 * max(1, np.bincount(idx).max())
        for m, f in fns.items():
            got = backend.to_numpy(f())
            assert got.shape == ref.shape and got.dtype == vals.dtype, (m, got.shape, got.dtype)
            assert np.allclose(got, ref, rtol=1e-4, atol=atol), f"{m} differs from add.at for {(V, D, n)}"

        res = measure_many(fns, repeats=args.repeats, min_time=min_time,
                           sync_fns={"library": sync})
        numpy_res = {m: t for m, t in res.items() if m != "library"}
        fastest = min(numpy_res, key=numpy_res.get)
        if res["library"] < numpy_res[fastest]:
            fastest = "library"
        best = res[fastest]
        row = [V, D, n, len(np.unique(idx))]
        row += [f"{res[m] * 1e3:.3f}" if m in res else "-" for m in names]
        row += [fastest, f"{res['library'] / best:.2f}x"]
        rows.append(row)
        summary.append(f"({V},{D},{n}) library {res['library'] * 1e3:.3f} ms"
                       + (" (fastest)" if fastest == "library" else
                          f" vs {fastest} {best * 1e3:.3f} ms"))
    print(table(headers, rows))
    print("(all methods checked equal to a float64 np.add.at before timing; '-' = skipped)")
    print("SUMMARY scatter_add: " + "; ".join(summary))
    print(load_line('at end'))


if __name__ == "__main__":
    main()
