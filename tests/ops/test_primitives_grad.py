"""Gradient property tests for every primitive in ``tinygrad_seq.ops.PRIMITIVES``.

Each primitive maps to a Hypothesis test in PROPERTY_TESTS (a test fails if one is
missing). The tests run the primitive through the public API (or ``Cls.apply`` for the
internal ones), check that it is really in the recorded graph, and compare its
gradient with central finite differences in float64 (``ts.gradcheck``), then check both
branches of the backward rules (``branch_check.check_branches``): the gradient made with
create_graph equals the fast path's, and its derivative agrees with finite differences
of the fast-path gradient (gradgradcheck would compare the recorded gradient with
itself). A sample of the examples (all of them under the ``thorough`` profile) also
checks that the study engine, reference_engine.py, gives the same gradients.
Random small shapes, broadcasting pairs and axis arguments come from strategies.py;
data stay away from kinks and domain edges. Forward values are in
test_primitives_forward.py.
"""
import inspect
import re
import operator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_seq as ts
import tinygrad_seq.functional as F
from tinygrad_seq.ops import PRIMITIVES
from tinygrad_seq.ops.conv import Conv1d, Conv1dInputGrad, Conv1dWeightGrad
from tinygrad_seq.ops.ctc import CTCLoss
from tinygrad_seq.ops.embedding import Embedding
from tinygrad_seq.ops.elementwise import (Abs, Add, Clip, Div, Exp, Log, Maximum, Minimum, Mul,
                                          Neg, Pow, PowScalar, Relu, Sigmoid, Sqrt, Sub,
                                          Tanh, Where)
from tinygrad_seq.ops.indexing import GetItem, IndexAdd, SetItem, WriteView
from tinygrad_seq.ops.linalg import MatMul
from tinygrad_seq.ops.movement import Cast, Cat, Permute, Reshape, Split
from tinygrad_seq.ops.nn import Dropout, LogSoftmax, LogSoftmaxGrad, Softmax, SoftmaxGrad
from tinygrad_seq.ops.reduce import Expand, LogSumExp, Max, Min, Sum, Var
from tinygrad_seq.ops.rnn import GRUSequence, LSTMSequence, RNNSequence
from tinygrad_seq.ops.activations import Gelu, GeluGrad
from tinygrad_seq.ops.normalization import LayerNorm

from branch_check import (check_branches, check_once_differentiable, check_reference_engine,
                          sampled)
from strategies import (AWAY_FROM_ZERO, NONZERO, POSITIVE, SMOOTH, advanced_indices, arrays,
                        as_tuple, axes, broadcast_shapes, broadcastable_to, grid, indices,
                        ops_in_graph, reduced_count, reshape_targets, row_indices, shapes)
from test_ctc import test_ctc_gradients as _ctc_gradients
from test_nn_conv import test_conv1d_gradients as _conv1d_gradients
from test_nn_embedding import test_embedding_gradients as _embedding_gradients
from test_nn_rnn_primitives import test_rnn_sequence_gradients as _rnn_sequence_gradients
from test_tensor_ops_torch import (test_cumprod_gradients as _cumprod_gradients,
                                   test_cumsum_gradients as _cumsum_gradients,
                                   test_einsum_gradients as _einsum_gradients,
                                   test_erf_gradients as _erf_gradients,
                                   test_sin_gradients as _sin_gradients,
                                   test_write_view_gradients as _write_view_gradients,
                                   test_cos_gradients as _cos_gradients,
                                   test_softplus_gradients as _softplus_gradients)
from tinygrad_seq.ops.linalg import Einsum
from tinygrad_seq.ops.scan import CumProd, CumSum
from tinygrad_seq.ops.special import Cos, Erf, Log1p, Rounding, Sin, Softplus, XLogY
from test_torch_names import (test_log1p_gradients as _log1p_gradients,
                              test_rounding_gradients as _rounding_gradients,
                              test_xlogy_gradients as _xlogy_gradients)


# ---------------------------------------------------------------- helpers

