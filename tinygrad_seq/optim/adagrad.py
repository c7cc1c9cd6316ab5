"""Adagrad (Duchi et al., 2011) with PyTorch's update rule, dense and row-sparse."""
from .. import backend
from ..autograd import Tensor
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """For each parameter p with gradient g (PyTorch's ``torch.optim.Adagrad``), at step
    t (counted per parameter, from 1):

        g = -g if maximize
        g = g + weight_decay * p                        if weight_decay != 0
        clr = lr / (1 + (t - 1) * lr_decay)
        sum = sum + g * g                               (sum starts at initial_accumulator_value)
        p = p - clr * g / (sqrt(sum) + eps)

    State per parameter, as PyTorch names it: ``step`` (a float32 scalar) and ``sum``
    (like p), created for every parameter when the optimizer is built (for a group
    added later: at its first step). As in PyTorch, the accumulator starts at the
    optimizer's ``initial_accumulator_value`` whatever a group says.

    Row-sparse gradients (``nn.Embedding(sparse=True)``): the gradient is coalesced
    (repeated rows summed) and only its rows are updated, ``sum[r] += g_r^2`` and
    ``p[r] -= clr * g_r / (sqrt(sum[r]) + eps)``; the step still counts. As in PyTorch,
    weight decay is refused for them (it would touch every row)."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, *, maximize=False):
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        self._check_group(defaults)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._accumulators(p)

    def _check_group(self, group):
        for name, label in (("lr", "learning rate"), ("lr_decay", "lr_decay value"),
                            ("weight_decay", "weight_decay value"),
                            ("initial_accumulator_value", "initial_accumulator_value value"),
                            ("eps", "epsilon value")):
            value = group[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"Adagrad: {name} must be a number, got {value!r}")
            if not 0.0 <= value:
                raise ValueError(f"Adagrad: invalid {label}: {value} (must be >= 0)")

    def _accumulators(self, p):
        state = self._state(p)
        if not state:
            mod = backend.array_module(p.array)
            state["step"] = Tensor._make(mod.zeros((), dtype=backend.float32))
            state["sum"] = Tensor._make(
                mod.full(p.shape, self.defaults["initial_accumulator_value"], dtype=p.dtype))
        return state

    def _update(self, group):
        lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
        weight_decay, maximize = group["weight_decay"], group["maximize"]
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            sparse = getattr(g, "is_sparse", False)
            if sparse and weight_decay != 0:
                raise RuntimeError("Adagrad: weight_decay option is not compatible with sparse "
                                   f"gradients (a parameter of shape {tuple(p.shape)})")
            state = self._accumulators(p)
            state["step"].array += 1
            step = float(state["step"].array)
            clr = lr / (1 + (step - 1) * lr_decay)
            total = state["sum"].array
            mod = backend.array_module(p.array)
            if sparse:
                g = (-g if maximize else g).coalesce()
                if g.nnz:
                    rows, values = g.indices, g.values
                    total[rows] += values * values
                    std = mod.sqrt(total[rows]) + eps
                    p.array[rows] += -clr * (values / std)
            else:
                d = -g.array if maximize else g.array
                if weight_decay != 0:
                    d = d + weight_decay * p.array
                total += d * d
                std = mod.sqrt(total) + eps
                p.array[...] += -clr * (d / std)
            state["step"]._version[0] += 1
            state["sum"]._version[0] += 1
            self._write(p)
