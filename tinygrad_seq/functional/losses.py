"""Losses with PyTorch's names, arguments and semantics; ``reduction`` is 'mean'
(default), 'sum' or 'none'.

- ``mse_loss``: (x - y)^2; ``l1_loss``: |x - y|; ``smooth_l1_loss`` (beta) and
  ``huber_loss`` (delta): quadratic near 0, linear beyond.
- ``binary_cross_entropy`` on probabilities: the notes' J = -y log y_hat - (1 - y)
  log(1 - y_hat), each log clamped at -100 as PyTorch (so y_hat = 0 or 1 gives a
  finite loss); its gradient is PyTorch's (y_hat - y) / max(y_hat (1 - y_hat), 1e-12).
- ``binary_cross_entropy_with_logits`` on logits x: (1 - y) x + l softplus(-x) with
  l = 1 + (pos_weight - 1) y, softplus a primitive (finite loss for any finite x;
  finite gradients for any x, +-inf included, as PyTorch's).
- ``kl_div``: target (log target - input) with input in log space (torch's
  reductions, 'batchmean' included); the xlogy primitive makes 0 log 0 = 0.
- ``nll_loss`` on log-probabilities and ``cross_entropy`` on logits (log_softmax +
  nll_loss), class axis 1 (input (N, C), (N, C, d1, ...) or (C,)), targets as class
  indices (with ``ignore_index``) or as class probabilities, class ``weight``s (the
  mean divides by the summed weights of the targets that are not ignored), and
  ``label_smoothing``.

All are differentiable twice (gradgradcheck), in the input and in a float target.
float16 inputs are computed in float32 and the loss rounded to float16 (PyTorch on the
CPU accumulates their sums in float32; a float16 sum of 1,000 losses of 100 overflows).
"""
import warnings

from .. import backend
from ..autograd import Tensor
from ..function import Function
from ..errors import DTypeError, ShapeError
from ..ops.special import Softplus
from ..ops.embedding import IndexRangeError
from ..tensor import float16_in_float32, float_tensor, tensor_arg
from .activations import log_softmax

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction, op):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _input(x, op):
    return float_tensor(tensor_arg(x, op), op)


def _tensor_like(value, ref, op, name, dtype=None):
    """`value` (Tensor, array, list or number) as a Tensor on ref's device."""
    t = tensor_arg(value, op, name, like=ref)
    return t if dtype is None or t.dtype == dtype else t.to(dtype)


def _binary_operands(input, target, op):
    """(input, target) of a binary loss as float Tensors of one shape: integer or bool
    targets (labels 0/1) take the input's dtype."""
    input = _input(input, op)
    target = _tensor_like(target, input, op, "target")
    if target.dtype.kind != "f":
        target = target.to(input.dtype)
    _same_shape(input, target, op)
    return input, target


def _warn_if_broadcast(input, target):
    """PyTorch's UserWarning for an elementwise loss whose target has another shape
    than its input: (N, 1) against (N,) broadcasts to (N, N), a silent wrong loss."""
    if target.array.shape != input.array.shape:      # the arrays' tuples: no Size objects
        warnings.warn(f"Using a target size ({target.size()!r}) that is different to the input "
                      f"size ({input.size()!r}). This will likely lead to incorrect results due "
                      "to broadcasting. Please ensure they have the same size.", UserWarning,
                      stacklevel=4)


def _same_shape(input, target, op):
    if tuple(target.shape) != tuple(input.shape):
        raise ShapeError(f"{op}: target of shape {tuple(target.shape)} and input of shape "
                         f"{tuple(input.shape)} must have the same shape")


def _constant(array):
    return Tensor._make(backend.array_module(array).asarray(array))


_quiet = backend.xp("cpu").errstate   # log(0) = -inf and 0/0 = nan are expected values here


# ---------------------------------------------------------------- regression

@float16_in_float32
def mse_loss(input, target, reduction="mean"):
    """(input - target)^2, reduced. Shapes broadcast, with PyTorch's UserWarning when they
    differ."""
    _check_reduction(reduction, "mse_loss")
    input = _input(input, "mse_loss")
    target = _tensor_like(target, input, "mse_loss", "target")
    if target.dtype.kind != "f":
        target = target.to(input.dtype)
    _warn_if_broadcast(input, target)
    diff = input - target
    return _reduce(diff * diff, reduction)



def _regression_operands(input, target, op):
    """(input, target) float Tensors of an elementwise regression loss (a non-float
    target takes the input's dtype), with the broadcast warning."""
    input = _input(input, op)
    target = _tensor_like(target, input, op, "target")
    if target.dtype.kind != "f":
        target = target.to(input.dtype)
    _warn_if_broadcast(input, target)
    return input, target


