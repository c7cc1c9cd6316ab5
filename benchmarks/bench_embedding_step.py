"""One training step of an embedding table: gather rows, a loss, backward, SGD update.

Vocabulary V = 50,000, dimension D = 300 (float32, 60 MB), a batch of n = 4,096 random
row indices, learning rate 0.1. Losses (--loss, default both):
  proj   (w[idx] * R).sum() with a fixed random R (n, D): every gathered row gets its
         own gradient row, as in word2vec
  sum    w[idx].sum(): the gradient rows are all ones (a broadcast view)

Rows of the table (ms per call, medians):
  tinygrad_seq, update w -= lr * w.grad     dense gradient (V, D) from the scatter-add,
                                            update ``with ts.no_grad(): w -= lr * w.grad``
  tinygrad_seq, update on w.data            the same, update ``w.data -= lr * w.grad.data``
  tinygrad_seq nn.Embedding + optim.SGD     the module and the optimizer, dense gradient
  tinygrad_seq nn.Embedding(sparse=True)    row-sparse gradient (sparse.RowSparseGrad) +
                                            optim.SGD, which updates the touched rows only
  PyTorch dense                             F.embedding + torch.optim.SGD, dense grad
  PyTorch nn.Embedding(sparse=True)         sparse gradient + torch.optim.SGD
  NumPy floor, dense                        scatter_add_rows into (V, D), w -= lr * g
  NumPy floor, sparse                       np.subtract.at(w, idx, lr * g_rows) (flat)
Columns: forward only (graph recorded), forward+backward, the full step (forward,
backward, update, grad reset to None).

Run:  python benchmarks/bench_embedding_step.py [--repeats 7] [--quick] [--loss proj|sum|both]
With TINYGRAD_SEQ_DEVICE=cuda tinygrad_seq runs on the GPU (timed after a device
synchronize); the NumPy floors stay NumPy and PyTorch runs on --torch-device (cpu).
"""
import _common  # noqa: F401  (first: pins BLAS threads, puts the repo on sys.path)

import argparse

import numpy as np

from _common import DEVICE, load_line, machine_line, measure_many, sync, table, torch, torch_sync
import tinygrad_seq as ts
from tinygrad_seq import backend, nn, optim


def ts_runner(w0, idx, R, lr, loss, update):
    w = ts.tensor(w0, requires_grad=True)
    idx_t = ts.tensor(idx)
    R_t = ts.tensor(R)

    def fwd():
        e = w[idx_t]
        return (e * R_t).sum() if loss == "proj" else e.sum()

    def fwd_bwd():
        w.grad = None
        fwd().backward()

    def step():
        nonlocal w      # `w -= ...` rebinds the name (to the same tensor: in place)
        fwd_bwd()
        if update == "tensor":
            with ts.no_grad():
                w -= lr * w.grad
        else:
            w.data -= lr * w.grad.data
        w.grad = None
    return w, {"fwd": fwd, "fwd+bwd": fwd_bwd, "step": step}


def ts_module_runner(w0, idx, R, lr, loss, sparse):
    """nn.Embedding (dense or sparse gradient) trained by optim.SGD."""
    emb = nn.Embedding.from_pretrained(ts.tensor(w0), freeze=False, sparse=sparse)
    opt = optim.SGD(emb.parameters(), lr=lr)
    idx_t = ts.tensor(idx)
    R_t = ts.tensor(R)

    def fwd():
        e = emb(idx_t)
        return (e * R_t).sum() if loss == "proj" else e.sum()

    def fwd_bwd():
        opt.zero_grad()
        fwd().backward()

    def step():
        fwd_bwd()
        opt.step()
        opt.zero_grad()
    return emb.weight, {"fwd": fwd, "fwd+bwd": fwd_bwd, "step": step}


def torch_runner(w0, idx, R, lr, loss, sparse, device):
    emb = torch.nn.Embedding(w0.shape[0], w0.shape[1], sparse=sparse).to(device)
    with torch.no_grad():
        emb.weight.copy_(torch.from_numpy(w0))
    idx_t = torch.from_numpy(idx).to(device)
    R_t = torch.from_numpy(R).to(device)
    opt = torch.optim.SGD(emb.parameters(), lr=lr)

    def fwd():
        e = emb(idx_t)
        return (e * R_t).sum() if loss == "proj" else e.sum()

    def fwd_bwd():
        opt.zero_grad(set_to_none=True)
        fwd().backward()

    def step():
        fwd_bwd()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return emb.weight, {"fwd": fwd, "fwd+bwd": fwd_bwd, "step": step}


def numpy_runner(w0, idx, R, lr, loss, sparse):
    w = w0.copy()
    V, D = w.shape
    g_rows = R if loss == "proj" else np.broadcast_to(np.float32(1), (len(idx), D))
    flat = (idx[:, None] * D + np.arange(D)).reshape(-1)

    def step():
        if sparse:
            np.subtract.at(w.reshape(-1), flat, (lr * g_rows).reshape(-1))
        else:
            g = backend.scatter_add_rows(V, idx, g_rows)
            w.__isub__(lr * g)
    return w, {"step": step}


