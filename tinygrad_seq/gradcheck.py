"""Check analytic gradients against central finite differences (float64).

``gradcheck(fn, inputs)`` compares the Jacobian that backward computes with
(f(x + eps e_i) - f(x - eps e_i)) / (2 eps). Small problems are compared entry by entry
(the full Jacobian); large ones through random projections v^T J u, which need one
backward and two forward passes each. ``gradgradcheck`` does the same for the
gradient itself (second order, through ``create_graph=True``).
"""
from . import backend
from .autograd import Tensor, grad
from .errors import DTypeError, GradcheckError

FULL_JACOBIAN_LIMIT = 4096     # n_inputs * n_outputs up to which every entry is compared
PROJECTIONS = 8                # random projections for larger problems


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(fn, inputs):
    outs = []
    for o in _as_tuple(fn(*inputs)):
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: fn must return Tensors, got {type(o).__name__}")
        if o.dtype.kind == "f":
            outs.append(o)
    return outs


def _flat_outputs(fn, inputs):
    # grad stays enabled: fn may itself use autograd (gradgradcheck's first gradients)
    outs = _outputs(fn, inputs)
    mod = backend.array_module(outs[0].array) if outs else None
    if not outs:
        return None
    return mod.concatenate([o.array.reshape(-1).astype(backend.float64) for o in outs])


def _wrt(inputs):
    wrt = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    for t in wrt:
        if t.dtype != backend.float64:
            raise DTypeError(f"gradcheck: inputs that require grad must be float64 for finite "
                             f"differences to be accurate, got {t.dtype}")
    if not wrt:
        raise ValueError("gradcheck: no input requires grad")
    return wrt


def _vjp(fn, inputs, wrt, vectors_by_output):
    """Analytic J^T v for each v (a flat float64 array over all outputs), as flat arrays
    over all inputs in `wrt`."""
    outs = _outputs(fn, inputs)
    rows = []
    tracked = [(o, i) for i, o in enumerate(outs) if o.requires_grad]
    sizes = [o.numel() for o in outs]
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    n_in = sum(t.numel() for t in wrt)
    for v in vectors_by_output:
        if not tracked:
            rows.append(backend.array_module(v).zeros(n_in))
            continue
        gos = [Tensor._make(v[starts[i]:starts[i] + o.numel()].reshape(o.shape).astype(o.dtype))
               for o, i in tracked]
        gs = grad([o for o, _ in tracked], wrt, gos, retain_graph=True, allow_unused=True)
        parts = [(g.array if g is not None else backend.array_module(t.array).zeros(t.shape))
                 .reshape(-1).astype(backend.float64) for g, t in zip(gs, wrt)]
        rows.append(backend.array_module(parts[0]).concatenate(parts))
    return rows


def _locate(wrt, flat_index):
    for i, t in enumerate(wrt):
        if flat_index < t.numel():
            idx = tuple(int(j) for j in backend.array_module(t.array).unravel_index(flat_index, t.shape))
            return i, idx
        flat_index -= t.numel()
    raise IndexError(flat_index)