def _elementwise_weight(weight, input, op):
    weight = _tensor_like(weight, input, op, "weight")
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError(f"{op}: weights and input must have the same size, got weight of "
                         f"shape {tuple(weight.shape)} and input of shape {tuple(input.shape)}")
    return weight


@float16_in_float32
def l1_loss(input, target, *, reduction="mean", weight=None):
    """|input - target|, reduced; with an elementwise ``weight`` (the input's shape) the
    terms are w_i |x_i - y_i| and the mean is sum_i w_i |x_i - y_i| / sum_i w_i, as
    torch. Shapes broadcast, with PyTorch's UserWarning when they differ. (torch's
    deprecated size_average/reduce come before ``reduction``: it is keyword-only here.)"""
    _check_reduction(reduction, "l1_loss")
    input, target = _regression_operands(input, target, "l1_loss")
    loss = (input - target).abs()
    if weight is None:
        return _reduce(loss, reduction)
    weight = _elementwise_weight(weight, input, "l1_loss")
    loss = loss * weight
    return loss.sum() / weight.sum() if reduction == "mean" else _reduce(loss, reduction)


@float16_in_float32
def smooth_l1_loss(input, target, *, reduction="mean", beta=1.0):
    """With d = input - target: 0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta
    elsewhere, reduced; ``beta=0`` is ``l1_loss``. (``reduction`` and ``beta`` are
    keyword-only: torch's deprecated size_average/reduce come first there.)"""
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    input, target = _regression_operands(input, target, "smooth_l1_loss")
    d = input - target
    a = d.abs()
    if beta == 0:
        return _reduce(a, reduction)
    loss = (d * d * (0.5 / beta)).where(a < beta, a - 0.5 * beta)
    return _reduce(loss, reduction)


@float16_in_float32
def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """With d = input - target: 0.5 d^2 where |d| < delta, delta (|d| - 0.5 delta)
    elsewhere (``smooth_l1_loss`` times beta = delta), reduced; an elementwise
    ``weight`` (the input's shape) multiplies each term, and the mean is then the plain
    mean of the weighted terms, as torch."""
    _check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    input, target = _regression_operands(input, target, "huber_loss")
    d = input - target
    a = d.abs()
    loss = (d * d * 0.5).where(a < delta, (a - 0.5 * delta) * delta)
    if weight is not None:
        loss = loss * _elementwise_weight(weight, input, "huber_loss")
    return _reduce(loss, reduction)


# ---------------------------------------------------------------- divergence

_KL_MEAN_WARNING = (
    "reduction: 'mean' divides the total loss by both the batch size and the support size."
    "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
    "'mean' will be changed to behave the same as 'batchmean' in the next major release.")


@float16_in_float32
def kl_div(input, target, *, reduction="mean", log_target=False):
    """The Kullback-Leibler divergence of `target` from `input`, with `input` in log
    space: l = target (log target - input), computed as xlogy(target, target) - target
    input (0 where target = 0); with ``log_target`` the target is log-probabilities too:
    l = exp(target) (target - input). Shapes broadcast (no warning, as torch).
    ``reduction``: 'mean' over every element (PyTorch's default, which warns, as here,
    that it is not the divergence), 'batchmean' (the sum over input.size(0): the
    divergence per sample), 'sum' or 'none'. (torch's deprecated size_average/reduce
    come first there: ``reduction`` is keyword-only here.)"""
    if reduction not in _REDUCTIONS + ("batchmean",):
        raise ValueError(f"kl_div: reduction must be 'mean', 'batchmean', 'sum' or 'none', "
                         f"got {reduction!r}")
    input = _input(input, "kl_div")
    target = _tensor_like(target, input, "kl_div", "target")
    if target.dtype.kind != "f":
        raise DTypeError(f"kl_div: target must be a float tensor (probabilities), got "
                         f"{target.dtype}")
    if log_target:
        with _quiet(invalid="ignore"):    # a target of -inf (log 0): nan, silently as torch
            loss = target.exp() * (target - input)
    else:
        loss = target.xlogy(target) - target * input
    if reduction == "mean":
        warnings.warn(_KL_MEAN_WARNING, UserWarning, stacklevel=3)
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(loss, reduction)


# ---------------------------------------------------------------- binary

_BCE_EPS = float(backend.float32.type(1e-12))   # PyTorch's EPSILON is a float literal, also in float64


