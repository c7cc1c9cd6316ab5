"""Matrix product, NumPy's matmul semantics: 1-D operands are promoted (a vector on
the left gets a leading 1, on the right a trailing 1, removed from the result), and
leading batch axes broadcast. Einsum: any product of several tensors by subscripts."""
from .. import backend
from ..autograd import Node, Tensor, call
from ..errors import DTypeError, ShapeError
from ..product_grad import ProductGrad
from .movement import Permute
from .broadcast import grad_like


def _swap_last(t):
    axes = list(range(t.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return call(Permute, t, axes=tuple(axes))


class MatMul(Node):
    """y = a @ b;  da = dy @ b^T,  db = a^T @ dy  (batch axes summed back to each shape)

    For two matrices, without create_graph, da and db are ProductGrads (product_grad.py):
    the factors, multiplied once all the products of a weight used at every step of a
    sequence have arrived (one product over all steps instead of T thin ones)."""
    lazy_grads = True

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"matmul: operands must have at least 1 dimension, got shapes "
                             f"{a.shape} and {b.shape}")
        if a.dtype.kind == "b" or b.dtype.kind == "b":
            raise DTypeError(f"matmul: bool operands ({a.dtype}, {b.dtype})")
        k_a = a.shape[-1]
        k_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if k_a != k_b:
            raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
                             f"{k_a} (last dim of the first) != {k_b} "
                             f"({'dim -2' if b.ndim > 1 else 'dim 0'} of the second)")
        try:
            return a @ b
        except ValueError as e:
            raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} do not broadcast "
                             f"in their batch dims: {e}") from e

    def backward(self, g):
        a, b = self.saved_inputs()
        if a.ndim == 2 and b.ndim == 2 and not isinstance(g, Tensor):
            need = self.needs_input_grad
            return (ProductGrad(a.shape, a.dtype, [(g, b.T)]) if need[0] else None,
                    ProductGrad(b.shape, b.dtype, [(a.T, g)]) if need[1] else None)
        a2 = a.reshape((1,) + a.shape) if a.ndim == 1 else a
        b2 = b.reshape(b.shape + (1,)) if b.ndim == 1 else b
        # put back the axes that 1-D promotion removed from the result
        g_shape = g.shape
        if a.ndim == 1:
            g_shape = g_shape[:-1] + (1,) + g_shape[-1:] if b.ndim > 1 else g_shape + (1,)
        if b.ndim == 1:
            g_shape = g_shape + (1,)
        g2 = g.reshape(g_shape) if g_shape != g.shape else g
        da = db = None
        if self.needs_input_grad[0]:
            da = g2 @ _swap_last(b2)
            da = grad_like(da, a2)
            if a.ndim == 1:
                da = da.reshape(a.shape)
        if self.needs_input_grad[1]:
            if b2.ndim == 2 and a2.ndim > 2:
                # rows in batches against one matrix (a Linear layer on (N, T, in)): one
                # 2-D product over all rows, not a batched product summed afterwards
                db = _swap_last(a2.reshape((-1, a2.shape[-1]))) @ g2.reshape((-1, g2.shape[-1]))
            else:
                db = grad_like(_swap_last(a2) @ g2, b2)
            if b.ndim == 1:
                db = db.reshape(b.shape)
        return da, db


def _einsum(mod, equation, *xs):
    """mod.einsum, with NumPy's contraction-order optimisation (BLAS where it can)."""
    if mod is backend.xp("cpu"):
        return mod.einsum(equation, *xs, optimize=len(xs) > 1)
    return mod.einsum(equation, *xs)


class Einsum(Node):
    """y = einsum(equation, *xs) for an explicit equation of letters ("ij,jk->ik"; the
    Tensor API expands "..." and the implicit form first, and broadcasts size-1 dims)
    dx_i = einsum(dy, x_j for j != i -> subscripts of x_i): the letters x_i alone
    carries come in as ones(n) vectors, a letter repeated in x_i (a diagonal) as an
    eye(n) matrix, so that every gradient is one einsum again (and differentiable)"""

    def forward(self, *xs, equation):
        ins, out = equation.split("->")
        self.equation, self.subs, self.out = equation, ins.split(","), out
        if len(self.subs) != len(xs):
            raise ShapeError(f"einsum: the equation {equation!r} names {len(self.subs)} "
                             f"operands, {len(xs)} given")
        self.sizes = {}
        for sub, x in zip(self.subs, xs):
            if len(sub) != x.ndim:
                raise ShapeError(f"einsum: subscripts {sub!r} for an operand with {x.ndim} dims")
            for c, n in zip(sub, x.shape):
                if self.sizes.setdefault(c, n) != n:
                    raise ShapeError(f"einsum: letter {c!r} has sizes {self.sizes[c]} and {n}")
        if any(x.dtype.kind == "b" for x in xs):
            raise DTypeError("einsum: bool operands")
        return _einsum(backend.array_module(xs[0]), equation, *xs)

    def backward(self, g):
        xs = self.saved_inputs()
        mod = backend.array_module(g.array if isinstance(g, Tensor) else g)
        used = set(self.equation)
        fresh = (c for c in _LETTERS if c not in used)
        grads = []
        for i, sub in enumerate(self.subs):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            operands = [g] + [x for j, x in enumerate(xs) if j != i]
            subs = [self.out] + [s for j, s in enumerate(self.subs) if j != i]
            have, seen, target = set("".join(subs)), set(), ""
            for c in sub:
                n = self.sizes[c]
                if c in seen:                       # a diagonal: eye(n) links the copies
                    f = next(fresh)
                    operands.append(mod.eye(n, dtype=g.dtype))
                    subs.append(c + f)
                    target += f
                    continue
                seen.add(c)
                if c not in have:                   # summed in x_i alone: broadcast back
                    operands.append(mod.ones(n, dtype=g.dtype))
                    subs.append(c)
                    have.add(c)
                target += c
            grads.append(grad_like(call(Einsum, *operands,
                                        equation=",".join(subs) + "->" + target), self.inputs[i]))
        return tuple(grads)


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
