"""A recurrent loop written by hand, reading its input one time step at a time:

    for t in range(T): h = tanh(x[:, t] @ W + h @ U);  loss = sum_t mean(h^2)

(batch-first x of shape (N, T, D) that requires grad, as the notes write an RNN), forward
and backward. The backward of every x[:, t] is x's gradient with dy at column t:

  tinygrad_seq            index gradients summed lazily (indexed_grad.py): x's
                          gradient array is built once, from T parts
  tinygrad_seq, eager     the same with each read's gradient made a full array at once
                          and added (what the engine did before; GetItem's backward
                          patched back for this column): T passes over x
  PyTorch                 the same loop (when installed)

Cases: N=32, D=64, H=128 (float32), T = 50, 200 and 500. Medians of interleaved
repeats, ms per forward+backward; the gradients of the three are checked equal first.

Run:  python benchmarks/bench_index_loop.py [--repeats 5] [--quick] [--steps 50,200,500]
"""
import _common  # noqa: F401  (first: pins BLAS threads, puts the repo on sys.path)

import argparse

import numpy as np

from _common import DEVICE, load_line, machine_line, measure_many, sync, table, torch
import tinygrad_seq as ts
from tinygrad_seq.autograd import call
from tinygrad_seq.ops.indexing import GetItem, IndexAdd

N, D, H = 32, 64, 128


def eager_backward(self, g):
    """GetItem's backward as it was: a full scatter array per read."""
    return (call(IndexAdd, g, shape=self.in_shape, index=self.index),)


def make(T, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(N, T, D)).astype(np.float32),
            (rng.normal(size=(D, H)) / np.sqrt(D)).astype(np.float32),
            (rng.normal(size=(H, H)) / np.sqrt(H)).astype(np.float32))


def ours(xa, wa, ua):
    x = ts.tensor(xa, requires_grad=True)
    w, u = ts.tensor(wa, requires_grad=True), ts.tensor(ua, requires_grad=True)

    def step():
        x.grad = w.grad = u.grad = None
        h, loss = ts.zeros(N, H), 0.0
        for t in range(xa.shape[1]):
            h = (x[:, t] @ w + h @ u).tanh()
            loss = loss + (h * h).mean()
        loss.backward()
        return x.grad
    return step


def eager(xa, wa, ua):
    inner = ours(xa, wa, ua)

    def step():
        original = GetItem.backward
        GetItem.backward = eager_backward
        try:
            return inner()
        finally:
            GetItem.backward = original
    return step


def pytorch(xa, wa, ua, device):
    x = torch.tensor(xa, requires_grad=True, device=device)
    w = torch.tensor(wa, requires_grad=True, device=device)
    u = torch.tensor(ua, requires_grad=True, device=device)

    def step():
        x.grad = w.grad = u.grad = None
        h, loss = torch.zeros(N, H, device=device), 0.0
        for t in range(xa.shape[1]):
            h = torch.tanh(x[:, t] @ w + h @ u)
            loss = loss + (h * h).mean()
        loss.backward()
        return x.grad
    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--steps", default="50,200,500")
    ap.add_argument("--torch-device", default="cpu")
    args = ap.parse_args()
    repeats, min_time = (3, 0.05) if args.quick else (args.repeats, 0.3)
    print(machine_line())
    print(f"N={N}, D={D}, H={H}, float32, tinygrad_seq on {DEVICE}; ms per forward+backward, "
          f"median of {repeats} interleaved repeats")
    rows = []
    for T in (int(s) for s in args.steps.split(",")):
        problem = make(T)
        fns = {"tinygrad_seq": ours(*problem), "tinygrad_seq, eager": eager(*problem)}
        if torch is not None:
            fns["PyTorch"] = pytorch(*problem, args.torch_device)
        grads = {k: fn() for k, fn in fns.items()}
        ref = ts.backend.to_numpy(grads["tinygrad_seq"].array)
        for k, g in grads.items():
            got = g.detach().cpu().numpy() if k == "PyTorch" else ts.backend.to_numpy(g.array)
            np.testing.assert_allclose(got, ref, rtol=2e-4, atol=1e-6, err_msg=k)
        syncs = {k: sync for k in fns if k != "PyTorch"}
        times = measure_many(fns, repeats=repeats, min_time=min_time, sync_fns=syncs)
        base = times["tinygrad_seq"]
        for k, sec in times.items():
            rows.append((f"T={T}", k, f"{sec * 1e3:.2f}", f"{sec / base:.2f}x"))
    print(table(("steps", "implementation", "ms", "vs tinygrad_seq"), rows))
    print("(x's gradients of all columns checked equal before timing)")
    print(load_line("at end"))


if __name__ == "__main__":
    main()