def leaf(a):
    return ts.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def ops_in_gradient(fn, *inputs):
    """The primitives recorded in the graph of fn's first gradient (create_graph)."""
    outs = [o for o in as_tuple(fn(*inputs)) if o.requires_grad]
    gos = [ts.tensor(np.ones(o.shape)) for o in outs]
    grads = ts.grad(outs, list(inputs), gos, create_graph=True, allow_unused=True)
    return ops_in_graph(*[g for g in grads if g is not None])


def check(primitive, fn, *inputs, **tol):
    """fn(*inputs) runs `primitive`; its gradient agrees with finite differences, both
    branches of its rule agree (first and second derivatives), and on a sample of the
    examples the reference engine gives the same gradients."""
    assert primitive in ops_in_graph(*as_tuple(fn(*inputs))), \
        f"{primitive.__name__} is not in the graph of the function under test"
    assert ts.gradcheck(fn, inputs, **tol)
    assert check_branches(fn, inputs, **tol)
    if sampled():
        assert check_reference_engine(fn, inputs)


# ---------------------------------------------------------------- elementwise

UNARY = {   # primitive: (function, data away from its kinks / outside its domain edges)
    Neg: (operator.neg, SMOOTH),
    Exp: (lambda x: x.exp(), SMOOTH),
    Log: (lambda x: x.log(), POSITIVE),
    Sqrt: (lambda x: x.sqrt(), POSITIVE),
    Abs: (abs, AWAY_FROM_ZERO),
    Tanh: (lambda x: x.tanh(), SMOOTH),
    Sigmoid: (F.sigmoid, st.floats(-4, 4)),
    Relu: (F.relu, AWAY_FROM_ZERO),
}


@pytest.mark.parametrize("primitive", list(UNARY), ids=lambda c: c.__name__)
@given(data=st.data())
def test_unary_gradients(primitive, data):
    fn, elements = UNARY[primitive]
    x = data.draw(arrays(shapes(), elements), label="x")
    check(primitive, fn, leaf(x))


BINARY = {  # primitive: (function, data of a, data of b)
    Add: (operator.add, SMOOTH, SMOOTH),
    Sub: (operator.sub, SMOOTH, SMOOTH),
    Mul: (operator.mul, SMOOTH, SMOOTH),
    Div: (operator.truediv, SMOOTH, NONZERO),
    Pow: (operator.pow, POSITIVE, SMOOTH),
    Maximum: (ts.maximum, grid(0.25), grid(0.75)),     # the grids never meet: no ties
    Minimum: (ts.minimum, grid(0.25), grid(0.75)),
}


@pytest.mark.parametrize("primitive", list(BINARY), ids=lambda c: c.__name__)
@given(data=st.data())
def test_binary_gradients_broadcast(primitive, data):
    fn, a_elements, b_elements = BINARY[primitive]
    a_shape, b_shape = data.draw(broadcast_shapes(), label="shapes")
    a = data.draw(arrays(a_shape, a_elements), label="a")
    b = data.draw(arrays(b_shape, b_elements), label="b")
    check(primitive, fn, leaf(a), leaf(b))


SCALAR_OPERANDS = {  # primitive: function with a Python number on the right and on the left
    Add: lambda x: (x + 1.5, 2.5 + x),
    Sub: lambda x: (x - 1.5, 2.5 - x),
    Mul: lambda x: (x * 1.5, -2.0 * x),
    Div: lambda x: (x / 1.5, 2.0 / x),
    Pow: lambda x: (1.5 ** x, x ** x),
}


@pytest.mark.parametrize("primitive", list(SCALAR_OPERANDS), ids=lambda c: c.__name__)
@given(x=arrays(shapes(max_size=8), POSITIVE))
def test_binary_gradients_with_python_scalars(primitive, x):
    check(primitive, SCALAR_OPERANDS[primitive], leaf(x))


@given(x=arrays(shapes(), POSITIVE), p=st.sampled_from([2, 3, 1, 0, -1, 0.5, -1.5, 2.5]))
def test_pow_scalar_gradients(x, p):
    check(PowScalar, lambda t: t ** p, leaf(x))