def _fail(msg, raise_exception):
    if raise_exception:
        raise GradcheckError(msg)
    return False


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """True when the analytic gradients of `fn` at `inputs` match central finite
    differences: |analytic - numeric| <= atol + rtol * |numeric| everywhere. Otherwise
    raises GradcheckError naming the worst entry (or returns False with
    ``raise_exception=False``).

    `inputs` is a Tensor or a tuple/list of Tensors (and other arguments passed through);
    those with ``requires_grad=True`` are checked and must be float64. `fn` returns a
    Tensor or a tuple of Tensors of any shape.
    """
    inputs = _as_tuple(inputs)
    wrt = _wrt(inputs)
    y0 = _flat_outputs(fn, inputs)
    if y0 is None:
        return _fail("gradcheck: fn returned no float output", raise_exception)
    mod = backend.array_module(y0)
    n_in, n_out = sum(t.numel() for t in wrt), y0.size

    def numeric_directional(direction):
        """(f(x + eps d) - f(x - eps d)) / (2 eps) for a flat direction d over `wrt`."""
        pieces, start = [], 0
        for t in wrt:
            pieces.append(direction[start:start + t.numel()].reshape(t.shape))
            start += t.numel()
        originals = [t.array.copy() for t in wrt]
        try:
            for t, d in zip(wrt, pieces):
                t.array[...] = t.array + eps * d
            plus = _flat_outputs(fn, inputs)
            for t, o, d in zip(wrt, originals, pieces):
                t.array[...] = o - eps * d
            minus = _flat_outputs(fn, inputs)
        finally:
            for t, o in zip(wrt, originals):
                t.array[...] = o
        return (plus - minus) / (2 * eps)

    if n_in * n_out <= FULL_JACOBIAN_LIMIT:
        analytic = mod.stack(_vjp(fn, inputs, wrt, list(mod.eye(n_out))), axis=0) \
            if n_out else mod.zeros((0, n_in))
        numeric = mod.stack([numeric_directional(e) for e in mod.eye(n_in)], axis=1) \
            if n_in else mod.zeros((n_out, 0))
        bad = mod.abs(analytic - numeric) > atol + rtol * mod.abs(numeric)
        bad |= mod.isnan(analytic) != mod.isnan(numeric)
        if bool(bad.any()):
            err = mod.abs(analytic - numeric)
            err[~bad] = -1                          # (CuPy's where refuses Python scalars)
            err = mod.nan_to_num(err, nan=mod.inf)
            out_i, in_i = divmod(int(err.argmax()), err.shape[1])      # err is 2-D
            which, idx = _locate(wrt, in_i)
            return _fail(
                f"gradcheck: Jacobian mismatch for input {which} at index {idx}, output "
                f"element {out_i}: analytic {float(analytic[out_i, in_i]):.10g}, numeric "
                f"{float(numeric[out_i, in_i]):.10g} ({int(bad.sum())} of {bad.size} entries "
                f"off; atol={atol}, rtol={rtol})", raise_exception)
        return True

    gen = backend.xp(backend.device_of(y0)).random.default_rng(seed)
    vs = [gen.standard_normal(n_out) for _ in range(PROJECTIONS)]
    rows = _vjp(fn, inputs, wrt, vs)
    for k, (v, row) in enumerate(zip(vs, rows)):
        u = gen.standard_normal(n_in)
        analytic = float(row @ u)
        numeric = float(numeric_directional(u) @ v)
        if not abs(analytic - numeric) <= atol + rtol * abs(numeric):
            return _fail(
                f"gradcheck: projection {k} of the Jacobian (v^T J u with random v, u) "
                f"differs: analytic {analytic:.10g}, numeric {numeric:.10g} "
                f"(atol={atol}, rtol={rtol}; {n_out} outputs x {n_in} inputs)", raise_exception)
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, seed=0):
    """gradcheck of the first gradient: checks that the backward of `fn`, recorded with
    ``create_graph=True``, has correct gradients itself (with respect to the inputs and
    to the upstream gradient). `grad_outputs` defaults to random float64 tensors."""
    inputs = _as_tuple(inputs)
    wrt = _wrt(inputs)
    outs = _outputs(fn, inputs)
    if grad_outputs is None:
        gen = backend.xp(outs[0].device).random.default_rng(seed + 1)
        grad_outputs = [Tensor._make(gen.standard_normal(o.shape), None) for o in outs]
    grad_outputs = [g if isinstance(g, Tensor) else Tensor(g, dtype=backend.float64)
                    for g in _as_tuple(grad_outputs)]
    for g in grad_outputs:
        g.requires_grad_(True)
    n = len(inputs)

    def first_gradients(*args):
        ins, vs = args[:n], args[n:]
        pairs = [(o, v) for o, v in zip(_outputs(fn, ins), vs) if o.requires_grad]
        if not pairs:
            return tuple(Tensor._make(backend.array_module(t.array).zeros(t.shape)) for t in wrt)
        gs = grad([o for o, _ in pairs], [t for t in ins if isinstance(t, Tensor) and t.requires_grad],
                  [v for _, v in pairs], create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_gradients, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol,
                     rtol=rtol, raise_exception=raise_exception, seed=seed)
