"""Forward values and dtypes of every primitive against plain NumPy.

FORWARD maps each primitive of ``tinygrad_seq.ops.PRIMITIVES`` to a case that draws
inputs (float32, the default dtype, and float64), runs the primitive and says what
NumPy gives; the test compares values and result dtypes and checks that every input's
gradient has the input's dtype and shape. Then: NumPy's promotion rules for mixed
float32/float64 operands, every matmul and indexing form, the embedding-style
scatter-add fast path against ``np.add.at``, and numerically extreme inputs.
"""
import math
import operator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_seq as ts
import tinygrad_seq.functional as F
from tinygrad_seq import backend
from tinygrad_seq.ops import PRIMITIVES
from tinygrad_seq.ops.elementwise import (Abs, Add, Clip, Div, Exp, Log, Maximum, Minimum, Mul,
                                          Neg, Pow, PowScalar, Relu, Sigmoid, Sqrt, Sub,
                                          Tanh, Where)
from tinygrad_seq.ops.conv import Conv1d, Conv1dInputGrad, Conv1dWeightGrad
from tinygrad_seq.ops.ctc import CTCLoss
from tinygrad_seq.ops.embedding import Embedding
from tinygrad_seq.ops.indexing import GetItem, IndexAdd, SetItem
from tinygrad_seq.ops.linalg import MatMul
from tinygrad_seq.ops.movement import Cast, Cat, Permute, Reshape, Split
from tinygrad_seq.ops.nn import Dropout, LogSoftmax, LogSoftmaxGrad, Softmax, SoftmaxGrad
from tinygrad_seq.ops.reduce import Expand, LogSumExp, Max, Min, Sum, Var
from tinygrad_seq.ops.rnn import GRUSequence, LSTMSequence, RNNSequence
from tinygrad_seq.ops.activations import Gelu, GeluGrad
from tinygrad_seq.ops.normalization import LayerNorm

from strategies import (NONZERO, POSITIVE, SMOOTH, arrays, as_tuple, axes, broadcast_shapes,
                        broadcastable_to, grid, indices, ops_in_graph, reshape_targets,
                        row_indices, shapes)
from test_ctc import ctc_forward_case
from test_nn_conv import forward_case as conv_forward_case
from test_nn_embedding import embedding_case
from test_nn_rnn_primitives import forward_case as rnn_forward_case
from test_tensor_ops_torch import FORWARD_CASES as TORCH_NAMES_FORWARD_CASES
from test_torch_names import FORWARD_CASES as MORE_TORCH_NAMES_FORWARD_CASES


def tracked(a, dtype):
    return ts.tensor(np.asarray(a, dtype=dtype), requires_grad=True)


