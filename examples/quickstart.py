"""Quick start: an RNN cell written from Tensor primitives learns to continue sine waves.

The notes' RNN cell, a<t> = tanh(W_a [a<t-1>; x<t>] + b_a) with y<t> = W_y a<t> + b_y,
is unrolled over 20 steps of a sine wave with a random frequency and phase; it is
trained by backpropagation through time (autograd) with plain SGD with momentum to
predict x<t+1> from x<1..t>.

Success criterion: after a warm-up of 5 steps (the cell needs a few values to tell
the frequency), the mean squared error of the next-step prediction on held-out waves
is below 0.001 (predicting "same as the last value" gives about 0.15).

    python examples/quickstart.py            # ~15 s on 2 CPU cores
    python examples/quickstart.py --quick    # a smoke run (CI): 400 steps, the same criterion
"""
import argparse
import math
import time

import numpy as np

import tinygrad_seq as ts

WARMUP = 5


def sine_batch(rng, batch, steps):
    """Waves sin(w t + phi) sampled at t = 0..steps, w in [0.3, 0.8]: shape (batch, steps+1)."""
    w = rng.uniform(0.3, 0.8, size=(batch, 1))
    phi = rng.uniform(0, 2 * math.pi, size=(batch, 1))
    t = np.arange(steps + 1)[None, :]
    return np.sin(w * t + phi).astype(np.float32)


class RNN:
    """The notes' RNN cell with the stacked weight W_a = [W_aa | W_ax]."""

    def __init__(self, hidden, n_in=1, n_out=1):
        scale = 1 / math.sqrt(hidden + n_in)
        self.W_a = (ts.randn(hidden, hidden + n_in) * scale).requires_grad_()
        self.b_a = ts.zeros(hidden, requires_grad=True)
        self.W_y = (ts.randn(n_out, hidden) * (1 / math.sqrt(hidden))).requires_grad_()
        self.b_y = ts.zeros(n_out, requires_grad=True)
        self.hidden = hidden

    def parameters(self):
        return [self.W_a, self.b_a, self.W_y, self.b_y]

    def __call__(self, xs):
        """xs: (batch, T) -> predictions (batch, T)."""
        a = ts.zeros(xs.shape[0], self.hidden)
        outputs = []
        for t in range(xs.shape[1]):
            stacked = ts.cat([a, xs[:, t:t + 1]], axis=1)          # [a<t-1>; x<t>]
            a = (stacked @ self.W_a.T + self.b_a).tanh()             # a<t>
            outputs.append(a @ self.W_y.T + self.b_y)                # y<t>
        return ts.cat(outputs, axis=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a short smoke run (CI): 400 steps, the same criterion")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default 3000)")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    args = parser.parse_args()
    if args.steps is None:
        args.steps = 400 if args.quick else 3000
    target = 0.001

    ts.manual_seed(0)
    rng = np.random.default_rng(0)
    model = RNN(args.hidden)
    velocity = [ts.zeros_like(p) for p in model.parameters()]
    T = 20
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        lr = args.lr * (0.1 if step > 0.8 * args.steps else 1.0)
        waves = ts.tensor(sine_batch(rng, 32, T))
        pred = model(waves[:, :-1])
        loss = ((pred - waves[:, 1:])[:, WARMUP:] ** 2).mean()
        for p in model.parameters():
            p.grad = None
        loss.backward()
        with ts.no_grad():
            for p, v in zip(model.parameters(), velocity):
                v *= 0.9
                v += p.grad.clip(-1.0, 1.0)
                p -= lr * v
        if step % max(args.steps // 10, 1) == 0 or step == 1:
            print(f"step {step:5d}  train mse {loss.item():.5f}")

    with ts.no_grad():
        test = ts.tensor(sine_batch(np.random.default_rng(1), 256, T))
        mse = ((model(test[:, :-1]) - test[:, 1:])[:, WARMUP:] ** 2).mean().item()
        naive = ((test[:, :-1] - test[:, 1:])[:, WARMUP:] ** 2).mean().item()
    print(f"held-out mse {mse:.5f} (repeat-last-value baseline {naive:.5f}) "
          f"in {time.perf_counter() - start:.1f} s")
    ok = mse < target
    print(f"success criterion (held-out mse < {target:g}):", "MET" if ok else "NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
