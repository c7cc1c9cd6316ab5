"""The Tensor API contract of DESIGN.md "API details": dtype rules and promotion,
NumPy interop, the axis=/dim= and keepdims=/keepdim= aliases, reductions and axis
permutations, factories, conversions, split/chunk/stack/cat/where, and seeding.

Where PyTorch has the same name its semantics win, so several expectations are
computed with torch."""
import numpy as np
import pytest
from torch_ref import needs_torch, torch

import tinygrad_seq as ts
import tinygrad_seq.functional as F


@pytest.fixture
def float64_default():
    ts.set_default_dtype(ts.float64)
    try:
        yield
    finally:
        ts.set_default_dtype(ts.float32)


# ---------------------------------------------------------------- dtypes

@pytest.mark.parametrize("data, dtype", [
    (1.0, ts.float32), ([1.0, 2.0], ts.float32), ([1, 2.5], ts.float32),
    (1, ts.int64), ([1, 2], ts.int64), (True, ts.bool), ([True, False], ts.bool),
    (np.array([1.0, 2.0]), ts.float64), (np.array([1.0], dtype=np.float32), ts.float32),
    (np.array([1, 2], dtype=np.int32), ts.int32), (np.float64(1.5), ts.float64),
])
def test_tensor_dtype_from_data(data, dtype):
    assert ts.tensor(data).dtype == dtype


def test_default_float32():
    assert ts.get_default_dtype() == ts.float32
    for t in (ts.zeros(2), ts.ones(2), ts.randn(2), ts.rand(2), ts.arange(0.0, 3.0),
              ts.full((2,), 1.5), ts.eye(2), ts.linspace(0, 1, 3), ts.tensor([0.5])):
        assert t.dtype == ts.float32


def test_set_default_dtype_float64_affects_floats_and_float_factories(float64_default):
    for t in (ts.tensor(1.0), ts.tensor([1.0, 2.0]), ts.zeros(2), ts.ones(2, 3), ts.randn(2),
              ts.rand(2), ts.arange(0.0, 3.0), ts.full((2,), 1.5), ts.eye(2),
              ts.linspace(0, 1, 3), ts.zeros_like(ts.tensor([1, 2])).to(ts.float64)):
        assert t.dtype == ts.float64
    assert ts.arange(3).dtype == ts.int64
    assert ts.tensor([1, 2]).dtype == ts.int64
    assert ts.tensor(np.array([1.0], dtype=np.float32)).dtype == ts.float32
    assert ts.zeros(2, dtype=ts.float32).dtype == ts.float32


def test_set_default_dtype_refuses_non_float():
    with pytest.raises(ts.DTypeError):
        ts.set_default_dtype(ts.int64)
    assert ts.get_default_dtype() == ts.float32


def test_arange_int_and_float():
    a = ts.arange(5)
    assert a.dtype == ts.int64 and a.tolist() == [0, 1, 2, 3, 4]
    assert ts.arange(2, 8, 2).tolist() == [2, 4, 6]
    b = ts.arange(0.0, 3.0)
    assert b.dtype == ts.float32 and b.tolist() == [0.0, 1.0, 2.0]
    assert ts.arange(0, 1, 0.25).dtype == ts.float32


def test_python_scalars_do_not_promote_tensors():
    x32 = ts.tensor([1.0, 2.0])
    assert (x32 * 2.0).dtype == ts.float32
    assert (x32 + 1).dtype == ts.float32
    assert (2.0 / x32).dtype == ts.float32
    assert (ts.tensor([1, 2]) * 3).dtype == ts.int64


def test_mixed_float_dtypes_promote_to_float64():
    x32 = ts.tensor([1.0, 2.0])
    x64 = ts.tensor(np.array([1.0, 2.0]))
    assert (x32 + x64).dtype == ts.float64
    assert (x64 * x32).dtype == ts.float64
    assert (x32 @ x64).dtype == ts.float64


def test_ndarray_on_the_left_gives_a_tracked_tensor():
    x = ts.tensor([1.0, 2.0], requires_grad=True, device="cpu")
    y = np.array([3.0, 4.0]) * x
    assert isinstance(y, ts.Tensor) and y.requires_grad
    z = np.ones(2) + x
    assert isinstance(z, ts.Tensor)
    np.testing.assert_allclose(z.numpy(), [2.0, 3.0])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])


