"""A tour of the autodiff engine, notebook style, for people studying the internals.

Each section builds something small, prints what the engine did, and checks it:

1. a small graph y = tanh(x W + b), loss = sum(y^2): printed, exported as Graphviz DOT
   (ts.viz.to_dot) and drawn as a PNG when Graphviz's `dot` is installed;
2. backward: the gradients against the hand-derived formulas;
3. gradcheck and gradgradcheck (float64 central differences) of a small function;
4. a Hessian-vector product by double backward (ts.grad with create_graph=True),
   against the analytic Hessian;
5. a hook that reads and rescales a gradient on its way through the graph;
6. no_grad: nothing is recorded;
7. detect_anomaly: sqrt at 0 gives an infinite gradient; without anomaly mode it
   slips through, with it the backward raises, naming the op and where it was created;
8. truncated backpropagation through time: an LSTM reads a long sine wave in chunks,
   the state carried over with .detach(), so each backward covers one chunk; the
   loss falls and no gradient reaches past the chunk boundary.

Success criterion: every check above passes (printed as MET, exit code 0).

    python examples/autodiff_tour.py            # a few seconds
    python examples/autodiff_tour.py --quick    # the same with a shorter tBPTT run (CI)
"""
import argparse
import os
import shutil
import sys

import numpy as np

import tinygrad_seq as ts
import tinygrad_seq.functional as F
from tinygrad_seq import nn, optim

CHECKS = []


def check(name, ok, detail=""):
    CHECKS.append((name, bool(ok)))
    print(f"  [{'ok' if ok else 'FAILED'}] {name}{': ' + detail if detail else ''}")


def section(title):
    print(f"\n== {title}")


def small_graph(out_dir):
    section("1. a small graph: y = tanh(x W + b), loss = sum(y^2)")
    ts.manual_seed(0)
    x = ts.randn(2, 3)
    W = ts.randn(3, 4, requires_grad=True)
    b = ts.zeros(4, requires_grad=True)
    y = (x @ W + b).tanh()
    loss = (y * y).sum()
    print("loss =", loss)
    print("loss.grad_fn =", loss.grad_fn, "  W.is_leaf =", W.is_leaf, "  y.is_leaf =", y.is_leaf)
    dot = ts.viz.to_dot(loss)
    print("the graph as DOT (ts.viz.to_dot):")
    print(dot)
    check("DOT text names the ops", "digraph" in dot and dot.count("->") >= 4)
    if shutil.which("dot"):
        os.makedirs(out_dir, exist_ok=True)
        path = ts.viz.render(loss, os.path.join(out_dir, "graph.png"))
        print("graph drawn to", os.path.abspath(path))
    else:
        print("Graphviz's `dot` is not installed: not drawing the PNG (apt-get install graphviz)")

    section("2. backward against the hand-derived gradients")
    loss.backward()
    y_np, x_np = y.detach().numpy(), x.numpy()
    dz = 2 * y_np * (1 - y_np ** 2)              # dloss/dz with z = x W + b
    check("dloss/dW = x^T (2 y (1 - y^2))", np.allclose(W.grad.numpy(), x_np.T @ dz, atol=1e-5))
    check("dloss/db = sum over rows of 2 y (1 - y^2)", np.allclose(b.grad.numpy(), dz.sum(0), atol=1e-5))
    print("after backward the saved arrays are freed; a second backward raises:")
    try:
        loss.backward()
        check("second backward raises", False)
    except ts.AutogradError as e:
        print("   ", type(e).__name__ + ":", str(e).splitlines()[0][:110])
        check("second backward raises AutogradError", True)