def run(loss, args, w0, idx, R):
    lr = 0.1
    runners, syncs = {}, {}
    ts_w = {}
    for update, label in (("tensor", "tinygrad_seq, update w -= lr * w.grad"),
                          ("data", "tinygrad_seq, update on w.data")):
        ts_w[label], runners[label] = ts_runner(w0, idx, R, lr, loss, update)
        syncs[label] = sync
    for sparse, label in ((False, "tinygrad_seq nn.Embedding + optim.SGD"),
                          (True, "tinygrad_seq nn.Embedding(sparse=True) + optim.SGD")):
        ts_w[label], runners[label] = ts_module_runner(w0, idx, R, lr, loss, sparse)
        syncs[label] = sync
    torch_w = {}
    if torch is not None:
        for sparse, label in ((False, "PyTorch dense"), (True, "PyTorch nn.Embedding(sparse=True)")):
            torch_w[label], runners[label] = torch_runner(w0, idx, R, lr, loss, sparse,
                                                          args.torch_device)
            syncs[label] = (lambda: torch_sync(args.torch_device))
    np_w = {}
    for sparse, label in ((False, "NumPy floor, dense"), (True, "NumPy floor, sparse")):
        np_w[label], runners[label] = numpy_runner(w0, idx, R, lr, loss, sparse)

    # one step each from the same table: all must land on the same weights
    for label, fns in runners.items():
        fns["step"]()
    want = w0.astype(np.float64)
    g_rows = R if loss == "proj" else np.ones_like(R)
    np.subtract.at(want, idx, lr * g_rows.astype(np.float64))
    got = {**{k: v.numpy() for k, v in ts_w.items()},
           **{k: v.detach().cpu().numpy() for k, v in torch_w.items()}, **np_w}
    for label, w in got.items():
        assert np.allclose(w, want, rtol=1e-4, atol=1e-4), f"{label}: wrong weights after one step"

    fns, fsyncs = {}, {}
    for label, r in runners.items():
        for col, fn in r.items():
            fns[(label, col)] = fn
            fsyncs[(label, col)] = syncs.get(label)
    fsyncs = {k: v for k, v in fsyncs.items() if v is not None}
    res = measure_many(fns, repeats=args.repeats, min_time=args.min_time, sync_fns=fsyncs)
    rows = []
    base = res.get(("PyTorch dense", "step"))
    for label in runners:
        row = [label] + [f"{res[(label, c)] * 1e3:.2f}" if (label, c) in res else "-"
                         for c in ("fwd", "fwd+bwd", "step")]
        row.append(f"{res[(label, 'step')] / base:.2f}x" if base else "-")
        rows.append(row)
    print(f"\nloss = {loss}")
    print(table(["method", "fwd ms", "fwd+bwd ms", "step ms", "step vs PyTorch dense"], rows))
    summary = [f"{label.split(',')[0] if label.startswith('tinygrad') else label} "
               f"{res[(label, 'step')] * 1e3:.2f} ms"
               for label in runners if label != "tinygrad_seq, update on w.data"]
    print(f"SUMMARY embedding step ({loss}): " + "; ".join(summary))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=7, help="repeats; the median is reported")
    p.add_argument("--quick", action="store_true", help="3 repeats of ~0.05 s (smoke run)")
    p.add_argument("--loss", choices=("proj", "sum", "both"), default="both")
    p.add_argument("--vocab", type=int, default=50_000)
    p.add_argument("--dim", type=int, default=300)
    p.add_argument("--batch", type=int, default=4_096)
    p.add_argument("--torch-device", default="cpu", help="PyTorch's device (default cpu)")
    args = p.parse_args()
    args.min_time = 0.3
    if args.quick:
        args.repeats, args.min_time = min(args.repeats, 3), 0.05

    print(machine_line())
    print(f"embedding ({args.vocab}, {args.dim}) float32, {args.batch} uniform random indices, "
          f"SGD lr 0.1; ms per call, median of {args.repeats} repeats (interleaved); "
          f"tinygrad_seq on {DEVICE}" + (f", torch on {args.torch_device}" if torch is not None else
                                         ", PyTorch not installed: its rows are skipped"))
    rng = np.random.default_rng(0)
    w0 = (rng.standard_normal((args.vocab, args.dim)) * 0.1).astype(np.float32)
    idx = rng.integers(0, args.vocab, size=args.batch, dtype=np.int64)
    R = rng.standard_normal((args.batch, args.dim)).astype(np.float32)
    for loss in (("proj", "sum") if args.loss == "both" else (args.loss,)):
        run(loss, args, w0, idx, R)
    print("(after one step every method's weights were checked equal to the expected update)")
    print(load_line('at end'))


if __name__ == "__main__":
    main()