@pytest.mark.parametrize("compare", [
    lambda a, b: a < b, lambda a, b: a <= b, lambda a, b: a > b,
    lambda a, b: a >= b, lambda a, b: a == b, lambda a, b: a != b,
], ids=["lt", "le", "gt", "ge", "eq", "ne"])
def test_comparisons_return_untracked_bool_tensors(compare):
    x = ts.tensor([1.0, 2.0, 3.0], requires_grad=True)
    other = np.array([2.0, 2.0, 2.0])
    for result, expected in ((compare(x, 2.0), compare(x.numpy(), 2.0)),
                             (compare(x, ts.tensor(other)), compare(x.numpy(), other)),
                             (compare(other, x), compare(other, x.numpy()))):
        assert isinstance(result, ts.Tensor)
        assert result.dtype == ts.bool
        assert not result.requires_grad and result.grad_fn is None
        np.testing.assert_array_equal(result.numpy(), expected)


@pytest.mark.parametrize("make", [
    lambda: ts.tensor([1, 2], requires_grad=True),
    lambda: ts.zeros(2, dtype=ts.int64, requires_grad=True),
    lambda: ts.tensor([True]).requires_grad_(),
], ids=["tensor-int", "zeros-int", "requires_grad_-bool"])
def test_requires_grad_on_a_non_float_tensor_raises_dtype_error(make):
    with pytest.raises(ts.DTypeError, match="float"):
        make()


@pytest.mark.parametrize("op", ["exp", "log", "sqrt", "tanh", "sigmoid", "softmax",
                                "log_softmax", "logsumexp", "neg", "var"])
def test_float_op_on_a_bool_tensor_raises_dtype_error(op):
    with pytest.raises(ts.DTypeError, match="bool"):
        getattr(ts.tensor([True, False]), op)()


def test_float_ops_on_integer_tensors_give_the_default_float_dtype():
    ints = ts.tensor([1, 2])
    for result in (ints.exp(), ints.sqrt(), ints.logsumexp(), ints.mean()):
        assert result.dtype == ts.float32


@pytest.mark.parametrize("index", [1.0, (0, 1.5), np.array([0.0]), [0.5, 1.0]],
                         ids=["float", "float-in-tuple", "float-array", "float-list"])
def test_float_index_raises_dtype_error(index):
    x = ts.tensor([[1.0, 2.0], [3.0, 4.0]], device="cpu")
    with pytest.raises(ts.DTypeError):
        x[index]


def test_float_tensor_index_raises_dtype_error():
    with pytest.raises(ts.DTypeError):
        ts.tensor([1.0, 2.0])[ts.tensor([0.0])]


# ---------------------------------------------------------------- axes

M = np.arange(12.0).reshape(3, 4) - 5.0


def _m():
    return ts.tensor(M)


@pytest.mark.parametrize("method", ["sum", "mean", "amax", "amin", "logsumexp", "var",
                                    "argmax", "argmin"])
def test_dim_is_an_alias_of_axis_and_keepdim_of_keepdims(method):
    x = _m()
    by_axis = getattr(x, method)(axis=1, keepdims=True)
    by_dim = getattr(x, method)(dim=1, keepdim=True)
    assert by_axis.shape == by_dim.shape == (3, 1)
    np.testing.assert_allclose(by_axis.numpy(), by_dim.numpy())
    assert getattr(x, method)(dim=0).shape == (4,)


@pytest.mark.parametrize("method", ["sum", "mean", "amax", "argmax"])
def test_axis_and_dim_disagreeing_raise_type_error(method):
    with pytest.raises(TypeError, match="axis.*dim"):
        getattr(_m(), method)(axis=0, dim=1)
    with pytest.raises(TypeError, match="keepdims.*keepdim"):
        getattr(_m(), method)(axis=0, keepdims=True, keepdim=False)
    assert getattr(_m(), method)(axis=1, dim=1).shape == (3,)


DIM_DEFAULT_CASES = {
    "split": lambda x: x.split(1, dim=1),
    "chunk": lambda x: x.chunk(2, dim=1),
    "ts.split": lambda x: ts.split(x, 1, dim=1),
    "ts.chunk": lambda x: ts.chunk(x, 2, dim=1),
    "softmax": lambda x: x.softmax(dim=0),
    "log_softmax": lambda x: x.log_softmax(dim=0),
    "cat": lambda x: ts.cat([x, x], dim=1),
    "stack": lambda x: ts.stack([x, x], dim=1),
}


@needs_torch
@pytest.mark.parametrize("name", list(DIM_DEFAULT_CASES)
                         + ["F.softmax", "F.log_softmax"])
