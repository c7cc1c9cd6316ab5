"""Adam and AdamW: PyTorch's update rules (bias correction, eps outside the square
root, optional AMSGrad, maximize; AdamW's decoupled weight decay)."""
import math

from .. import backend
from ..autograd import Tensor
from ..checks import check_betas, check_nonnegative, check_positive
from ..sparse_grad import SparseGrad
from .optimizer import Optimizer, check_sparse


class Adam(Optimizer):
    """For each parameter p with gradient g, at step t (PyTorch's ``torch.optim.Adam``):

        g = -g if maximize
        p = p * (1 - lr * weight_decay)           if decoupled (AdamW)
        g = g + weight_decay * p                  if weight_decay != 0 and not decoupled
        m = m + (1 - beta1) * (g - m)             (lerp, as PyTorch)
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)                     if amsgrad (then used instead of v)
        denom = sqrt(v) / sqrt(1 - beta2^t) + eps
        p = p - (lr / (1 - beta1^t)) * m / denom

    State per parameter: ``step`` (a float32 0-d Tensor), ``exp_avg``, ``exp_avg_sq``,
    ``max_exp_avg_sq`` (amsgrad). Row-sparse gradients are refused, as in PyTorch:
    use ``optim.SparseAdam`` for them."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False):
        defaults = dict(lr=lr, betas=check_betas(betas, type(self).__name__), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, group):
        name = type(self).__name__
        for key in ("lr", "eps", "weight_decay"):
            check_nonnegative(group[key], key, name)
        check_betas(group["betas"], name)

    def _update(self, group):
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        amsgrad, maximize = group["amsgrad"], group["maximize"]
        decoupled = group.get("decoupled_weight_decay", False)
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            check_sparse(p, g, type(self).__name__, "use optim.SparseAdam for row-sparse "
                         "gradients (nn.Embedding(sparse=True)), or sparse=False")
            mod = backend.array_module(p.array)
            state = _moments(self._state(p), p, amsgrad)
            d = -g.array if maximize else g.array
            state["step"].array += 1
            step = float(state["step"].array)
            if weight_decay != 0:
                if decoupled:
                    p.array *= 1 - lr * weight_decay
                else:
                    d = d + weight_decay * p.array
            m, v = state["exp_avg"].array, state["exp_avg_sq"].array
            weight = 1 - beta1                  # m.lerp_(d, weight), PyTorch's two branches
            if weight < 0.5:
                m += weight * (d - m)
            else:
                m[...] = d - (d - m) * (1 - weight)
            v *= beta2
            v += (1 - beta2) * d * d
            bias_correction1 = 1 - beta1 ** step
            bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
            if amsgrad:
                v_max = state["max_exp_avg_sq"].array
                mod.maximum(v_max, v, out=v_max)
                denom = mod.sqrt(v_max) / bias_correction2_sqrt + eps
            else:
                denom = mod.sqrt(v) / bias_correction2_sqrt + eps
            p.array += (-(lr / bias_correction1) * m) / denom
            for t in state.values():
                t._version[0] += 1
            self._write(p)


class AdamW(Adam):
    """Adam with decoupled weight decay (p = p * (1 - lr * weight_decay) before the
    Adam step), default weight_decay 0.01, as ``torch.optim.AdamW``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True


class SparseAdam(Optimizer):
    """Lazy Adam for row-sparse gradients (``torch.optim.SparseAdam``): only the rows a
    step touched have their moments and values updated; the bias correction uses the
    parameter's step count (one per ``step()``), not the row's. For gradient g of rows
    r (coalesced, negated if maximize):

        m[r] = m[r] + (1 - beta1) * (g - m[r])
        v[r] = v[r] + (1 - beta2) * (g^2 - v[r])
        p[r] = p[r] - (lr * sqrt(1 - beta2^t) / (1 - beta1^t)) * m[r] / (sqrt(v[r]) + eps)

    Dense gradients are refused (use Adam), as in PyTorch."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, *, maximize=False):
        defaults = dict(lr=lr, betas=check_betas(betas, type(self).__name__), eps=eps, maximize=maximize)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_positive(group["lr"], "lr", "SparseAdam")      # PyTorch: > 0 here, >= 0 in Adam
        check_positive(group["eps"], "eps", "SparseAdam")
        check_betas(group["betas"], "SparseAdam")

    def _update(self, group):
        lr, eps, maximize = group["lr"], group["eps"], group["maximize"]
        beta1, beta2 = group["betas"]
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            if not isinstance(g, SparseGrad):
                raise RuntimeError(f"SparseAdam does not support dense gradients (a parameter of "
                                   f"shape {tuple(p.shape)}), please consider Adam instead")
            mod = backend.array_module(p.array)
            state = _moments(self._state(p), p)
            state["step"].array += 1
            step = float(state["step"].array)
            g = (-g if maximize else g).coalesce()
            if g.nnz == 0:
                continue
            rows, values = g.indices, g.values
            m, v = state["exp_avg"].array, state["exp_avg_sq"].array
            old_m, old_v = m[rows], v[rows]
            m_update = (values - old_m) * (1 - beta1)
            m[rows] = old_m + m_update
            v_update = (values * values - old_v) * (1 - beta2)
            v[rows] = old_v + v_update
            denom = mod.sqrt(v_update + old_v) + eps
            step_size = lr * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
            p.array[rows] += -step_size * ((m_update + old_m) / denom)
            for t in state.values():
                t._version[0] += 1
            self._write(p)


def _moments(state, p, amsgrad=False):
    """Adam's per-parameter state, created on first use: step, first and second moments
    (and their running maximum with amsgrad), as PyTorch names them."""
    if not state:
        mod = backend.array_module(p.array)
        state["step"] = Tensor._make(mod.zeros((), dtype=backend.float32))
        state["exp_avg"] = Tensor._make(mod.zeros_like(p.array))
        state["exp_avg_sq"] = Tensor._make(mod.zeros_like(p.array))
        if amsgrad:
            state["max_exp_avg_sq"] = Tensor._make(mod.zeros_like(p.array))
    return state