@given(x=arrays(shapes(), SMOOTH))
def test_square_gradients(x):
    check(PowScalar, lambda t: t.square(), leaf(x))


@given(data=st.data())
def test_clip_gradients(data):
    x = data.draw(arrays(shapes(), grid(0.5)), label="x")           # never on a bound
    low = data.draw(st.none() | st.integers(-15, 0).map(lambda k: k / 10), label="low")
    high = data.draw(st.integers(1, 15).map(lambda k: k / 10) | (st.none() if low is not None
                                                                  else st.nothing()), label="high")
    check(Clip, lambda t: t.clip(low, high), leaf(x))


@given(data=st.data())
def test_where_gradients_broadcast(data):
    cond_shape, a_shape, b_shape = data.draw(broadcast_shapes(n=3), label="shapes")
    cond = data.draw(arrays(cond_shape, st.booleans(), dtype=np.bool_), label="cond")
    a, b = data.draw(arrays(a_shape), label="a"), data.draw(arrays(b_shape), label="b")
    condition = ts.tensor(cond) if data.draw(st.booleans(), label="cond as Tensor") else cond
    check(Where, lambda a, b: ts.where(condition, a, b), leaf(a), leaf(b))


@given(x=arrays(shapes(1, 3), SMOOTH), fill=st.floats(-2, 2))
def test_masked_fill_gradients(x, fill):
    mask = x > 0
    check(Where, lambda t: t.masked_fill(mask, fill), leaf(x))


# ---------------------------------------------------------------- reductions

@given(data=st.data(), keepdims=st.booleans())
def test_sum_gradients(data, keepdims):
    x = data.draw(arrays(shapes()), label="x")
    axis = data.draw(axes(x.ndim), label="axis")
    check(Sum, lambda t: t.sum(axis=axis, keepdims=keepdims), leaf(x))


@pytest.mark.parametrize("primitive, method", [(Max, "amax"), (Min, "amin")], ids=["Max", "Min"])
@given(data=st.data(), keepdims=st.booleans())
def test_max_min_gradients(primitive, method, data, keepdims):
    x = data.draw(arrays(shapes(), grid(0.5), unique=True), label="x")   # no ties
    axis = data.draw(axes(x.ndim), label="axis")
    check(primitive, lambda t: getattr(t, method)(axis=axis, keepdims=keepdims), leaf(x))


@given(data=st.data(), keepdims=st.booleans())
def test_logsumexp_gradients(data, keepdims):
    x = data.draw(arrays(shapes()), label="x")
    axis = data.draw(axes(x.ndim), label="axis")
    check(LogSumExp, lambda t: t.logsumexp(axis=axis, keepdims=keepdims), leaf(x))


@given(data=st.data(), keepdims=st.booleans(), correction=st.sampled_from([0, 1]))
def test_var_gradients(data, keepdims, correction):
    x = data.draw(arrays(shapes(1, 4, min_side=2)), label="x")   # every reduction has n >= 2
    axis = data.draw(axes(x.ndim), label="axis")
    assert reduced_count(x.shape, axis) >= 2
    check(Var, lambda t: t.var(axis=axis, keepdims=keepdims, correction=correction), leaf(x))


@given(data=st.data())
def test_expand_gradients(data):
    target = data.draw(shapes(), label="target")
    x = data.draw(arrays(broadcastable_to(target)), label="x")
    if x.shape == target:
        target = (2,) + target             # expanding to the same shape records nothing
    check(Expand, lambda t: t.expand(target), leaf(x))


# ---------------------------------------------------------------- movement

@given(data=st.data())
def test_reshape_gradients(data):
    x = data.draw(arrays(shapes()), label="x")
    target = data.draw(reshape_targets(x.shape), label="target")
    if np.empty(x.shape).reshape(target).shape == x.shape:
        target = (1,) + x.shape            # reshape to the same shape records nothing
    check(Reshape, lambda t: t.reshape(target), leaf(x))


