"""A multi-head self-attention training step: forward, loss, backward, every weight's gradient.

Batch N = 32, sequence L = 64, d_model E = 256, 8 heads (float32, batch_first inputs
(N, L, E)); the loss is (y * R).sum() with a fixed random R, so every output element
gets its own gradient. The input does not require grad (a first layer): each method
computes the gradients of in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias.

Rows (ms per call, medians):
  tinygrad_seq nn.MultiheadAttention     need_weights=False (as the Transformer layers call it)
  NumPy floor                            numpy_attention.py: hand-written forward and
                                         hand-derived backward (in-place softmax, views);
                                         the loss as one np.vdot, its gradient R as is
  PyTorch nn.MultiheadAttention          need_weights=False: PyTorch's fused SDPA kernel
  PyTorch, need_weights=True             the explicit bmm + softmax path
Columns: forward only (graph recorded), the training step (forward + backward, gradients
reset each step), and the step relative to the NumPy floor.

Run:  python benchmarks/bench_attention.py [--repeats 7] [--quick] [--profile]
"""
import _common  # noqa: F401  (first: pins BLAS threads, puts the repo on sys.path)

import argparse

import numpy as np

import numpy_attention
from _common import DEVICE, load_line, machine_line, measure_many, sync, table, torch
import tinygrad_seq as ts
from tinygrad_seq import nn


def make_weights(E, seed=0):
    rng = np.random.default_rng(seed)
    a = np.sqrt(6.0 / (4 * E))
    return {"in_proj_weight": rng.uniform(-a, a, (3 * E, E)).astype(np.float32),
            "in_proj_bias": (rng.standard_normal(3 * E) * 0.1).astype(np.float32),
            "out_proj.weight": rng.uniform(-E ** -0.5, E ** -0.5, (E, E)).astype(np.float32),
            "out_proj.bias": (rng.standard_normal(E) * 0.1).astype(np.float32)}


NAMES = ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]


def ts_runner(weights, x, R, H):
    E = x.shape[-1]
    m = nn.MultiheadAttention(E, H, batch_first=True)
    m.load_state_dict(weights)
    xt, Rt = ts.tensor(x), ts.tensor(R)
    params = dict(m.named_parameters())

    def fwd():
        return m(xt, xt, xt, need_weights=False)[0]

    def step():
        m.zero_grad()
        (fwd() * Rt).sum().backward()
        sync()
        return [params[n].grad.array for n in NAMES]
    return fwd, step


def numpy_runner(weights, x, R, H):
    w = [weights[n] for n in NAMES]

    def fwd():
        return numpy_attention.forward(x, w[0], w[1], w[2], w[3], H)[0]

    def step():
        y, cache = numpy_attention.forward(x, w[0], w[1], w[2], w[3], H)
        loss = np.vdot(y.reshape(-1), R.reshape(-1))       # the loss value; dloss/dy = R
        assert np.isfinite(loss)
        return list(numpy_attention.backward(R, cache))
    return fwd, step


def torch_runner(weights, x, R, H, need_weights):
    E = x.shape[-1]
    m = torch.nn.MultiheadAttention(E, H, batch_first=True)
    m.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    xt, Rt = torch.from_numpy(x), torch.from_numpy(R)
    params = dict(m.named_parameters())

    def fwd():
        return m(xt, xt, xt, need_weights=need_weights)[0]

    def step():
        m.zero_grad(set_to_none=True)
        (fwd() * Rt).sum().backward()
        return [params[n].grad.numpy() for n in NAMES]
    return fwd, step


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=7, help="repeats; the median is reported")
    p.add_argument("--quick", action="store_true", help="3 repeats of ~0.05 s (smoke run)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--profile", action="store_true", help="cProfile tinygrad_seq's step")
    args = p.parse_args()
    min_time = 0.3
    if args.quick:
        args.repeats, min_time = min(args.repeats, 3), 0.05

    N, L, E, H = args.batch, args.seq, args.d_model, args.heads
    print(machine_line())
    print(f"multi-head self-attention training step: N={N}, L={L}, E={E}, heads={H}, float32, "
          f"batch_first; ms per call, median of {args.repeats} repeats (interleaved); "
          f"tinygrad_seq on {DEVICE}")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, L, E)).astype(np.float32)
    R = rng.standard_normal((N, L, E)).astype(np.float32)
    weights = make_weights(E)

    runners = {"tinygrad_seq nn.MultiheadAttention": ts_runner(weights, x, R, H),
               "NumPy floor (hand-written backward)": numpy_runner(weights, x, R, H)}
    if torch is not None:
        runners["PyTorch nn.MultiheadAttention"] = torch_runner(weights, x, R, H, False)
        runners["PyTorch, need_weights=True"] = torch_runner(weights, x, R, H, True)

    # all compute the same thing: outputs and every gradient against float64 NumPy
    w64 = {k: v.astype(np.float64) for k, v in weights.items()}
    want_y, cache = numpy_attention.forward(x.astype(np.float64), *[w64[n] for n in NAMES], H)
    want_g = numpy_attention.backward(R.astype(np.float64), cache)
    for label, (fwd, step) in runners.items():
        y = fwd()
        y = y.detach().numpy() if torch is not None and isinstance(y, torch.Tensor) else \
            y.numpy() if isinstance(y, ts.Tensor) else y
        np.testing.assert_allclose(y, want_y, rtol=1e-4, atol=1e-4, err_msg=label)
        for name, got, want in zip(NAMES, step(), want_g):
            np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * np.abs(want).max(),
                                       err_msg=f"{label}: {name}")

    if args.profile:
        import cProfile
        import pstats
        step = runners["tinygrad_seq nn.MultiheadAttention"][1]
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(20):
            step()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)

    fns = {}
    for label, (fwd, step) in runners.items():
        fns[(label, "fwd")] = fwd
        fns[(label, "step")] = step
    res = measure_many(fns, repeats=args.repeats, min_time=min_time)
    floor = res[("NumPy floor (hand-written backward)", "step")]
    rows = [[label, f"{res[(label, 'fwd')] * 1e3:.1f}", f"{res[(label, 'step')] * 1e3:.1f}",
             f"{res[(label, 'step')] / floor:.2f}x"] for label in runners]
    print(table(["method", "forward ms", "train step ms", "step vs NumPy floor"], rows))
    print("SUMMARY attention step: " + "; ".join(
        f"{label} {res[(label, 'step')] * 1e3:.1f} ms" for label in runners))
    print("(outputs and all four weight gradients were checked against float64 NumPy first)")
    print(load_line("at end"))


if __name__ == "__main__":
    main()
