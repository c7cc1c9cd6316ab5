"""The PyTorch names of "The PyTorch names users reach for": values, dtypes and
gradients against torch on Hypothesis-drawn inputs, gradchecks of the compositions,
and the property / forward tests of the new primitives (CumSum, CumProd, Erf,
Softplus, Einsum), which tests/test_primitives_grad.py and
tests/test_primitives_forward.py register."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_seq as ts
from tinygrad_seq.ops.linalg import Einsum
from tinygrad_seq.ops.scan import CumProd, CumSum
from tinygrad_seq.ops.special import Erf, Softplus

from strategies import SMOOTH, arrays, as_tuple, grid, ops_in_graph, shapes
from torch_ref import needs_torch, torch


def leaf(a, dtype=np.float64):
    return ts.tensor(np.asarray(a, dtype=dtype), requires_grad=True)


def check(primitive, fn, *inputs, second_order=True, **tol):
    """fn runs `primitive` (if given); first and second derivatives agree with central
    differences in float64."""
    if primitive is not None:
        assert primitive in ops_in_graph(*as_tuple(fn(*inputs)))
    assert ts.gradcheck(fn, inputs, **tol)
    if second_order:
        assert ts.gradgradcheck(fn, inputs, **tol)


def dtype_name(t):
    return str(t.dtype).replace("torch.", "") if torch is not None and isinstance(
        t, torch.Tensor) else np.dtype(t.dtype).name


def compare(fn, torch_fn, *arrays_, grad=True, rtol=1e-10, atol=1e-12, seed=0):
    """fn on ts tensors and torch_fn on torch tensors of the same arrays give the same
    values, dtypes and shapes; with grad, the same gradients of sum(out * w) for random
    weights w (float inputs only)."""
    def is_float(a):
        return np.asarray(a).dtype.kind == "f"
    xs = [ts.tensor(a, requires_grad=grad and is_float(a)) for a in arrays_]
    ys = [torch.tensor(np.asarray(a), requires_grad=grad and is_float(a)) for a in arrays_]
    outs, touts = as_tuple(fn(*xs)), as_tuple(torch_fn(*ys))
    assert len(outs) == len(touts)
    for o, t in zip(outs, touts):
        assert dtype_name(o) == dtype_name(t), (dtype_name(o), dtype_name(t))
        assert tuple(o.shape) == tuple(t.shape), (o.shape, t.shape)
        np.testing.assert_allclose(o.numpy(), t.detach().numpy(), rtol=rtol, atol=atol)
    if not grad:
        return
    gen = np.random.default_rng(seed)
    loss, tloss = 0, 0
    for o, t in zip(outs, touts):
        if o.requires_grad:
            w = gen.standard_normal(tuple(o.shape))
            loss = loss + (o * ts.tensor(w, dtype=o.dtype)).sum()
            tloss = tloss + (t * torch.tensor(w, dtype=t.dtype)).sum()
    if isinstance(loss, int):
        return
    loss.backward()
    tloss.backward()
    for x, y in zip(xs, ys):
        if y.grad is not None:
            np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-9, atol=1e-10)


@st.composite
def with_dim(draw, elements=SMOOTH, min_dims=1, unique=False, min_side=1):
    x = draw(arrays(shapes(min_dims, 3, min_side=min_side), elements, unique=unique))
    dim = draw(st.integers(-x.ndim, x.ndim - 1)) if x.ndim else 0
    return x, dim


# ---------------------------------------------------------------- property tests of the new primitives

@given(data=st.data(), reverse=st.booleans())
def test_cumsum_gradients(data, reverse):
    x, dim = data.draw(with_dim(), label="x, dim")
    axis = dim % x.ndim
    if reverse:   # the reverse scan is the primitive's other form (its own backward)
        check(CumSum, lambda t: CumSum.apply(t, axis=axis, reverse=True), leaf(x))
    else:
        check(CumSum, lambda t: t.cumsum(dim), leaf(x))


@given(data=st.data(), zeros=st.integers(0, 2))
def test_cumprod_gradients(data, zeros):
    # |x| >= 0.05 or exactly 0: the no-zero rule divides by x, whose second derivative
    # is ill-conditioned for tiny x (PyTorch's rule is the same)
    x, dim = data.draw(with_dim(grid(0.5)), label="x, dim")
    flat = x.reshape(-1)
    for i in data.draw(st.lists(st.integers(0, flat.size - 1), max_size=zeros), label="zeros"):
        flat[i] = 0.0          # exact gradients at zeros (the recurrence path)
    check(CumProd, lambda t: t.cumprod(dim), leaf(x))


@given(x=arrays(shapes(), st.floats(-3, 3)))
def test_erf_gradients(x):
    check(Erf, lambda t: t.erf(), leaf(x))


@given(x=arrays(shapes(), grid(0.5)), beta=st.sampled_from([1.0, 2.0, 0.5]),
       threshold=st.sampled_from([20.0, 1.0]))
def test_softplus_gradients(x, beta, threshold):
    # grid(0.5) values times beta never sit on the threshold (a multiple of 0.1 here)
    check(Softplus, lambda t: t.softplus(beta=beta, threshold=threshold), leaf(x))


EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("i,i->", [(3,), (3,)]), ("i,j->ij", [(2,), (3,)]), ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]), ("ij->", [(2, 3)]), ("ij->j", [(2, 3)]), ("ij,jk", [(2, 3), (3, 2)]),
    ("...ij,...jk->...ik", [(2, 2, 3), (3, 2)]), ("bhqd,bhkd->bhqk", [(1, 2, 3, 2), (1, 2, 2, 2)]),
    ("ij,ij,ij->i", [(2, 3), (2, 3), (2, 3)]), ("ijk->kji", [(2, 3, 1)]),
    ("ij,kj->ik", [(1, 3), (2, 3)]), ("iij->j", [(2, 2, 3)]), ("ij,i", [(1, 3), (2,)]),
]


@given(case=st.sampled_from(EINSUM_CASES), data=st.data())
def test_einsum_gradients(case, data):
    equation, shapes_ = case
    xs = [leaf(data.draw(arrays(s), label=f"x{i}")) for i, s in enumerate(shapes_)]
    check(Einsum, lambda *ts_: ts.einsum(equation, *ts_), *xs)


# forward cases for test_primitives_forward.FORWARD: (draw, dtype) -> (result, NumPy's, inputs)

def _tracked(a, dtype):
    return ts.tensor(np.asarray(a, dtype=dtype), requires_grad=True)


def cumsum_case(draw, dtype):
    x, dim = draw(with_dim())
    x = x.astype(dtype)
    t = _tracked(x, dtype)
    return t.cumsum(dim), np.cumsum(x, axis=dim), [t]


def cumprod_case(draw, dtype):
    x, dim = draw(with_dim())
    x = x.astype(dtype)
    t = _tracked(x, dtype)
    return t.cumprod(dim), np.cumprod(x, axis=dim), [t]


def erf_case(draw, dtype):
    x = draw(arrays(shapes(), st.floats(-7, 7))).astype(dtype)
    t = _tracked(x, dtype)
    want = np.vectorize(math.erf, otypes=[np.float64])(x).astype(dtype) if x.size else x
    return t.erf(), want, [t]


def softplus_case(draw, dtype):
    x = draw(arrays(shapes(), st.floats(-30, 30))).astype(dtype)
    beta = draw(st.sampled_from([1.0, 2.0]))
    t = _tracked(x, dtype)
    want = np.where(x * beta > 20, x, np.log1p(np.exp(np.minimum(x * beta, 20))) / beta)
    return t.softplus(beta=beta), want.astype(dtype), [t]


def einsum_case(draw, dtype):
    equation, shapes_ = draw(st.sampled_from([c for c in EINSUM_CASES if "..." not in c[0]
                                              and c[0] not in ("ij,kj->ik", "ij,i")]))
    xs = [draw(arrays(s)).astype(dtype) for s in shapes_]
    ts_ = [_tracked(x, dtype) for x in xs]
    return ts.einsum(equation, *ts_), np.einsum(equation, *xs), ts_


FORWARD_CASES = {CumSum: cumsum_case, CumProd: cumprod_case, Erf: erf_case,
                 Softplus: softplus_case, Einsum: einsum_case}
