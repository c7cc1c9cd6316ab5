"""The CTC loss, PyTorch's ``ctc_loss`` arguments and semantics, on the fused
primitive ``ops.ctc.CTCLoss`` (formulas and the gradient it gives there)."""
import numbers

from .. import backend
from ..autograd import Tensor
from ..ops.ctc import CTCLoss
from ..tensor import float_tensor, tensor_arg
from .losses import _check_reduction

_OP = "ctc_loss"


def _int_list(value, name, n=None):
    """Host ints of a lengths argument: a Tensor, an array, a list/tuple or an int."""
    if isinstance(value, Tensor):
        if value.dtype.kind not in "iu":
            raise TypeError(f"{_OP}: {name} must hold integers, got a {value.dtype} tensor")
        out = backend.to_numpy(value.array).reshape(-1).tolist()
    elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
        out = [int(value)]
    elif backend.is_array(value):
        if value.dtype.kind not in "iu":
            raise TypeError(f"{_OP}: {name} must hold integers, got a {value.dtype} array")
        out = backend.to_numpy(value).reshape(-1).tolist()
    elif isinstance(value, (list, tuple)):
        if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value):
            raise TypeError(f"{_OP}: {name} must hold integers, got {value!r}")
        out = [int(v) for v in value]
    else:
        raise TypeError(f"{_OP}: {name} must be a Tensor, a list of ints or an int, got "
                        f"{type(value).__name__}")
    if n is not None and len(out) != n:
        raise ValueError(f"{_OP}: {name} must hold one length per sequence ({n}), got "
                         f"{len(out)}")
    return out


def _label_lists(targets, target_lengths, batched):
    """One list of labels per sequence from padded (N, S) or concatenated targets."""
    if isinstance(targets, Tensor):
        if targets.dtype.kind not in "iu":
            raise TypeError(f"{_OP}: targets must hold integer labels, got {targets.dtype}")
        shape, flat = targets.shape, backend.to_numpy(targets.array)
    elif backend.is_array(targets) or isinstance(targets, (list, tuple)):
        flat = backend.to_numpy(backend.host_array(targets) if not backend.is_array(targets)
                                else targets)
        if flat.size and flat.dtype.kind not in "iu":
            raise TypeError(f"{_OP}: targets must hold integer labels, got {flat.dtype}")
        shape = flat.shape
    else:
        raise TypeError(f"{_OP}: targets must be a Tensor or a list of labels, got "
                        f"{type(targets).__name__}")
    if batched and len(shape) == 2:
        if shape[0] != len(target_lengths):
            raise ValueError(f"{_OP}: padded targets must have one row per sequence "
                             f"({len(target_lengths)}), got shape {shape}")
        for n, s in enumerate(target_lengths):
            if s > shape[1]:
                raise ValueError(f"{_OP}: target_lengths[{n}] = {s} is longer than the "
                                 f"padded targets ({shape[1]})")
        return [flat[n, :s].tolist() for n, s in enumerate(target_lengths)]
    if len(shape) != 1:
        raise ValueError(f"{_OP}: targets must be (N, S) padded or 1-D concatenated "
                         f"(batched) or (S,) (unbatched), got shape {shape}")
    if sum(target_lengths) > shape[0]:
        raise ValueError(f"{_OP}: 1-D targets hold {shape[0]} labels but target_lengths add "
                         f"up to {sum(target_lengths)}")
    out, start = [], 0
    for s in target_lengths:
        out.append(flat[start:start + s].tolist())
        start += s
    return out


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """Connectionist temporal classification loss, -log p(targets | log_probs),
    summed over all alignments (ops/ctc.py has the recursions).

    log_probs: (T, N, C) log-probabilities (log_softmax over C), or (T, C) unbatched.
    targets: padded (N, S) (row n's first target_lengths[n] labels count) or the
    labels of all sequences concatenated (1-D); (S,) unbatched; labels in [0, C), never
    `blank`. input_lengths, target_lengths: one length per sequence (Tensors, lists
    or, unbatched, ints), 1 <= input_lengths <= T. reduction: 'none' (N,) losses,
    'sum', or 'mean' (PyTorch's: each loss divided by its target length, at least 1,
    then the batch mean). zero_infinity: impossible alignments (input too short for
    the labels and their repeats) give 0 and a zero gradient instead of inf.

    The gradient is the exact one with respect to log_probs (-posterior occupancy);
    PyTorch's assumes a log_softmax input and differs from it by exp(log_probs), which
    log_softmax's backward removes: the gradients for the logits agree. Differentiable
    once (``create_graph`` raises)."""
    _check_reduction(reduction, _OP)
    log_probs = float_tensor(tensor_arg(log_probs, _OP, "log_probs"), _OP)
    if log_probs.ndim not in (2, 3):
        raise ValueError(f"{_OP}: log_probs must be (T, N, C) or (T, C), got shape "
                         f"{log_probs.shape}")
    if not isinstance(zero_infinity, bool):
        raise TypeError(f"{_OP}: zero_infinity must be a bool, got {type(zero_infinity).__name__}")
    batched = log_probs.ndim == 3
    T, C = log_probs.shape[0], log_probs.shape[-1]
    N = log_probs.shape[1] if batched else 1
    if isinstance(blank, bool) or not isinstance(blank, numbers.Integral):
        raise TypeError(f"{_OP}: blank must be an int, got {type(blank).__name__}")
    if not 0 <= blank < C:
        raise ValueError(f"{_OP}: blank must be a class in [0, {C}), got {blank}")
    in_len = _int_list(input_lengths, "input_lengths", N)
    tgt_len = _int_list(target_lengths, "target_lengths", N)
    for n, t in enumerate(in_len):
        if not 1 <= t <= T:
            raise ValueError(f"{_OP}: input_lengths[{n}] must be in [1, {T}], got {t}")
    for n, s in enumerate(tgt_len):
        if s < 0:
            raise ValueError(f"{_OP}: target_lengths[{n}] must be >= 0, got {s}")
    labels = _label_lists(targets, tgt_len, batched)
    width = 2 * max(tgt_len) + 1
    extended = []
    for n, seq in enumerate(labels):
        for k in seq:
            if not 0 <= k < C or k == blank:
                raise ValueError(f"{_OP}: targets of sequence {n} must be classes in [0, {C}) "
                                 f"other than blank {blank}, got {k}")
        ext = [blank] * width
        ext[1:2 * len(seq):2] = seq
        extended.append(ext)
    x = log_probs if batched else log_probs.reshape(T, 1, C)
    loss = CTCLoss.apply(x, extended=backend.host_array(extended).astype(backend.int64),
                         input_lengths=backend.host_array(in_len).astype(backend.int64),
                         target_lengths=backend.host_array(tgt_len).astype(backend.int64),
                         blank=int(blank), zero_infinity=zero_infinity)
    if reduction == "mean":
        lengths = Tensor(backend.host_array([max(s, 1) for s in tgt_len]), dtype=loss.dtype,
                         device=loss.device)
        return (loss / lengths).mean()
    if reduction == "sum":
        return loss.sum()
    return loss if batched else loss.reshape(())