def softmax_np(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# ---------------------------------------------------------------- one case per primitive
# each case: (draw, dtype) -> (result, NumPy's result, the tracked inputs)

def unary(method, np_fn, elements=SMOOTH):
    def case(draw, dtype):
        x = draw(arrays(shapes(), elements)).astype(dtype)
        t = tracked(x, dtype)
        return method(t), np_fn(x), [t]
    return case


def binary(fn, np_fn, a_elements=SMOOTH, b_elements=SMOOTH):
    def case(draw, dtype):
        a_shape, b_shape = draw(broadcast_shapes())
        a = draw(arrays(a_shape, a_elements)).astype(dtype)
        b = draw(arrays(b_shape, b_elements)).astype(dtype)
        ta, tb = tracked(a, dtype), tracked(b, dtype)
        return fn(ta, tb), np_fn(a, b), [ta, tb]
    return case


def reduction(method, np_fn, elements=SMOOTH):
    def case(draw, dtype):
        x = draw(arrays(shapes(), elements)).astype(dtype)
        axis, keepdims = draw(axes(x.ndim)), draw(st.booleans())
        t = tracked(x, dtype)
        return method(t, axis, keepdims), np_fn(x, axis, keepdims), [t]
    return case


def pow_scalar_case(draw, dtype):
    x = draw(arrays(shapes(), POSITIVE)).astype(dtype)
    p = draw(st.sampled_from([2, 3, 0, -1, 0.5, -1.5]))
    t = tracked(x, dtype)
    return t ** p, x ** p, [t]


def clip_case(draw, dtype):
    x = draw(arrays(shapes())).astype(dtype)
    low, high = draw(st.sampled_from([(-0.5, 0.5), (None, 0.3), (-0.2, None), (0.0, 0.0)]))
    t = tracked(x, dtype)
    want = np.clip(x, -np.inf if low is None else low, np.inf if high is None else high)
    return t.clip(low, high), want, [t]


def where_case(draw, dtype):
    c_shape, a_shape, b_shape = draw(broadcast_shapes(n=3))
    cond = draw(arrays(c_shape, st.booleans(), dtype=np.bool_))
    a, b = draw(arrays(a_shape)).astype(dtype), draw(arrays(b_shape)).astype(dtype)
    ta, tb = tracked(a, dtype), tracked(b, dtype)
    return ts.where(cond, ta, tb), np.where(cond, a, b), [ta, tb]


def var_case(draw, dtype):
    x = draw(arrays(shapes(1, 4, min_side=2))).astype(dtype)
    axis, keepdims = draw(axes(x.ndim)), draw(st.booleans())
    t = tracked(x, dtype)
    if draw(st.booleans()):     # the default correction is 1, as PyTorch
        return t.var(axis=axis, keepdims=keepdims), np.var(x, axis, ddof=1, keepdims=keepdims), [t]
    correction = draw(st.sampled_from([0, 1, 2]))
    return (t.var(axis=axis, keepdims=keepdims, correction=correction),
            np.var(x, axis, ddof=correction, keepdims=keepdims), [t])


def logsumexp_np(x, axis, keepdims):
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


def expand_case(draw, dtype):
    target = draw(shapes())
    x = draw(arrays(broadcastable_to(target))).astype(dtype)
    if x.shape == target:
        target = (2,) + target
    t = tracked(x, dtype)
    return t.expand(target), np.broadcast_to(x, target), [t]


def reshape_case(draw, dtype):
    x = draw(arrays(shapes(1, 4))).astype(dtype)
    target = draw(reshape_targets(x.shape))
    if np.empty(x.shape).reshape(target).shape == x.shape:
        target = x.shape + (1,)
    t = tracked(x, dtype)
    return t.reshape(target), x.reshape(target), [t]


def permute_case(draw, dtype):
    x = draw(arrays(shapes(1, 4))).astype(dtype)
    order = draw(st.permutations(range(x.ndim)))
    t = tracked(x, dtype)
    return t.permute(*order), np.transpose(x, order), [t]


def cat_case(draw, dtype):
    base = draw(shapes(1, 3))
    axis = draw(st.integers(-len(base), len(base) - 1))
    k = axis % len(base)
    parts = [draw(arrays(base[:k] + (n,) + base[k + 1:])).astype(dtype)
             for n in draw(st.lists(st.integers(1, 3), min_size=2, max_size=3))]
    tensors = [tracked(p, dtype) for p in parts]
    return ts.cat(tensors, axis=axis), np.concatenate(parts, axis=axis), tensors


def split_case(draw, dtype):
    x = draw(arrays(shapes(1, 3, min_side=2))).astype(dtype)
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    size = draw(st.integers(1, x.shape[axis] - 1))
    t = tracked(x, dtype)
    bounds = list(range(size, x.shape[axis], size))
    return t.split(size, axis=axis), tuple(np.split(x, bounds, axis=axis)), [t]


def cast_case(draw, dtype):
    x = draw(arrays(shapes())).astype(dtype)
    other = np.float64 if dtype == np.float32 else np.float32
    t = tracked(x, dtype)
    return t.to(other), x.astype(other), [t]


def getitem_case(draw, dtype):
    x = draw(arrays(shapes())).astype(dtype)
    index = draw(indices(x.shape))
    t = tracked(x, dtype)
    return t[index], x[index], [t]


def index_add_case(draw, dtype):
    shape = draw(st.sampled_from([(4, 3), (3, 16), (2, 4, 5)]))
    index = draw(row_indices(shape[0]) | indices(shape))
    v = draw(arrays(np.zeros(shape)[index].shape)).astype(dtype)
    want = np.zeros(shape, dtype)
    np.add.at(want, index, v)
    t = tracked(v, dtype)
    return IndexAdd.apply(t, shape=shape, index=index), want, [t]


def setitem_case(draw, dtype):
    x = draw(arrays(shapes(1, 4))).astype(dtype)
    index = draw(indices(x.shape, repeats=False))
    v = draw(arrays(broadcastable_to(x[index].shape))).astype(dtype)
    tx, tv = tracked(x, dtype), tracked(v, dtype)
    y = tx.clone()
    y[index] = tv
    want = x.copy()
    want[index] = v
    return y, want, [tx, tv]


def matmul_case(draw, dtype):
    m, k, n = (draw(st.integers(1, 3)) for _ in range(3))
    batch = draw(shapes(0, 2, max_side=3))
    a_shape = draw(st.sampled_from([(k,), draw(broadcastable_to(batch)) + (m, k)]))
    b_shape = draw(st.sampled_from([(k,), draw(broadcastable_to(batch)) + (k, n)]))
    a, b = draw(arrays(a_shape)).astype(dtype), draw(arrays(b_shape)).astype(dtype)
    ta, tb = tracked(a, dtype), tracked(b, dtype)
    return ta @ tb, np.matmul(a, b), [ta, tb]


def softmax_case(log):
    def case(draw, dtype):
        x = draw(arrays(shapes(1, 4))).astype(dtype)
        axis = draw(st.integers(-x.ndim, x.ndim - 1))
        t = tracked(x, dtype)
        if log:
            return F.log_softmax(t, axis=axis), x - np.log(np.exp(x).sum(axis, keepdims=True)), [t]
        return F.softmax(t, axis=axis), softmax_np(x, axis), [t]
    return case


def softmax_grad_case(log):
    def case(draw, dtype):
        shape = draw(shapes(1, 3))
        axis = draw(st.integers(0, len(shape) - 1))
        g = draw(arrays(shape)).astype(dtype)
        p = softmax_np(draw(arrays(shape)), axis).astype(dtype)
        tg = tracked(g, dtype)
        if log:
            ty = tracked(np.log(p), dtype)
            want = g - p * g.sum(axis, keepdims=True)
            return LogSoftmaxGrad.apply(tg, ty, axis=axis), want, [tg, ty]
        ty = tracked(p, dtype)
        want = p * (g - (g * p).sum(axis, keepdims=True))
        return SoftmaxGrad.apply(tg, ty, axis=axis), want, [tg, ty]
    return case


def dropout_case(draw, dtype):
    x = draw(arrays(shapes(), POSITIVE)).astype(dtype)
    p = draw(st.sampled_from([0.25, 0.5, 0.9]))
    t = tracked(x, dtype)
    ts.manual_seed(draw(st.integers(0, 99)))
    y = F.dropout(t, p)
    kept = y.numpy() != 0         # each kept element is scaled by 1 / (1 - p), the rest are 0
    return y, np.where(kept, x / dtype(1 - p), dtype(0)), [t]


def gelu_case(grad):
    def case(draw, dtype):
        x = draw(arrays(shapes(), st.floats(-7, 7))).astype(dtype)
        t = tracked(x, dtype)
        x64 = x.astype(np.float64)
        cdf = 0.5 * (1 + np.vectorize(math.erf, otypes=[np.float64])(x64 / math.sqrt(2)))
        if grad:
            want = cdf + x64 * np.exp(-x64 * x64 / 2) / math.sqrt(2 * math.pi)
            return GeluGrad.apply(t), want.astype(dtype), [t]
        return F.gelu(t), (x64 * cdf).astype(dtype), [t]
    return case


def layer_norm_case(draw, dtype):
    shape = draw(shapes(1, 3, min_side=2))
    n_axes = draw(st.integers(1, len(shape)))
    x = draw(arrays(shape)).astype(dtype)
    t = tracked(x, dtype)
    axes = tuple(range(x.ndim - n_axes, x.ndim))
    centred = x - x.mean(axis=axes, keepdims=True)
    r = 1 / np.sqrt((centred ** 2).mean(axis=axes, keepdims=True) + dtype(1e-5))
    return LayerNorm.apply(t, n_axes=n_axes, eps=1e-5), (centred * r, r), [t]


FORWARD = {
    Neg: unary(operator.neg, np.negative),
    Exp: unary(lambda t: t.exp(), np.exp),
    Log: unary(lambda t: t.log(), np.log, POSITIVE),
    Sqrt: unary(lambda t: t.sqrt(), np.sqrt, POSITIVE),
    Abs: unary(abs, np.abs),
    Tanh: unary(lambda t: t.tanh(), np.tanh),
    Sigmoid: unary(lambda t: t.sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    Relu: unary(lambda t: t.relu(), lambda x: np.maximum(x, 0)),
    Add: binary(operator.add, np.add),
    Sub: binary(operator.sub, np.subtract),
    Mul: binary(operator.mul, np.multiply),
    Div: binary(operator.truediv, np.divide, SMOOTH, NONZERO),
    Pow: binary(operator.pow, np.power, POSITIVE, SMOOTH),
    Maximum: binary(ts.maximum, np.maximum, grid(0), grid(0)),   # ties too
    Minimum: binary(ts.minimum, np.minimum, grid(0), grid(0)),
    PowScalar: pow_scalar_case,
    Clip: clip_case,
    Where: where_case,
    Sum: reduction(lambda t, a, k: t.sum(axis=a, keepdims=k), lambda x, a, k: np.sum(x, a, keepdims=k)),
    Max: reduction(lambda t, a, k: t.amax(dim=a, keepdim=k), lambda x, a, k: np.max(x, a, keepdims=k),
                   grid(0)),
    Min: reduction(lambda t, a, k: t.amin(axis=a, keepdims=k), lambda x, a, k: np.min(x, a, keepdims=k),
                   grid(0)),
    LogSumExp: reduction(lambda t, a, k: t.logsumexp(axis=a, keepdims=k), logsumexp_np),
    Var: var_case,
    Expand: expand_case,
    Reshape: reshape_case,
    Permute: permute_case,
    Cat: cat_case,
    Split: split_case,
    Cast: cast_case,
    GetItem: getitem_case,
    IndexAdd: index_add_case,
    SetItem: setitem_case,
    MatMul: matmul_case,
    Softmax: softmax_case(log=False),
    LogSoftmax: softmax_case(log=True),
    SoftmaxGrad: softmax_grad_case(log=False),
    LogSoftmaxGrad: softmax_grad_case(log=True),
    Dropout: dropout_case,
    Gelu: gelu_case(grad=False),
    GeluGrad: gelu_case(grad=True),
    LayerNorm: layer_norm_case,
    Embedding: embedding_case,
    **{cls: conv_forward_case(cls) for cls in (Conv1d, Conv1dInputGrad, Conv1dWeightGrad)},
    CTCLoss: ctc_forward_case,
    **{cls: rnn_forward_case(cls) for cls in (RNNSequence, GRUSequence, LSTMSequence)},
    **TORCH_NAMES_FORWARD_CASES,        # CumSum, CumProd, Erf, Softplus, Einsum, Sin, Cos, WriteView
    **MORE_TORCH_NAMES_FORWARD_CASES,   # Log1p, Rounding
}

TOLERANCE = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-12)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("primitive", list(FORWARD), ids=lambda c: c.__name__)
@settings(max_examples=15)
@given(data=st.data())
def test_forward_matches_numpy(primitive, dtype, data):
    with np.errstate(all="ignore"):          # var with correction >= n is nan in both
        got, want, inputs = FORWARD[primitive](data.draw, dtype)
    got, want = as_tuple(got), as_tuple(want)
    assert primitive in ops_in_graph(*got)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        w = np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, w.dtype, g.shape, w.shape)
        np.testing.assert_allclose(g.numpy(), w, **TOLERANCE[dtype])
    # every input gets a gradient of its own shape and dtype
    with np.errstate(all="ignore"):
        grads = ts.grad([g.sum() for g in got if g.requires_grad], inputs, allow_unused=True)
    for t, gr in zip(inputs, grads):
        if gr is not None:
            assert gr.dtype == t.dtype and gr.shape == t.shape