def test_dim_alias_where_the_axis_has_a_default(name):
    x = _m()
    cases = dict(DIM_DEFAULT_CASES, **{"F.softmax": lambda t: F.softmax(t, dim=0),
                                       "F.log_softmax": lambda t: F.log_softmax(t, dim=0)})
    out = cases[name](x)
    xt = torch.tensor(M)
    expected = {
        "split": lambda: xt.split(1, dim=1), "ts.split": lambda: xt.split(1, dim=1),
        "chunk": lambda: xt.chunk(2, dim=1), "ts.chunk": lambda: xt.chunk(2, dim=1),
        "softmax": lambda: xt.softmax(dim=0), "F.softmax": lambda: xt.softmax(dim=0),
        "log_softmax": lambda: xt.log_softmax(dim=0),
        "F.log_softmax": lambda: xt.log_softmax(dim=0),
        "cat": lambda: torch.cat([xt, xt], dim=1), "stack": lambda: torch.stack([xt, xt], dim=1),
    }[name]()
    outs = out if isinstance(out, tuple) else (out,)
    refs = expected if isinstance(expected, tuple) else (expected,)
    assert len(outs) == len(refs)
    for a, b in zip(outs, refs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_amax_amin_return_values_and_argmax_argmin_int64_indices():
    x = _m()
    for name in ("amax", "amin"):
        values = getattr(x, name)(axis=1)
        assert isinstance(values, ts.Tensor)
        np.testing.assert_array_equal(values.numpy(), getattr(M, name[1:])(axis=1))
    for name in ("argmax", "argmin"):
        idx = getattr(x, name)(axis=0)
        assert idx.dtype == ts.int64 and not idx.requires_grad
        np.testing.assert_array_equal(idx.numpy(), getattr(M, name)(axis=0))
        assert getattr(x, name)().item() == getattr(M, name)()


def test_transpose_permute_T_and_mT():
    a = np.arange(24.0).reshape(2, 3, 4)
    x = ts.tensor(a)
    np.testing.assert_array_equal(x.transpose(0, 2).numpy(), np.swapaxes(a, 0, 2))
    np.testing.assert_array_equal(x.transpose(-1, 1).numpy(), np.swapaxes(a, 2, 1))
    np.testing.assert_array_equal(x.permute(2, 0, 1).numpy(), a.transpose(2, 0, 1))
    np.testing.assert_array_equal(x.permute((1, 2, 0)).numpy(), a.transpose(1, 2, 0))
    np.testing.assert_array_equal(x.T.numpy(), a.T)
    np.testing.assert_array_equal(x.mT.numpy(), np.swapaxes(a, -1, -2))


@needs_torch
def test_permutation_gradients_match_torch():
    a = np.random.default_rng(0).standard_normal((2, 3, 4))
    w = np.random.default_rng(1).standard_normal((4, 3, 2))
    x, xt = ts.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    ((x.T * ts.tensor(w)).sum() + (x.mT.permute(2, 1, 0) * x.transpose(0, 1).permute(1, 0, 2)
                                    .transpose(1, 2).permute(2, 1, 0)).sum()).backward()
    ((xt.permute(2, 1, 0) * torch.tensor(w)).sum()
     + (xt.mT.permute(2, 1, 0) * xt.transpose(0, 1).permute(1, 0, 2).transpose(1, 2)
        .permute(2, 1, 0)).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


# ---------------------------------------------------------------- factories

@pytest.mark.parametrize("factory", ["zeros", "ones", "empty", "rand", "randn"])
def test_factories_accept_varargs_or_a_tuple(factory):
    make = getattr(ts, factory)
    ts.manual_seed(3)
    a = make(2, 3)
    ts.manual_seed(3)
    b = make((2, 3))
    ts.manual_seed(3)
    c = make([2, 3])
    assert a.shape == b.shape == c.shape == (2, 3)
    if factory != "empty":
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_array_equal(a.numpy(), c.numpy())


def test_constant_factories_fill_values():
    np.testing.assert_array_equal(ts.zeros(2, 2).numpy(), np.zeros((2, 2)))
    np.testing.assert_array_equal(ts.ones(3).numpy(), np.ones(3))
    np.testing.assert_array_equal(ts.full((2,), 7).numpy(), [7, 7])
    assert ts.full((2,), 7).dtype == ts.int64
    np.testing.assert_array_equal(ts.eye(2).numpy(), np.eye(2))
    assert ts.zeros(2, requires_grad=True).requires_grad


def test_manual_seed_makes_random_draws_reproducible():
    def draws():
        return (ts.randn(4).numpy(), ts.rand(2, 2).numpy(), ts.randint(0, 100, (5,)).numpy(),
                F.dropout(ts.ones(16), p=0.5).numpy())

    ts.manual_seed(123)
    first = draws()
    ts.manual_seed(123)
    second = draws()
    ts.manual_seed(124)
    other = draws()
    for a, b, c in zip(first, second, other):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
    assert first[2].dtype == np.int64


# ---------------------------------------------------------------- conversions

def test_numpy_returns_a_copy_and_array_is_the_backend_array():
    x = ts.tensor([1.0, 2.0], device="cpu")
    host = x.numpy()
    host[0] = 99.0
    assert x.tolist() == [1.0, 2.0]
    assert isinstance(x.array, np.ndarray)
    x.array[1] = 5.0                     # .array is the array itself
    assert x.tolist() == [1.0, 5.0]


def test_item_tolist_len_and_their_errors():
    assert ts.tensor(2.5).item() == 2.5
    assert isinstance(ts.tensor([3]).item(), int)
    assert ts.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert len(ts.zeros(4, 2)) == 4
    with pytest.raises(TypeError):
        len(ts.tensor(1.0))
    with pytest.raises(ts.ShapeError):
        ts.tensor([1.0, 2.0]).item()


def test_repr_shows_grad_fn_and_requires_grad():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    assert "requires_grad=True" in repr(x)
    assert "grad_fn=<MulBackward>" in repr(x * 2)
    assert "grad_fn=<TanhBackward>" in repr(x.tanh())
    plain = repr(ts.tensor([1.0, 2.0]))
    assert "grad" not in plain and plain.startswith("tensor(")
    assert "float64" in repr(ts.tensor(np.array([1.0])))


# ---------------------------------------------------------------- split, chunk, stack, cat, where

@needs_torch
@pytest.mark.parametrize("n, arg", [(10, 3), (10, [2, 8]), (7, 7), (6, 1), (5, [1, 1, 3])])
def test_split_matches_torch(n, arg):
    ours = ts.arange(n).split(arg)
    ref = torch.arange(n).split(arg)
    assert [p.tolist() for p in ours] == [p.tolist() for p in ref]


@needs_torch
@pytest.mark.parametrize("n, chunks", [(7, 3), (6, 4), (5, 3), (10, 4), (3, 5), (8, 1)])
def test_chunk_matches_torch(n, chunks):
    ours = ts.arange(n).chunk(chunks)
    ref = torch.arange(n).chunk(chunks)
    assert [p.tolist() for p in ours] == [p.tolist() for p in ref]


def test_split_along_a_negative_axis_and_its_gradient():
    x = ts.tensor(M, requires_grad=True)
    left, right = x.split([1, 3], -1)
    assert left.shape == (3, 1) and right.shape == (3, 3)
    (left * 2 + right.sum(axis=1, keepdims=True)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[2.0, 1.0, 1.0, 1.0]] * 3)


def test_split_sizes_that_do_not_add_up_raise_shape_error():
    with pytest.raises(ts.ShapeError, match="split"):
        ts.zeros(5).split([2, 2])


def test_stack_and_cat_values_shapes_and_gradients():
    a = ts.tensor([1.0, 2.0], requires_grad=True)
    b = ts.tensor([3.0, 4.0], requires_grad=True)
    assert ts.stack([a, b]).shape == (2, 2)
    assert ts.stack([a, b], axis=1).shape == (2, 2)
    np.testing.assert_array_equal(ts.stack([a, b], axis=-1).numpy(), [[1, 3], [2, 4]])
    c = ts.cat([a, b])
    assert ts.concat is ts.cat and c.tolist() == [1.0, 2.0, 3.0, 4.0]
    (c * ts.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(b.grad.numpy(), [3.0, 4.0])
    with pytest.raises(ts.ShapeError, match="stack"):
        ts.stack([a, ts.zeros(3)])


def test_cat_accepts_an_ndarray_among_tensors():
    x = ts.tensor([1.0], device="cpu")
    assert ts.cat([x, np.array([2.0], dtype=np.float32)]).tolist() == [1.0, 2.0]


def test_where_with_a_numpy_bool_condition_and_its_gradients():
    cond = np.array([True, False, True])
    a = ts.tensor([1.0, 2.0, 3.0], requires_grad=True, device="cpu")
    b = ts.tensor([10.0, 20.0, 30.0], requires_grad=True, device="cpu")
    out = ts.where(cond, a, b)
    np.testing.assert_array_equal(out.numpy(), [1.0, 20.0, 3.0])
    (out * 2).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 0.0, 2.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.0, 2.0, 0.0])
    np.testing.assert_array_equal(ts.where(a > 1.5, a, 0.0).numpy(), [0.0, 2.0, 3.0])


def test_where_with_a_non_bool_condition_raises_dtype_error():
    with pytest.raises(ts.DTypeError, match="where"):
        ts.where(ts.tensor([1, 0]), ts.ones(2), ts.zeros(2))
