"""Both branches of a backward rule, checked against each other and against finite
differences.

A rule serves two callers: the fast path (arrays in, arrays out, no create_graph) and
the recorded path (Tensors, create_graph=True), and the two are separate code in many
rules (``isinstance(g, Tensor)``, ``call(...)``, fused array kernels). gradcheck tests
the fast path; gradgradcheck differentiates the recorded gradient and compares it
with finite differences of the *recorded* gradient, so a recorded branch that computes
the wrong values consistently passes it. ``check_branches`` closes that gap:

1. first derivative: the gradient computed with create_graph=True equals the fast
   path's (same inputs, same upstream gradients);
2. second derivative: the derivative of the recorded gradient (with respect to the
   inputs and the upstream gradients) agrees with central finite differences of the
   *fast-path* gradient. ``ts.gradcheck`` does the comparison on a Function whose
   forward is the fast-path gradient and whose backward differentiates the recorded
   one.

``check_once_differentiable`` is the check for primitives that declare
``once_differentiable = True``: create_graph is refused with a clear error, the plain
gradient still works.

``check_reference_engine`` compares the study engine (tinygrad_seq/reference_engine.py,
which always runs the recorded branch) with the real one; ``sampled()`` says whether
to run it for the current example (every example under the ``thorough`` Hypothesis
profile, one in SAMPLE_EVERY otherwise).
"""
import os

import numpy as np
import pytest

import tinygrad_seq as ts
from tinygrad_seq import reference_engine

SAMPLE_EVERY = 4
_calls = [0]


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _float_outputs(fn, inputs):
    return [o for o in _as_tuple(fn(*inputs)) if o.dtype.kind == "f" and o.requires_grad]


def _upstream(outs, seed):
    gen = np.random.default_rng(seed)
    return [ts.tensor(gen.standard_normal(o.shape), dtype=ts.float64) for o in outs]


def _first(fn, inputs, vs, create_graph):
    """d<fn(inputs), vs>/d(inputs that require grad); zeros where unused."""
    wrt = [t for t in inputs if isinstance(t, ts.Tensor) and t.requires_grad]
    outs = _float_outputs(fn, inputs)
    gs = ts.grad(outs, wrt, [v.to(o.dtype) for o, v in zip(outs, vs)],
                 create_graph=create_graph, retain_graph=True, allow_unused=True)
    return [ts.zeros_like(t) if g is None else g for g, t in zip(gs, wrt)]


def _fresh(t):
    if not isinstance(t, ts.Tensor):
        return t
    return t.detach().clone().requires_grad_(t.requires_grad)


def check_branches(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Both branches of the rules in fn's graph (see the module docstring)."""
    inputs = _as_tuple(inputs)
    outs = _float_outputs(fn, inputs)
    if not outs:
        return True
    vs = _upstream(outs, seed)
    fast = _first(fn, inputs, vs, create_graph=False)
    recorded = _first(fn, inputs, vs, create_graph=True)
    for i, (f, r) in enumerate(zip(fast, recorded)):
        assert not f.requires_grad
        np.testing.assert_allclose(r.numpy(), f.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=f"input {i}: create_graph's gradient differs from "
                                           "the fast path's")
    n = len(inputs)

    class FastGradient(ts.Function):
        """forward: the fast-path gradient; backward: differentiates the recorded one."""

        @staticmethod
        def forward(ctx, *args):
            ctx.args = args
            with ts.enable_grad():
                return tuple(g.detach() for g in _first(fn, tuple(map(_fresh, args[:n])),
                                                        args[n:], create_graph=False))

        @staticmethod
        def backward(ctx, *ggs):
            args = tuple(map(_fresh, ctx.args))
            for v in args[n:]:
                v.requires_grad_(True)
            with ts.enable_grad():
                gs = _first(fn, args[:n], args[n:], create_graph=True)
                pairs = [(g, gg) for g, gg in zip(gs, ggs) if g.requires_grad]
                if not pairs:
                    return (None,) * len(args)
                wrt = [a for a in args if isinstance(a, ts.Tensor) and a.requires_grad]
                second = iter(ts.grad([g for g, _ in pairs], wrt, [gg for _, gg in pairs],
                                      allow_unused=True))
            return tuple(next(second) if isinstance(a, ts.Tensor) and a.requires_grad else None
                         for a in args)

    vs = [v.requires_grad_(True) for v in vs]
    return ts.gradcheck(FastGradient.apply, inputs + tuple(vs), eps=eps, atol=atol, rtol=rtol)


def check_once_differentiable(fn, inputs):
    """A once-differentiable primitive refuses create_graph clearly; the plain gradient works."""
    inputs = _as_tuple(inputs)
    outs = _float_outputs(fn, inputs)
    vs = _upstream(outs, 0)
    with pytest.raises(ts.AutogradError, match="differentiable once"):
        _first(fn, inputs, vs, create_graph=True)
    wrt = [t for t in inputs if isinstance(t, ts.Tensor) and t.requires_grad]
    for g, t in zip(_first(fn, inputs, vs, create_graph=False), wrt):
        assert g.shape == t.shape and not g.requires_grad
    return True


def sampled():
    """Whether this example also runs the reference engine's check (see the module)."""
    if os.environ.get("HYPOTHESIS_PROFILE") == "thorough":
        return True
    _calls[0] += 1
    return _calls[0] % SAMPLE_EVERY == 1


def check_reference_engine(fn, inputs, seed=0):
    """The study engine gives the real engine's gradients (and its gradients of
    gradients: reference_engine.grad always records)."""
    inputs = _as_tuple(inputs)
    wrt = [t for t in inputs if isinstance(t, ts.Tensor) and t.requires_grad]
    outs = _float_outputs(fn, inputs)
    if not outs:
        return True
    vs = [v.to(o.dtype) for o, v in zip(outs, _upstream(outs, seed))]
    real = ts.grad(outs, wrt, vs, retain_graph=True, allow_unused=True)
    ref = reference_engine.grad(outs, wrt, vs)
    for i, (a, b) in enumerate(zip(real, ref)):
        assert (a is None) == (b is None), f"input {i}: used by one engine only"
        if a is not None:
            np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-9, atol=1e-12,
                                       err_msg=f"input {i}: the reference engine differs")
    return True