class _BinaryCrossEntropy(Function):
    """loss = -w (y max(log p, -100) + (1 - y) max(log(1 - p), -100))
    dp = g w (p - y) / max(p (1 - p), 1e-12)      (PyTorch's formula: finite at p = 0, 1)
    dy = g w (max(log(1 - p), -100) - max(log p, -100))
    (w, the weight, is a constant.) dy is the derivative of the clamped loss, finite at
    p = 0 or 1 where PyTorch's (unclamped logs) is infinite. The backward uses Tensor
    ops, so it can be differentiated again."""

    @staticmethod
    def forward(ctx, p, y, w):
        ctx.save_for_backward(p, y)
        ctx.w = w
        with _quiet(divide="ignore"):
            loss = -(y * p.log().clip(min=-100) + (1 - y) * (1 - p).log().clip(min=-100))
        return loss if w is None else loss * w

    @staticmethod
    def backward(ctx, g):
        p, y = ctx.saved_tensors
        if ctx.w is not None:
            g = g * ctx.w
        dp = dy = None
        with _quiet(divide="ignore"):
            if ctx.needs_input_grad[0]:
                dp = g * (p - y) / (p * (1 - p)).clip(min=_BCE_EPS)
            if ctx.needs_input_grad[1]:
                dy = g * ((1 - p).log().clip(min=-100) - p.log().clip(min=-100))
        return dp, dy, None


@float16_in_float32
def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """The notes' J = -y log y_hat - (1 - y) log(1 - y_hat) for probabilities `input`
    (y_hat) and `target` (y) of the same shape, times `weight` (broadcast) if given; each
    log is clamped at -100 as PyTorch. Input values outside [0, 1] raise ValueError."""
    op = "binary_cross_entropy"
    _check_reduction(reduction, op)
    input, target = _binary_operands(input, target, op)
    if input.numel():
        mod = backend.array_module(input.array)
        lo, hi = float(mod.min(input.array)), float(mod.max(input.array))
        if not (0.0 <= lo and hi <= 1.0):
            raise ValueError(f"{op}: all elements of input must be probabilities in [0, 1], got "
                             f"values from {lo} to {hi} (use binary_cross_entropy_with_logits "
                             "for logits)")
    w = None
    if weight is not None:
        w = _tensor_like(weight, input, op, "weight", input.dtype).detach()
        try:
            backend.xp("cpu").broadcast_shapes(w.shape, input.shape)
        except ValueError:
            raise ShapeError(f"{op}: weight of shape {tuple(w.shape)} does not broadcast to the "
                             f"input's shape {tuple(input.shape)}") from None
    return _reduce(_BinaryCrossEntropy.apply(input, target, w), reduction)


def _softplus(x):
    """log(1 + exp(x)): stable for any x, derivative sigmoid(x), finite at +-inf."""
    return Softplus.apply(x, threshold=None)


@float16_in_float32
def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """Binary cross-entropy of sigmoid(input) computed from the logits directly:
    (1 - y) x + l softplus(-x), l = 1 + (pos_weight - 1) y, times `weight`. Finite loss
    and gradients for logits of any size (+-1e4 and beyond)."""
    op = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, op)
    x, y = _binary_operands(input, target, op)
    log_weight = None
    if pos_weight is not None:
        pw = _tensor_like(pos_weight, x, op, "pos_weight", x.dtype)
        log_weight = (pw - 1) * y + 1
    soft = _softplus(-x)
    loss = (1 - y) * x + (soft if log_weight is None else log_weight * soft)
    if weight is not None:
        loss = loss * _tensor_like(weight, x, op, "weight", x.dtype).detach()
    return _reduce(loss, reduction)


# ---------------------------------------------------------------- classification

def _class_axis(input, op):
    if input.ndim == 0:
        raise ShapeError(f"{op}: input must have a class axis, got a 0-d tensor")
    return 1 if input.ndim >= 2 else 0


def _class_weight(weight, input, n_classes, op):
    if weight is None:
        return None
    w = _tensor_like(weight, input, op, "weight", input.dtype).array
    if tuple(w.shape) != (n_classes,):
        raise ShapeError(f"{op}: weight must have shape ({n_classes},) (one per class), got "
                         f"{tuple(w.shape)}")
    return w


def _class_targets(target, input, axis, ignore_index, op):
    """(safe target array with ignored entries set to 0, boolean mask of kept entries)."""
    t = _tensor_like(target, input, op, "target").array
    if t.dtype.kind not in "iu":
        raise DTypeError(f"{op}: class-index targets must be integers, got {t.dtype} (float "
                         "targets are class probabilities: cross_entropy only)")
    want = tuple(input.shape[:axis]) + tuple(input.shape[axis + 1:])
    if tuple(t.shape) != want:
        raise ShapeError(f"{op}: target of shape {tuple(t.shape)} does not fit an input of shape "
                         f"{tuple(input.shape)} (expected {want})")
    n_classes = input.shape[axis]
    valid = t != ignore_index
    mod = backend.array_module(t)
    safe = mod.where(valid, t, 0)
    if safe.size:
        lo, hi = int(safe.min()), int(safe.max())
        if lo < 0 or hi >= n_classes:
            raise IndexRangeError(f"{op}: target {lo if lo < 0 else hi} is out of bounds for "
                                      f"{n_classes} classes (and is not ignore_index={ignore_index})")
    return safe, valid


