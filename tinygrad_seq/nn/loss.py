"""Loss modules (torch.nn names, arguments, defaults and state), each calling the
function of the same name in ``tinygrad_seq.functional`` with its settings.

As in PyTorch, ``weight`` and ``pos_weight`` are persistent buffers: in ``state_dict``
under those names when given (absent when None), moved and cast by ``Module.to``; and
the repr shows no settings (``CrossEntropyLoss()``). PyTorch's deprecated
``size_average`` and ``reduce`` arguments are left out, so the arguments after
``weight`` are keyword-only: a positional call that means something else in torch
(``torch.nn.MSELoss("sum")`` is a ``size_average``) is a TypeError here, not a silent
difference. ``reduction`` ('mean', 'sum' or 'none') is checked at construction.
"""
from .. import functional as F
from ..checks import (check_int, check_nonnegative, check_nonnegative_int, check_positive,
                      check_probability)
from ..tensor import float_tensor, tensor_arg
from .module import Module


class _Loss(Module):
    """Holds ``reduction``, checked here (torch checks it only when called)."""
    reductions = ("mean", "sum", "none")

    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in self.reductions:
            names = ", ".join(repr(r) for r in self.reductions[:-1])
            raise ValueError(f"{type(self).__name__}: reduction must be {names} or "
                             f"{self.reductions[-1]!r}, got {reduction!r}")
        self.reduction = reduction

    def _register_weight(self, name, value):
        """A Tensor (or array, list: wrapped as a float tensor) or None, as a buffer."""
        if value is not None:
            value = float_tensor(tensor_arg(value, type(self).__name__, name), type(self).__name__)
        self.register_buffer(name, value)


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self._register_weight("weight", weight)


class MSELoss(_Loss):
    """l_i = (x_i - y_i)^2, reduced by mean (default), sum or none."""

    def __init__(self, *, reduction="mean"):
        super().__init__(reduction)

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)



class L1Loss(_Loss):
    """l_i = |x_i - y_i|, reduced by mean (default), sum or none (``F.l1_loss``)."""

    def __init__(self, *, reduction="mean"):
        super().__init__(reduction)

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class KLDivLoss(_Loss):
    """l_i = y_i (log y_i - x_i) with x in log space (``F.kl_div``: 0 where y_i = 0; with
    ``log_target`` y is in log space too), reduced by 'mean' (over every element, torch's
    warned-about default), 'batchmean' (per sample: the divergence), 'sum' or 'none'."""

    reductions = ("mean", "batchmean", "sum", "none")

    def __init__(self, *, reduction="mean", log_target=False):
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class SmoothL1Loss(_Loss):
    """l_i = 0.5 d_i^2 / beta where |d_i| < beta, |d_i| - 0.5 beta elsewhere, d = x - y
    (``F.smooth_l1_loss``; beta >= 0, checked at construction)."""

    def __init__(self, *, reduction="mean", beta=1.0):
        super().__init__(reduction)
        self.beta = check_nonnegative(beta, "beta", "SmoothL1Loss")

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """l_i = 0.5 d_i^2 where |d_i| < delta, delta (|d_i| - 0.5 delta) elsewhere, d = x - y
    (``F.huber_loss``; delta > 0, checked at construction). torch's HuberLoss has no
    deprecated arguments, so ``reduction`` and ``delta`` may be positional."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        self.delta = check_positive(delta, "delta", "HuberLoss")

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)

class BCELoss(_WeightedLoss):
    """l_i = -w_i (y_i log x_i + (1 - y_i) log(1 - x_i)) on probabilities x (each log
    clamped at -100); ``weight`` broadcasts to the input."""

    def __init__(self, weight=None, *, reduction="mean"):
        super().__init__(weight, reduction)

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """l_i = -w_i (p y_i log sigmoid(x_i) + (1 - y_i) log(1 - sigmoid(x_i))) on logits x,
    computed stably; ``pos_weight`` p (per class, broadcast along the last axis)
    weighs the positive targets."""

    def __init__(self, weight=None, *, reduction="mean", pos_weight=None):
        super().__init__(weight, reduction)
        self._register_weight("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class NLLLoss(_WeightedLoss):
    """l_n = -w_{y_n} x_{n, y_n} on log-probabilities x (class axis 1), 0 where
    y_n = ``ignore_index``; the mean is sum_n l_n / sum_n w_{y_n} over the kept targets."""

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean"):
        super().__init__(weight, reduction)
        self.ignore_index = check_int(ignore_index, "ignore_index", "NLLLoss")

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """NLLLoss of log_softmax(x) over the class axis 1, for class-index targets (with
    ``ignore_index``) or class probabilities; ``label_smoothing`` eps mixes the target
    with the uniform distribution: (1 - eps) nll + eps / C sum_c -w_c log p_c."""

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(weight, reduction)
        self.ignore_index = check_int(ignore_index, "ignore_index", "CrossEntropyLoss")
        self.label_smoothing = check_probability(label_smoothing, "label_smoothing",
                                                 "CrossEntropyLoss")

    def forward(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class CTCLoss(_Loss):
    """Connectionist temporal classification loss (``F.ctc_loss``): -log p(targets |
    log_probs) summed over all alignments, with torch's arguments; called as
    ``loss(log_probs, targets, input_lengths, target_lengths)``."""

    def __init__(self, blank=0, reduction="mean", zero_infinity=False):
        super().__init__(reduction)
        self.blank = check_nonnegative_int(blank, "blank", "CTCLoss")
        self.zero_infinity = zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=self.blank,
                          reduction=self.reduction, zero_infinity=self.zero_infinity)
