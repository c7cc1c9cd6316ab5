"""Stochastic gradient descent with momentum, dampening, Nesterov, weight decay and
maximize: PyTorch's update rule, step for step."""
from ..autograd import Tensor
from ..checks import check_nonnegative, check_real
from ..sparse_grad import SparseGrad
from .optimizer import Optimizer, dense_grad


class SGD(Optimizer):
    """For each parameter p with gradient g (PyTorch's ``torch.optim.SGD``):

        g = -g if maximize
        g = g + weight_decay * p                        if weight_decay != 0
        b = g (first step),  b = momentum * b + (1 - dampening) * g   if momentum != 0
        g = g + momentum * b (nesterov)  or  g = b
        p = p - lr * g

    Row-sparse gradients (``nn.Embedding(sparse=True)``): with no momentum and no
    weight decay only the touched rows are updated (repeated rows add up), as
    PyTorch does. With momentum the buffer is kept dense; PyTorch keeps it sparse, but
    since its buffer decays and is applied on every row it ever touched, the result
    is the same. With weight decay (which PyTorch refuses for sparse gradients) the
    gradient is made dense, which gives the dense update."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, group):
        for name in ("lr", "momentum", "weight_decay"):
            check_nonnegative(group[name], name, "SGD")
        check_real(group["dampening"], "dampening", "SGD")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")

    def _update(self, group):
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        weight_decay, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            if isinstance(g, SparseGrad) and momentum == 0 and weight_decay == 0:
                g.add_to_(p.array, alpha=lr if maximize else -lr)   # the touched rows only
                self._write(p)
                continue
            d = dense_grad(g)
            if maximize:
                d = -d
            if weight_decay != 0:
                d = d + weight_decay * p.array
            if momentum != 0:
                state = self._state(p)
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = Tensor._make(d.copy())
                else:
                    b = buf.array
                    b *= momentum
                    b += (1 - dampening) * d
                    buf._version[0] += 1
                d = d + momentum * buf.array if nesterov else buf.array
            p.array -= lr * d
            self._write(p)