def _pick_classes(logp, safe, axis):
    """logp[..., safe[...], ...] along the class axis: shape of `safe`."""
    mod = backend.array_module(safe)
    if logp.ndim == 1:
        return logp[safe]
    moved = logp if axis == logp.ndim - 1 else logp.permute(
        *([0] + list(range(2, logp.ndim)) + [1]))
    flat = moved.reshape(-1, logp.shape[axis])
    rows = mod.arange(flat.shape[0])
    return flat[rows, safe.reshape(-1)].reshape(safe.shape)


def _nll(logp, safe, valid, w, axis, reduction):
    """-w[target] logp[target] per position (0 where ignored), reduced."""
    picked = _pick_classes(logp, safe, axis)
    weights = valid.astype(logp.dtype) if w is None else w[safe] * valid
    if reduction == "none":
        return -(picked * _constant(weights)), weights
    if reduction == "sum":
        return -(picked * _constant(weights)).sum(), weights
    return _weighted_mean(-picked, weights, weights), weights


def _weighted_mean(loss, weights, normalizer):
    """sum(weights * loss) / sum(normalizer); nan with a zero gradient (as PyTorch) when
    the normalizer sums to 0 (every target ignored)."""
    total = float(normalizer.sum())
    if total == 0:
        return (loss * _constant(weights)).sum() * 0.0 + float("nan")
    return (loss * _constant(weights / total)).sum()


@float16_in_float32
def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of class-index targets, given log-probabilities `input`
    with the class axis 1 ((N, C), (N, C, d1, ...)) or 0 for (C,). With class
    ``weight``s the mean is sum(w[y_i] l_i) / sum(w[y_i]) over targets that are not
    ``ignore_index``; all targets ignored gives nan, as PyTorch."""
    op = "nll_loss"
    _check_reduction(reduction, op)
    input = _input(input, op)
    axis = _class_axis(input, op)
    w = _class_weight(weight, input, input.shape[axis], op)
    safe, valid = _class_targets(target, input, axis, ignore_index, op)
    with _quiet(invalid="ignore", divide="ignore"):
        return _nll(input, safe, valid, w, axis, reduction)[0]


@float16_in_float32
def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Cross-entropy of logits `input` (class axis 1; (N, C), (N, C, d1, ...) or (C,))
    against `target`: class indices (integers, ``ignore_index`` skipped) or class
    probabilities (floats, the input's shape). ``weight``: per-class weights;
    ``label_smoothing`` eps mixes the target with the uniform distribution:
    (1 - eps) nll + eps / C * sum_c(-w_c log p_c), PyTorch's formula and
    normalisation."""
    op = "cross_entropy"
    _check_reduction(reduction, op)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    input = _input(input, op)
    axis = _class_axis(input, op)
    n_classes = input.shape[axis]
    w = _class_weight(weight, input, n_classes, op)
    logp = log_softmax(input, axis=axis)
    w_shape = [1] * input.ndim
    w_shape[axis] = n_classes
    is_prob = isinstance(target, Tensor) and target.dtype.kind == "f" or (
        backend.is_array(target) and target.dtype.kind == "f")
    with _quiet(invalid="ignore", divide="ignore"):
        if is_prob:
            y = _tensor_like(target, input, op, "target", input.dtype)
            _same_shape(input, y, op)
            if label_smoothing > 0:
                y = y * (1 - label_smoothing) + label_smoothing / n_classes
            terms = logp * y
            if w is not None:
                terms = terms * _constant(w.reshape(w_shape))
            return _reduce(-terms.sum(axis=axis), reduction)
        safe, valid = _class_targets(target, input, axis, ignore_index, op)
        nll, weights = _nll(logp, safe, valid, w, axis, reduction)
        if label_smoothing == 0:
            return nll
        terms = logp if w is None else logp * _constant(w.reshape(w_shape))
        smooth = -terms.sum(axis=axis) * _constant(valid.astype(input.dtype))
        if reduction == "none":
            smooth_loss = smooth
        elif reduction == "sum":
            smooth_loss = smooth.sum()
        else:
            smooth_loss = _weighted_mean(-terms.sum(axis=axis), valid.astype(input.dtype), weights)
        return (1 - label_smoothing) * nll + (label_smoothing / n_classes) * smooth_loss