def test_every_primitive_has_a_forward_case():
    missing = [cls.__name__ for cls in PRIMITIVES if cls not in FORWARD]
    assert not missing, f"primitives without a forward test against NumPy: {missing}"


# ---------------------------------------------------------------- dtypes and promotion

def test_python_floats_make_float32_tensors():
    x = ts.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = (x @ x.T).tanh().sum()
    y.backward()
    assert x.dtype == y.dtype == x.grad.dtype == np.float32


def _setitem(a, b):
    y = a.clone()
    y[1:] = b[1:]
    return y


PROMOTING = {   # primitive: a function of two tensors of shape (3,)
    Add: operator.add, Sub: operator.sub, Mul: operator.mul, Div: operator.truediv,
    Pow: operator.pow, Maximum: ts.maximum, Minimum: ts.minimum,
    Where: lambda a, b: ts.where(np.array([True, False, True]), a, b),
    MatMul: lambda a, b: a @ b.reshape(3, 1),
    Cat: lambda a, b: ts.cat([a, b]),
    SetItem: _setitem,
}


@pytest.mark.parametrize("primitive", list(PROMOTING), ids=lambda c: c.__name__)
@pytest.mark.parametrize("first", ["float32", "float64"])
@given(a=arrays(st.just((3,)), POSITIVE), b=arrays(st.just((3,)), POSITIVE))
def test_mixed_float32_float64_promotes_as_numpy(primitive, first, a, b):
    dtypes = (np.float32, np.float64) if first == "float32" else (np.float64, np.float32)
    ta, tb = tracked(a, dtypes[0]), tracked(b, dtypes[1])
    out = PROMOTING[primitive](ta, tb)
    assert primitive in ops_in_graph(out)
    want_dtype = dtypes[0] if primitive is SetItem else np.float64   # assignment keeps x's dtype
    assert out.dtype == want_dtype
    # NumPy casts the float32 operand to float64, then computes in float64
    same = PROMOTING[primitive](*(tracked(t.numpy(), np.float64) for t in (ta, tb)))
    np.testing.assert_allclose(out.numpy(), same.numpy().astype(want_dtype), rtol=1e-12)
    out.sum().backward()
    assert ta.grad.dtype == dtypes[0] and tb.grad.dtype == dtypes[1]


