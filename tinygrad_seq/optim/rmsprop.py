"""RMSprop (Hinton's lecture notes; Graves, 2013 for the centered form) with PyTorch's
update rule."""
from .. import backend
from ..autograd import Tensor
from ..checks import check_nonnegative
from .optimizer import Optimizer, check_sparse


class RMSprop(Optimizer):
    """For each parameter p with gradient g (PyTorch's ``torch.optim.RMSprop``):

        g = -g if maximize
        g = g + weight_decay * p                        if weight_decay != 0
        v = alpha * v + (1 - alpha) * g * g
        m = m + (1 - alpha) * (g - m)                   if centered (lerp, as PyTorch)
        avg = sqrt(v - m * m) + eps  (centered)   or   sqrt(v) + eps
        b = momentum * b + g / avg,  p = p - lr * b     if momentum > 0
        p = p - lr * g / avg                            otherwise

    State per parameter, as PyTorch names it: ``step`` (a float32 0-d Tensor),
    ``square_avg``, ``momentum_buffer`` (momentum > 0), ``grad_avg`` (centered).
    Row-sparse gradients are refused, as in PyTorch."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False):
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, group):
        for key in ("lr", "eps", "momentum", "weight_decay", "alpha"):
            check_nonnegative(group[key], key, "RMSprop")

    def _update(self, group):
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        weight_decay, momentum = group["weight_decay"], group["momentum"]
        centered, maximize = group["centered"], group["maximize"]
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            check_sparse(p, g, "RMSprop", "use dense gradients (sparse=False)")
            mod = backend.array_module(p.array)
            state = self._state(p)
            if not state:
                state["step"] = Tensor._make(mod.zeros((), dtype=backend.float32))
                state["square_avg"] = Tensor._make(mod.zeros_like(p.array))
                if momentum > 0:
                    state["momentum_buffer"] = Tensor._make(mod.zeros_like(p.array))
                if centered:
                    state["grad_avg"] = Tensor._make(mod.zeros_like(p.array))
            state["step"].array += 1
            d = -g.array if maximize else g.array
            if weight_decay != 0:
                d = d + weight_decay * p.array
            v = state["square_avg"].array
            v *= alpha
            v += (1 - alpha) * d * d
            if centered:
                m = state["grad_avg"].array
                weight = 1 - alpha             # m.lerp_(d, weight), PyTorch's two branches
                if weight < 0.5:
                    m += weight * (d - m)
                else:
                    m[...] = d - (d - m) * (1 - weight)
                avg = mod.sqrt(v - m * m) + eps
            else:
                avg = mod.sqrt(v) + eps
            if momentum > 0:
                buf = state["momentum_buffer"].array
                buf *= momentum
                buf += d / avg
                p.array -= lr * buf
            else:
                p.array += -lr * (d / avg)
            for t in state.values():
                t._version[0] += 1
            self._write(p)