@given(data=st.data())
def test_permute_gradients(data):
    x = data.draw(arrays(shapes(1, 4)), label="x")
    order = data.draw(st.permutations(range(x.ndim)), label="order")
    order = [a - x.ndim if data.draw(st.booleans()) else a for a in order]
    how = data.draw(st.sampled_from(["permute", "T", "transpose"]), label="how")
    fns = {"permute": lambda t: t.permute(*order), "T": lambda t: t.T,
           "transpose": lambda t: t.transpose(order[0], -1)}
    check(Permute, fns[how], leaf(x))


@given(data=st.data(), stack=st.booleans())
def test_cat_gradients(data, stack):
    base = data.draw(shapes(1, 3, max_size=8), label="base")
    axis = data.draw(st.integers(-len(base), len(base) - 1), label="axis")
    n = data.draw(st.integers(2, 3), label="n")
    if stack:
        parts = [data.draw(arrays(base)) for _ in range(n)]
        fn = lambda *ts_: ts.stack(ts_, axis=axis)     # noqa: E731
    else:
        sizes = data.draw(st.lists(st.integers(1, 3), min_size=n, max_size=n), label="sizes")
        parts = [data.draw(arrays(base[:axis % len(base)] + (k,) + base[axis % len(base) + 1:]))
                 for k in sizes]
        fn = lambda *ts_: ts.cat(ts_, axis=axis)       # noqa: E731
    check(Cat, fn, *[leaf(p) for p in parts])


@given(data=st.data())
def test_split_gradients(data):
    x = data.draw(arrays(shapes(1, 3, min_side=2)), label="x")
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1), label="axis")
    n = x.shape[axis]
    how = data.draw(st.sampled_from(["size", "sections", "chunk", "one piece"]), label="how")
    if how == "sections":
        cut = data.draw(st.integers(1, n - 1), label="cut")
        fn = lambda t: t.split([cut, n - cut], axis=axis)         # noqa: E731
    elif how == "chunk":
        fn = lambda t: t.chunk(2, axis=axis)                      # noqa: E731
    else:
        size = data.draw(st.integers(1, n - 1), label="size")
        if how == "size":
            fn = lambda t: t.split(size, axis=axis)               # noqa: E731
        else:   # the other pieces get no gradient: they count as zeros
            fn = lambda t: t.split(size, axis=axis)[-1] * 2.0    # noqa: E731
    check(Split, fn, leaf(x))


@given(x=arrays(shapes()), how=st.sampled_from(["clone", "to float64 copy"]))
def test_cast_gradients(x, how):
    fn = (lambda t: t.clone()) if how == "clone" else (lambda t: t.to(ts.float64, copy=True))
    check(Cast, fn, leaf(x))


@given(x=arrays(shapes(), POSITIVE))
def test_cast_through_float32_gradients(x):
    # finite differences of a float32 round trip need a large step and a loose tolerance
    check(Cast, lambda t: t.to(ts.float32).to(ts.float64) * 1.5, leaf(x), eps=1e-3, rtol=1e-2)


# ---------------------------------------------------------------- indexing

@given(data=st.data())
def test_getitem_gradients(data):
    x = data.draw(arrays(shapes()), label="x")
    index = data.draw(indices(x.shape), label="index")
    check(GetItem, lambda t: t[index], leaf(x))


@given(data=st.data(), width=st.sampled_from([3, 16]))
def test_index_add_gradients(data, width):
    # IndexAdd is GetItem's backward; here it is applied directly, both for row indices
    # (width 16 takes the sort + reduceat path of backend.scatter_add_rows) and others
    n_rows = data.draw(st.integers(1, 3), label="n_rows")
    shape = (n_rows, width) if width == 3 else (n_rows, 4, 4)
    if data.draw(st.booleans(), label="rows"):
        index = data.draw(row_indices(n_rows, max_len=4), label="index")
    else:
        index = data.draw(indices(shape), label="index")
    v = data.draw(arrays(np.zeros(shape)[index].shape), label="v")
    check(IndexAdd, lambda t: IndexAdd.apply(t, shape=shape, index=index), leaf(v))