SCALAR_OPS = {Add: np.add, Sub: np.subtract, Mul: np.multiply, Div: np.divide, Pow: np.power,
              Maximum: np.maximum, Minimum: np.minimum}


@pytest.mark.parametrize("primitive", list(SCALAR_OPS), ids=lambda c: c.__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@given(a=arrays(st.just((2, 3)), POSITIVE), s=st.floats(0.5, 2))
def test_python_scalars_keep_the_tensor_dtype(primitive, dtype, a, s):
    # NumPy's weak scalars: float32 op Python float stays float32, on either side
    fn, np_fn = PROMOTING[primitive], SCALAR_OPS[primitive]
    a = a.astype(dtype)
    t = tracked(a, dtype)
    right, left = fn(t, s), fn(s, t)
    right_primitive = PowScalar if primitive is Pow else primitive     # x ** 2.0: PowScalar
    for out, want, used in ((right, np_fn(a, s), right_primitive), (left, np_fn(s, a), primitive)):
        assert used in ops_in_graph(out)
        assert out.dtype == want.dtype == dtype
        np.testing.assert_allclose(out.numpy(), want, **TOLERANCE[dtype])
    (right + left).sum().backward()
    assert t.grad.dtype == dtype


@pytest.mark.parametrize("primitive", [Add, Sub, Mul, Div, MatMul], ids=lambda c: c.__name__)
def test_ndarray_on_the_left_gives_a_tensor(primitive):
    fn = {Add: operator.add, Sub: operator.sub, Mul: operator.mul, Div: operator.truediv,
          MatMul: operator.matmul}[primitive]
    a = np.arange(1.0, 5.0).reshape(2, 2)             # float64
    t = tracked([[1.0, 2.0], [3.0, 4.0]], np.float32)
    out = fn(a, t)
    assert isinstance(out, ts.Tensor) and out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), fn(a, t.numpy().astype(np.float64)), rtol=1e-6)
    out.sum().backward()
    assert t.grad.dtype == np.float32