def gradchecks():
    section("3. gradcheck and gradgradcheck (float64 central differences)")
    ts.manual_seed(1)
    a = ts.randn(3, 4, dtype=ts.float64, requires_grad=True)
    w = ts.randn(4, 2, dtype=ts.float64, requires_grad=True)

    def fn(a, w):
        return F.softmax((a @ w).tanh(), axis=-1) * a.sum(axis=1, keepdims=True)

    check("gradcheck(softmax(tanh(a w)) * sum(a))", ts.gradcheck(fn, (a, w)))
    check("gradgradcheck of the same", ts.gradgradcheck(fn, (a, w)))

    print("a wrong backward is caught:")

    class BadSquare(ts.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * x                      # should be 2 x

    ok = ts.gradcheck(lambda t: BadSquare.apply(t), (a,), raise_exception=False)
    check("gradcheck rejects d(x^2)/dx = x", ok is False)


def hessian_vector_product():
    section("4. Hessian-vector product by double backward")
    # f(x) = sum(x^3) + (x . x)^2 / 2: g = 3 x^2 + 2 (x . x) x,
    # H = diag(6 x) + 2 (x . x) I + 4 x x^T
    x = ts.tensor([0.5, -1.0, 2.0], dtype=ts.float64, requires_grad=True)
    v = ts.tensor([1.0, 2.0, -1.0], dtype=ts.float64)
    f = (x ** 3).sum() + (x * x).sum() ** 2 / 2
    (g,) = ts.grad(f, [x], create_graph=True)    # g = 3 x^2 + 2 (x . x) x, a graph itself
    (hv,) = ts.grad((g * v).sum(), [x])          # d/dx (g . v) = H v
    xn, vn = x.numpy(), v.numpy()
    H = np.diag(6 * xn) + 2 * (xn @ xn) * np.eye(3) + 4 * np.outer(xn, xn)
    print("H v (autograd) =", hv.numpy(), "  H v (analytic) =", H @ vn)
    check("Hessian-vector product", np.allclose(hv.numpy(), H @ vn, atol=1e-12))


def hooks():
    section("5. a hook on an intermediate tensor")
    x = ts.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * 2
    seen = []

    def halve(grad):
        seen.append(grad.numpy())
        return grad * 0.5                        # a returned tensor replaces the gradient

    handle = h.register_hook(halve)
    (h * h).sum().backward()                     # dL/dh = 2 h = 4 x; dL/dx = 2 * dL/dh
    print("gradient seen by the hook:", seen[0], "  x.grad:", x.grad.numpy())
    check("hook saw dL/dh = 4 x", np.allclose(seen[0], 4 * x.numpy()))
    check("hook's halved gradient flowed on (x.grad = 4 x)", np.allclose(x.grad.numpy(), 4 * x.numpy()))
    handle.remove()


def no_grad():
    section("6. no_grad: nothing is recorded")
    w = ts.randn(3, requires_grad=True)
    with ts.no_grad():
        y = (w * 2).sum()
    print("inside no_grad: y.requires_grad =", y.requires_grad, " y.grad_fn =", y.grad_fn)
    check("no graph under no_grad", not y.requires_grad and y.grad_fn is None)
    z = (w * 2).sum()
    check("recording resumes after it", z.requires_grad and z.grad_fn is not None)


def anomaly():
    section("7. detect_anomaly catches a non-finite gradient")
    x = ts.tensor([0.0, 1.0, 4.0], requires_grad=True)
    with np.errstate(divide="ignore"):           # NumPy would warn about the 1/0
        x.sqrt().sum().backward()                # d sqrt(x)/dx = 1 / (2 sqrt(x)): inf at 0
    print("without anomaly mode, x.grad =", x.grad.numpy())
    check("the inf slips through silently", not np.isfinite(x.grad.numpy()).all())
    x.grad = None
    caught = None
    with ts.detect_anomaly():
        y = x.sqrt().sum()
        try:
            with np.errstate(divide="ignore"):
                y.backward()
        except ts.AutogradError as e:
            caught = e
    if caught is not None:
        print("with ts.detect_anomaly():", type(caught).__name__ + ":")
        lines = str(caught).splitlines()
        for line in lines[:2] + ["..."] + lines[-2:]:
            print("   ", line[:120])
    check("detect_anomaly raises, naming the op", caught is not None and "Sqrt" in str(caught))


def truncated_bptt(quick):
    section("8. truncated backpropagation through time")
    ts.manual_seed(0)
    rng = np.random.default_rng(0)
    chunk, n_chunks, epochs = 20, 10, (8 if quick else 30)
    lstm, head = nn.LSTM(1, 16), nn.Linear(16, 1)
    params = list(lstm.parameters()) + list(head.parameters())
    opt = optim.Adam(params, lr=0.02)
    losses = []
    for epoch in range(epochs):
        # one long wave (T = chunk * n_chunks, batch 8), read chunk by chunk
        w = rng.uniform(0.2, 0.4, size=(1, 8, 1))
        phi = rng.uniform(0, 2 * np.pi, size=(1, 8, 1))
        wave = np.sin(w * np.arange(chunk * n_chunks + 1)[:, None, None] + phi).astype(np.float32)
        state, total = None, 0.0
        for k in range(n_chunks):
            xs = ts.tensor(wave[k * chunk:(k + 1) * chunk])
            target = ts.tensor(wave[k * chunk + 1:(k + 1) * chunk + 1])
            out, state = lstm(xs, state)
            loss = ((head(out) - target) ** 2).mean()
            if k == 1 and epoch == 0:            # the graph of chunk 1 holds one LSTM run
                runs = ts.viz.to_dot(loss).count("LSTMSequence")
                check(f"each backward covers one chunk ({runs} LSTM node in chunk 1's graph)",
                      runs == 1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            state = tuple(s.detach() for s in state)   # cut the graph here
            total += loss.item()
        losses.append(total / n_chunks)
        if epoch % max(epochs // 5, 1) == 0 or epoch == epochs - 1:
            print(f"epoch {epoch:3d}  mean next-step mse {losses[-1]:.4f}")
    check(f"the loss falls ({losses[0]:.3f} -> {losses[-1]:.4f}, at least 5x)", losses[-1] < losses[0] / 5)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter tBPTT run (CI)")
    parser.add_argument("--out", default=os.path.join("out", "autodiff_tour"))
    args = parser.parse_args(argv)
    small_graph(args.out)
    gradchecks()
    hessian_vector_product()
    hooks()
    no_grad()
    anomaly()
    truncated_bptt(args.quick)
    failed = [name for name, ok in CHECKS if not ok]
    print(f"\n{len(CHECKS) - len(failed)} of {len(CHECKS)} checks passed"
          + (": failed " + "; ".join(failed) if failed else ""))
    print("success criterion (every check passes):", "NOT MET" if failed else "MET")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