@given(data=st.data())
def test_index_add_is_in_getitem_second_order_graph(data):
    x = data.draw(arrays(shapes(1, 3)), label="x")
    index = data.draw(advanced_indices(x.shape), label="index")
    assert IndexAdd in ops_in_gradient(lambda t: t[index] * t[index], leaf(x))


@given(data=st.data())
def test_setitem_gradients(data):
    x = data.draw(arrays(shapes(1, 4)), label="x")
    index = data.draw(indices(x.shape, repeats=False), label="index")
    target = np.zeros(x.shape)[index].shape
    v = data.draw(arrays(broadcastable_to(target)), label="v")

    def assign(x, v):
        y = x.clone()
        y[index] = v
        return y * y             # something that reads the result nonlinearly
    check(SetItem, assign, leaf(x), leaf(v))


# ---------------------------------------------------------------- linalg

@st.composite
def matmul_shapes(draw):
    """Operand shapes for every matmul case: vectors on either side, matrices, and
    stacks with broadcast batch axes."""
    m, k, n = (draw(st.integers(1, 3)) for _ in range(3))
    batch = draw(shapes(0, 2, max_side=3, max_size=6))
    a = draw(st.sampled_from([(k,), (m, k)]))
    b = draw(st.sampled_from([(k,), (k, n)]))
    a = (draw(broadcastable_to(batch)) + a) if len(a) == 2 else a
    b = (draw(broadcastable_to(batch)) + b) if len(b) == 2 else b
    return a, b


@pytest.mark.parametrize("a_shape, b_shape", [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)),
                                              ((2, 1, 3, 4), (5, 4, 2)), ((3,), (2, 3, 2))])
def test_matmul_gradients_named_cases(a_shape, b_shape):
    gen = np.random.default_rng(0)
    check(MatMul, operator.matmul, leaf(gen.standard_normal(a_shape)),
          leaf(gen.standard_normal(b_shape)))


@given(data=st.data())
def test_matmul_gradients(data):
    a_shape, b_shape = data.draw(matmul_shapes(), label="shapes")
    a, b = data.draw(arrays(a_shape), label="a"), data.draw(arrays(b_shape), label="b")
    check(MatMul, operator.matmul, leaf(a), leaf(b))


# ---------------------------------------------------------------- nn

@pytest.mark.parametrize("primitive, backward, fn", [
    (Softmax, SoftmaxGrad, lambda t, axis: t.softmax(axis=axis)),
    (LogSoftmax, LogSoftmaxGrad, lambda t, axis: F.log_softmax(t, dim=axis)),
], ids=["Softmax", "LogSoftmax"])
@given(data=st.data())
def test_softmax_gradients(primitive, backward, fn, data):
    x = data.draw(arrays(shapes(1, 4)), label="x")
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1), label="axis")
    check(primitive, lambda t: fn(t, axis), leaf(x))
    assert backward in ops_in_gradient(lambda t: fn(t, axis), leaf(x))


@pytest.mark.parametrize("primitive, forward", [(SoftmaxGrad, "softmax"),
                                                (LogSoftmaxGrad, "log_softmax")],
                         ids=["SoftmaxGrad", "LogSoftmaxGrad"])
@given(data=st.data())
def test_softmax_backward_primitives_directly(primitive, forward, data):
    # the fused backward steps as primitives of their own: z = primitive(g, y, axis)
    # for y the (log-)softmax of some x, differentiated in both g and y
    shape = data.draw(shapes(1, 3), label="shape")
    axis = data.draw(st.integers(0, len(shape) - 1), label="axis")
    g = data.draw(arrays(shape), label="g")
    y = getattr(ts.tensor(data.draw(arrays(shape), label="x")), forward)(axis=axis).numpy()
    check(primitive, lambda g, y: primitive.apply(g, y, axis=axis), leaf(g), leaf(y))


@given(x=arrays(shapes()), p=st.sampled_from([0.2, 0.5, 0.8, 1.0]), seed=st.integers(0, 99))
def test_dropout_gradients(x, p, seed):
    def fn(t):
        ts.manual_seed(seed)         # the same mask on every call
        return F.dropout(t, p)
    check(Dropout, fn, leaf(x))