def test_cast_gradient_returns_to_the_input_dtype():
    x = tracked([1.0, 2.0], np.float32)
    y = x.to(ts.float64) * 3.0
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


# ---------------------------------------------------------------- matmul and indexing forms

@pytest.mark.parametrize("a_shape, b_shape", [
    ((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4)),
    ((2, 1, 3, 4), (5, 4, 2)), ((3,), (2, 3, 2)), ((2, 2, 3), (3,)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_matmul_forms(a_shape, b_shape, dtype):
    gen = np.random.default_rng(1)
    a, b = gen.standard_normal(a_shape).astype(dtype), gen.standard_normal(b_shape).astype(dtype)
    ta, tb = tracked(a, dtype), tracked(b, dtype)
    out = ta @ tb
    want = np.matmul(a, b)
    assert out.shape == want.shape and out.dtype == want.dtype
    np.testing.assert_allclose(out.numpy(), want, **TOLERANCE[dtype])
    w = gen.standard_normal(want.shape).astype(dtype)
    (out * ts.tensor(w)).sum().backward()
    # sum(w * (a @ b)) is linear in a (and in b): its gradient entry i is the value at e_i
    for t, grad_of in ((ta, lambda e: np.sum(w * np.matmul(e, b))),
                       (tb, lambda e: np.sum(w * np.matmul(a, e)))):
        basis = np.eye(t.numel(), dtype=dtype).reshape((t.numel(),) + t.shape)
        want_grad = np.array([grad_of(e) for e in basis]).reshape(t.shape)
        assert t.grad.dtype == dtype
        np.testing.assert_allclose(t.grad.numpy(), want_grad, **TOLERANCE[dtype])


X_SHAPE = (4, 3, 2)
NAMED_INDICES = {
    "int": 1, "negative int": -1, "two ints": (2, -1),
    "slice with step": slice(None, None, 2), "negative step": (slice(None, None, -1), 1),
    "None and Ellipsis": (None, Ellipsis, 0), "trailing None": (Ellipsis, None),
    "int array with repeats": np.array([0, 0, 3, -1]), "list with repeats": [2, 2, 2],
    "2-D int array": np.array([[1, 1], [2, -4]]),
    "slice and array": (slice(1, 3), np.array([0, 0, 2])),
    "arrays on two axes": (np.array([0, 0, 1]), slice(None), np.array([1, 1, 0])),
    "bool mask": np.arange(24).reshape(X_SHAPE) % 3 == 0,
    "bool rows": np.array([True, False, True, True]),
    "int tensor": ts.tensor([3, 0, 3]),
}


@pytest.mark.parametrize("name", list(NAMED_INDICES))
def test_getitem_forms_and_scatter_add_gradient(name):
    index = NAMED_INDICES[name]
    np_index = index.numpy() if isinstance(index, ts.Tensor) else index
    x = np.random.default_rng(2).standard_normal(X_SHAPE)
    t = tracked(x, np.float64)
    out = t[index]
    np.testing.assert_array_equal(out.numpy(), x[np_index])
    w = np.random.default_rng(3).standard_normal(out.shape)
    (out * ts.tensor(w)).sum().backward()
    want = np.zeros(X_SHAPE)
    np.add.at(want, np_index, w)                 # repeated indices accumulate
    np.testing.assert_allclose(t.grad.numpy(), want, rtol=1e-12)


@given(n_rows=st.integers(1, 6), width=st.sampled_from([1, 3, 16, 40]), data=st.data())
def test_index_add_rows_equals_np_add_at(n_rows, width, data):
    # embedding-style gradients: width >= 16 takes the sort + reduceat path
    index = data.draw(row_indices(n_rows, max_len=8), label="index")
    values = data.draw(arrays(st.just(index.shape + (width,))), label="values")
    want = np.zeros((n_rows, width))
    np.add.at(want, index, values)
    got = IndexAdd.apply(tracked(values, np.float64), shape=(n_rows, width), index=index)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(backend.scatter_add_rows(n_rows, index, values), want,
                               rtol=1e-12, atol=1e-12)
    table = tracked(np.zeros((n_rows, width)), np.float64)
    (table[index] * ts.tensor(values)).sum().backward()      # an embedding lookup's backward
    np.testing.assert_allclose(table.grad.numpy(), want, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- extreme inputs

def test_sigmoid_is_stable_for_large_float32_inputs():
    x = tracked([1e4, -1e4, 100.0, -100.0, 0.0], np.float32)
    y = x.sigmoid()
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), [1, 0, 1, 0, 0.5], atol=1e-30)
    y.sum().backward()
    assert np.isfinite(x.grad.numpy()).all() and x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), [0, 0, 0, 0, 0.25], atol=1e-30)


