"""Gradient clipping in place: by total norm (``clip_grad_norm_``) and by value
(``clip_grad_value_``), with ``torch.nn.utils``' formulas. Both accept row-sparse
gradients (``tinygrad_seq.sparse.RowSparseGrad``)."""
import math

from .. import backend
from ..autograd import Tensor
from ..errors import TinygradSeqError
from ..sparse_grad import SparseGrad


class NonFiniteNormError(TinygradSeqError, RuntimeError):
    """clip_grad_norm_(..., error_if_nonfinite=True) met a nan or inf total norm."""


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [(p, p.grad) for p in parameters if p.grad is not None]


def _vector_norm(x, p):
    """The p-norm of all elements of array x (0-d array of x's dtype); p may be inf."""
    mod = backend.array_module(x)
    if x.size == 0:
        return mod.zeros((), dtype=x.dtype)
    if p == math.inf:
        return mod.abs(x).max()
    if p == -math.inf:
        return mod.abs(x).min()
    if p == 0:
        return mod.asarray((x != 0).sum(), dtype=x.dtype)
    if p == 1:
        return mod.abs(x).sum()
    if p == 2:
        flat = x.reshape(-1)
        return mod.sqrt(mod.dot(flat, flat)) if flat.dtype.kind == "f" else mod.sqrt((x * x).sum())
    return (mod.abs(x) ** p).sum() ** (1.0 / p)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients of `parameters` in place so that their total `norm_type`
    norm (the norm of the per-gradient norms) is at most `max_norm`:

        total = || (||g_1||, ..., ||g_k||) ||,   coef = min(max_norm / (total + 1e-6), 1)
        g_i = g_i * coef

    Returns the total norm before clipping as a 0-d Tensor (``inf`` / ``"inf"`` for
    the max norm). A row-sparse gradient's norm is taken over its coalesced values.
    `foreach` is accepted for PyTorch compatibility and ignored."""
    grads = _grads(parameters)
    if not grads:
        return Tensor._make(backend.xp(backend.current_device()).zeros((), dtype=backend.get_default_dtype()))
    norm_type = float(norm_type)
    norms = []
    for _, g in grads:
        array = g.coalesce().values if isinstance(g, SparseGrad) else g.array
        norms.append(_vector_norm(array, norm_type))
    mod = backend.array_module(norms[0])
    dtype = backend.result_type(*[n.dtype for n in norms])
    total = _vector_norm(mod.stack([n.astype(dtype) for n in norms]), norm_type)
    if error_if_nonfinite and not bool(mod.isfinite(total)):
        raise NonFiniteNormError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
            f"{float(total)}, so it cannot be clipped; pass error_if_nonfinite=False to scale "
            "the gradients by it anyway")
    coef = mod.minimum(mod.asarray(max_norm, dtype=dtype) / (total + dtype.type(1e-6)), dtype.type(1.0))
    with backend.xp("cpu").errstate(invalid="ignore"):     # inf * 0 = nan, as PyTorch
        for _, g in grads:
            if isinstance(g, SparseGrad):
                g.mul_(coef.astype(g.dtype))
            else:
                g.array *= coef.astype(g.dtype)
                g._version[0] += 1
    return Tensor._make(mod.asarray(total))


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element into [-clip_value, clip_value] in place. A
    row-sparse gradient is coalesced first (its rows' sums are clamped) and replaced
    by the coalesced one."""
    clip_value = float(clip_value)
    for p, g in _grads(parameters):
        if isinstance(g, SparseGrad):
            g = g.coalesce()
            mod = backend.array_module(g.values)
            mod.clip(g.values, -clip_value, clip_value, out=g.values)
            p.grad = g
        else:
            mod = backend.array_module(g.array)
            mod.clip(g.array, -clip_value, clip_value, out=g.array)
            g._version[0] += 1