@pytest.mark.parametrize("primitive, fn", [(Gelu, F.gelu), (GeluGrad, GeluGrad.apply)],
                         ids=["Gelu", "GeluGrad"])
@given(x=arrays(shapes(), st.floats(-7, 7)))       # every range of the erf approximation
def test_gelu_gradients(primitive, fn, x):
    check(primitive, fn, leaf(x))
    if primitive is Gelu:
        assert GeluGrad in ops_in_gradient(fn, leaf(x))


@given(data=st.data())
def test_layer_norm_gradients(data):
    shape = data.draw(shapes(1, 3, min_side=2, max_size=12), label="shape")
    n_axes = data.draw(st.integers(1, len(shape)), label="n_axes")
    x = data.draw(arrays(shape, grid(0.5), unique=True), label="x")   # rows never constant
    both = data.draw(st.booleans(), label="use the second output (1 / std) too")

    def fn(t):
        y, r = LayerNorm.apply(t, n_axes=n_axes, eps=1e-5)
        return (y, r) if both else y
    check(LayerNorm, fn, leaf(x))


# ---------------------------------------------------------------- edge cases of rules

def test_pow_scalar_zero_exponent_has_zero_gradient_at_zero():
    x = leaf([0.0, 1.0, -2.0])
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])   # PyTorch: 0, not nan


def test_var_of_one_element_gives_nan_gradient():
    x = leaf([[1.0], [2.0]])
    with np.errstate(all="ignore"):
        y = x.var(axis=1)                       # n - correction = 0, as in PyTorch
        y.sum().backward()
    assert np.isnan(y.numpy()).all() and np.isnan(x.grad.numpy()).all()


def test_max_ties_share_the_gradient_evenly():
    x = leaf([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    x.amax(axis=1).sum().backward()             # as PyTorch's amax
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


def test_maximum_minimum_ties_split_half():
    a, b = leaf([1.0, 2.0, 3.0]), leaf([1.0, 1.0, 4.0])
    (ts.maximum(a, b).sum() + 2 * ts.minimum(a, b).sum()).backward()
    np.testing.assert_allclose(a.grad.numpy(), [1.5, 1.0, 2.0])
    np.testing.assert_allclose(b.grad.numpy(), [1.5, 2.0, 1.0])


def test_clip_bounds_are_inclusive():
    x = leaf([-1.0, 0.0, 0.5, 1.0, 2.0])
    x.clip(0.0, 1.0).sum().backward()           # as PyTorch's clamp
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1, 1, 1, 0])


def test_gradcheck_accepts_inputs_without_elements():
    v = leaf(np.zeros((0, 3)))                  # an empty mask picks nothing
    assert ts.gradcheck(lambda t: IndexAdd.apply(t, shape=(2, 3), index=np.array([False, False])), v)


def test_repeated_indices_accumulate():
    x = leaf(np.arange(8.0).reshape(4, 2))
    x[[0, 0, -1, 3, 1]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[:, 0], [2, 1, 0, 2])


# ---------------------------------------------------------------- the table