def test_sigmoid_is_stable_for_huge_float64_inputs():
    x = tracked([1e300, -1e300], np.float64)
    y = x.sigmoid()
    y.sum().backward()
    np.testing.assert_array_equal(y.numpy(), [1.0, 0.0])
    assert np.isfinite(x.grad.numpy()).all()


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_the_sigmoid_kernel_in_place_on_a_slice_matches_the_whole_array(dtype):
    """backend.sigmoid(v, out=v) on gate slices (the fused LSTM/GRU steps): the same
    values as on the whole array, and nothing outside the slice touched. Rows of 4
    elements (an LSTM with hidden_size=1) give a 16-byte stride, where NumPy 2.4's
    float32 negative writes a strided out wrongly."""
    cases = [((4, 10), np.s_[:, 3:]), ((4, 10), np.s_[:, :2]), ((4, 10), np.s_[:, ::3]),
             ((4, 10), np.s_[1:, 7:]), ((6, 4), np.s_[:, 3:]), ((6, 4), np.s_[:, :2]),
             ((24,), np.s_[::4])]
    for shape, part in cases:
        a = (np.arange(np.prod(shape)).reshape(shape) / 4 - 3).astype(dtype)
        whole = backend.sigmoid(a)
        b = a.copy()
        backend.sigmoid(b[part], out=b[part])
        np.testing.assert_array_equal(b[part], whole[part])
        untouched = np.ones(shape, bool)
        untouched[part] = False
        np.testing.assert_array_equal(b[untouched], a[untouched])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_softmax_and_logsumexp_are_stable_for_large_inputs(dtype):
    x = np.array([[1000.0, 1000.0, 990.0], [-1000.0, -1001.0, -1000.0]], dtype)
    t = tracked(x, dtype)
    shifted = x - x.max(1, keepdims=True)
    np.testing.assert_allclose(t.softmax(1).numpy(), softmax_np(shifted, 1), rtol=1e-6)
    np.testing.assert_allclose(t.log_softmax(-1).numpy(), np.log(softmax_np(shifted, 1)), rtol=1e-5)
    np.testing.assert_allclose(t.logsumexp(1).numpy(),
                               x.max(1) + np.log(np.exp(shifted).sum(1)), rtol=1e-6)
    (t.softmax(1)[:, 0].sum() + t.logsumexp(1).sum() + t.log_softmax(1).sum()).backward()
    assert np.isfinite(t.grad.numpy()).all()


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_keeps_about_one_minus_p_and_repeats_with_the_seed(p):
    x = ts.ones(20000, dtype=ts.float64)
    ts.manual_seed(7)
    y = F.dropout(x, p).numpy()
    ts.manual_seed(7)
    np.testing.assert_array_equal(F.dropout(x, p).numpy(), y)
    assert set(np.unique(y)) <= {0.0, 1 / (1 - p)}
    assert abs((y != 0).mean() - (1 - p)) < 0.02
    assert F.dropout(x, 1.0).numpy().max() == 0 and F.dropout(x, 0.0) is x