PROPERTY_TESTS = {
    **{cls: test_unary_gradients for cls in UNARY},
    **{cls: test_binary_gradients_broadcast for cls in BINARY},
    PowScalar: test_pow_scalar_gradients,
    Clip: test_clip_gradients,
    Where: test_where_gradients_broadcast,
    Sum: test_sum_gradients,
    Max: test_max_min_gradients,
    Min: test_max_min_gradients,
    LogSumExp: test_logsumexp_gradients,
    Var: test_var_gradients,
    Expand: test_expand_gradients,
    Reshape: test_reshape_gradients,
    Permute: test_permute_gradients,
    Cat: test_cat_gradients,
    Split: test_split_gradients,
    Cast: test_cast_gradients,
    GetItem: test_getitem_gradients,
    IndexAdd: test_index_add_gradients,
    SetItem: test_setitem_gradients,
    MatMul: test_matmul_gradients,
    Softmax: test_softmax_gradients,
    LogSoftmax: test_softmax_gradients,
    SoftmaxGrad: test_softmax_backward_primitives_directly,
    LogSoftmaxGrad: test_softmax_backward_primitives_directly,
    Dropout: test_dropout_gradients,
    Gelu: test_gelu_gradients,
    GeluGrad: test_gelu_gradients,
    LayerNorm: test_layer_norm_gradients,
    Embedding: _embedding_gradients,
    **{cls: _conv1d_gradients for cls in (Conv1d, Conv1dInputGrad, Conv1dWeightGrad)},
    CTCLoss: _ctc_gradients,            # once differentiable: gradcheck only (test_ctc.py)
    **{cls: _rnn_sequence_gradients for cls in (RNNSequence, GRUSequence, LSTMSequence)},
    # the PyTorch names (tests in test_tensor_ops_torch.py)
    CumSum: _cumsum_gradients,
    CumProd: _cumprod_gradients,
    Erf: _erf_gradients,
    Sin: _sin_gradients,
    WriteView: _write_view_gradients,
    Cos: _cos_gradients,
    Softplus: _softplus_gradients,
    Einsum: _einsum_gradients,
    Log1p: _log1p_gradients,            # tests in test_torch_names.py
    Rounding: _rounding_gradients,
    XLogY: _xlogy_gradients,            # tests in test_torch_names.py
}


# ---------------------------------------------------------------- the checks themselves

def test_a_rule_wrong_only_in_its_recorded_branch_is_caught(monkeypatch):
    real = Mul.backward

    def wrong(self, g):         # right on arrays, twice too large on Tensors (create_graph)
        da, db = real(self, g)
        return (da * 2 if isinstance(g, ts.Tensor) else da), db
    monkeypatch.setattr(Mul, "backward", wrong)
    a, b = leaf([0.5, -1.0, 2.0]), leaf([1.5, 0.25, -0.75])
    assert ts.gradcheck(operator.mul, (a, b))
    assert ts.gradgradcheck(operator.mul, (a, b))      # consistent with itself: not enough
    with pytest.raises(AssertionError, match="create_graph's gradient differs"):
        check_branches(operator.mul, (a, b))


def test_a_recorded_branch_with_a_wrong_graph_is_caught(monkeypatch):
    real = Mul.backward

    def detached(self, g):      # right values, but db's graph is lost (a second derivative of 0)
        da, db = real(self, g)
        return da, (db.detach() if isinstance(g, ts.Tensor) else db)
    monkeypatch.setattr(Mul, "backward", detached)
    a, b = leaf([0.5, -1.0, 2.0]), leaf([1.5, 0.25, -0.75])
    with pytest.raises(ts.GradcheckError):
        check_branches(operator.mul, (a, b))


def _checks_both_branches(test):
    """Whether a property test calls check_branches, itself or through its module's
    ``check`` helper (``gradcheck(`` alone does not count)."""
    inner = test.hypothesis.inner_test
    source = inspect.getsource(inner)
    if "check_branches(" in source:
        return True
    helper = getattr(inspect.getmodule(inner), "check", None)
    return (re.search(r"(?<![\w.])check\(", source) is not None and helper is not None
            and "check_branches(" in inspect.getsource(helper))


def test_every_primitive_checks_both_branches_or_is_once_differentiable():
    for cls, test in PROPERTY_TESTS.items():
        if cls.once_differentiable:
            source = inspect.getsource(test.hypothesis.inner_test)
            assert "check_once_differentiable(" in source, cls.__name__
        else:
            assert _checks_both_branches(test), \
                f"{cls.__name__}: {test.__name__} does not check both branches of its rule"
    assert [cls for cls in PRIMITIVES if cls.once_differentiable] == [CTCLoss]


def test_every_primitive_has_a_property_test():
    missing = [cls.__name__ for cls in PRIMITIVES if cls not in PROPERTY_TESTS]
    assert not missing, f"primitives without a gradient property test: {missing}"
    assert len(PRIMITIVES) >= 38
    for cls, test in PROPERTY_TESTS.items():
        assert test.__name__.startswith("test_") and hasattr(test, "hypothesis"), \
            f"{cls.__name__} maps to {test.__name__}, which is not a Hypothesis test"
