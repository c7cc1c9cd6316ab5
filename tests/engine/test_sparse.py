"""RowSparseGrad: construction checks, coalesce / to_dense against NumPy's add.at and
PyTorch's sparse COO tensors, arithmetic (sparse + sparse stays sparse, sparse + dense
is dense), in-place scaling and zeroing. How the engine produces them:
test_nn_embedding.py; how optimizers consume them: test_optim.py."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_seq as ts
from tinygrad_seq.sparse import RowSparseGrad


@st.composite
def row_sparse(draw, dtype=np.float64):
    rows, width = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    n = draw(st.integers(0, 10))
    idx = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, rows - 1)))
    values = draw(hnp.arrays(dtype, (n, width), elements=st.floats(-3, 3, width=32)))
    return RowSparseGrad(idx, values, (rows, width)), idx, values


def dense(idx, values, shape):
    out = np.zeros(shape, values.dtype)
    np.add.at(out, idx, values)
    return out


@given(case=row_sparse())
def test_coalesce_sorts_sums_repeats_and_keeps_the_dense_value(case):
    g, idx, values = case
    c = g.coalesce()
    assert c.is_coalesced() and c.coalesce() is c
    assert list(c.indices) == sorted(set(idx.tolist()))
    np.testing.assert_allclose(c.to_dense().numpy(), dense(idx, values, g.shape), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g.to_dense().numpy(), dense(idx, values, g.shape), rtol=1e-12, atol=1e-12)
    assert isinstance(g.to_dense(), ts.Tensor) and g.to_dense().dtype == ts.float64


def test_coalesce_matches_torch_and_sums_in_stored_order():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 50, size=400)
    values = rng.standard_normal((400, 7)).astype(np.float32)
    c = RowSparseGrad(idx, values, (50, 7)).coalesce()
    t = torch.sparse_coo_tensor(torch.from_numpy(idx)[None], torch.from_numpy(values), (50, 7),
                                check_invariants=True).coalesce()
    np.testing.assert_array_equal(c.indices, t.indices()[0].numpy())
    np.testing.assert_allclose(c.values, t.values().numpy(), rtol=1e-6, atol=1e-6)
    assert c.indices.dtype == np.int64 and c.values.dtype == np.float32
    # repeats are added in the order stored (deterministic)
    r = RowSparseGrad(np.array([2, 0, 2, 2]), np.array([[1.0], [5.0], [1e16], [-1e16]]), (3, 1))
    assert r.coalesce().values.tolist() == [[5.0], [0.0]]


def test_metadata_and_repr():
    g = RowSparseGrad(np.array([3, 1]), np.ones((2, 4), np.float32), (5, 4))
    assert g.is_sparse and g.shape == (5, 4) and g.dtype == ts.float32 and g.device == "cpu"
    assert g.nnz == 2 and g.ndim == 2 and not g.is_coalesced()
    assert repr(g) == "RowSparseGrad(shape=(5, 4), rows=2, dtype=float32, device='cpu', coalesced=False)"
    assert not getattr(ts.zeros(2), "is_sparse", False)
    np.testing.assert_array_equal(g.numpy()[[1, 3]], np.ones((2, 4)))
    empty = RowSparseGrad(np.zeros(0, np.int64), np.zeros((0, 4)), (5, 4))
    assert empty.coalesce().nnz == 0 and not empty.to_dense().numpy().any()
    # rows of more than one dimension
    g3 = RowSparseGrad(np.array([1, 1]), np.ones((2, 2, 3)), (4, 2, 3))
    np.testing.assert_array_equal(g3.coalesce().values, np.full((1, 2, 3), 2.0))
    np.testing.assert_array_equal(g3.to_dense().numpy()[1], np.full((2, 3), 2.0))


def test_construction_errors_name_what_was_wrong():
    with pytest.raises(ts.DTypeError, match="1-D integer"):
        RowSparseGrad(np.array([1.0]), np.ones((1, 2)), (3, 2))
    with pytest.raises(ts.DTypeError, match="1-D integer"):
        RowSparseGrad(np.array([[1]]), np.ones((1, 2)), (3, 2))
    with pytest.raises(ts.ShapeError, match="values of shape \\(2, 2\\) do not fit 1 indices"):
        RowSparseGrad(np.array([1]), np.ones((2, 2)), (3, 2))
    with pytest.raises(ts.ShapeError, match="do not fit"):
        RowSparseGrad(np.array([1]), np.ones((1, 3)), (3, 2))


@given(a=row_sparse(), data=st.data())
def test_addition_sparse_and_dense(a, data):
    g, idx, values = a
    other_idx = data.draw(hnp.arrays(np.int64, (3,), elements=st.integers(0, g.shape[0] - 1)))
    h = RowSparseGrad(other_idx, np.ones((3, g.shape[1])), g.shape)
    want = dense(idx, values, g.shape) + dense(other_idx, np.ones((3, g.shape[1])), g.shape)
    s = g + h                                     # sparse + sparse: rows concatenated
    assert s.is_sparse and s.nnz == g.nnz + 3
    np.testing.assert_allclose(s.to_dense().numpy(), want, rtol=1e-12, atol=1e-12)
    base = np.arange(g.shape[0] * g.shape[1], dtype=np.float64).reshape(g.shape)
    for result in (g + ts.tensor(base), g.__radd__(ts.tensor(base))):   # (the engine's .grad case)
        assert isinstance(result, ts.Tensor)
        np.testing.assert_allclose(result.numpy(), base + dense(idx, values, g.shape), rtol=1e-12)
    for result in (g + base, base + g):           # arrays stay arrays (the engine's case)
        assert isinstance(result, np.ndarray)
        np.testing.assert_allclose(result, base + dense(idx, values, g.shape), rtol=1e-12)
    assert not np.any(base != np.arange(base.size).reshape(g.shape))      # not modified


def test_addition_errors_and_dtype_promotion():
    g = RowSparseGrad(np.array([0]), np.ones((1, 2), np.float32), (3, 2))
    with pytest.raises(ts.ShapeError, match="shapes \\(3, 2\\) and \\(4, 2\\)"):
        g + RowSparseGrad(np.array([0]), np.ones((1, 2)), (4, 2))
    with pytest.raises(ts.ShapeError, match="dense gradient of shape \\(2, 2\\)"):
        g + np.zeros((2, 2))
    assert (g + np.zeros((3, 2), np.float32)).dtype == np.float32
    assert (g + np.zeros((3, 2), np.float64)).dtype == np.float64
    assert (g + RowSparseGrad(np.array([1]), np.ones((1, 2)), (3, 2))).dtype == np.float64


def test_scaling_negation_zeroing_and_add_to():
    g = RowSparseGrad(np.array([1, 1, 2]), np.ones((3, 2)), (4, 2))
    np.testing.assert_array_equal((2 * g).to_dense().numpy()[1], [4, 4])
    np.testing.assert_array_equal((g * 0.5).values, np.full((3, 2), 0.5))
    np.testing.assert_array_equal((-g).to_dense().numpy()[2], [-1, -1])
    target = np.zeros((4, 2))
    g.add_to_(target, alpha=-0.1)              # repeats add up
    np.testing.assert_allclose(target[:, 0], [0, -0.2, -0.1, 0])
    c = g.clone()
    g.mul_(3.0)
    np.testing.assert_array_equal(g.values, np.full((3, 2), 3.0))
    np.testing.assert_array_equal(c.values, np.ones((3, 2)))
    g.zero_()
    assert g.nnz == 0 and g.is_coalesced() and not g.to_dense().numpy().any()


@given(case=row_sparse(), chunk_rows=st.integers(1, 4), alpha=st.sampled_from([1.0, -0.1, 2.5]),
       coalesced=st.booleans(), table_dtype=st.sampled_from([np.float64, np.float32]))
def test_add_to_equals_add_at_for_any_chunking_and_repeats(case, chunk_rows, alpha, coalesced, table_dtype):
    """The chunked update (repeats within and across chunks, float64 values into a
    float32 table) gives what np.add.at gives."""
    from tinygrad_seq.backend import row_sparse as sparse_module   # the kernel: add_scaled_rows
    g, idx, values = case
    if coalesced:
        g = g.coalesce()
    table = np.random.default_rng(7).standard_normal(g.shape).astype(table_dtype)
    want = table.astype(np.float64)
    np.add.at(want, idx, alpha * values)
    saved = sparse_module._CHUNK
    sparse_module._CHUNK = chunk_rows * g.shape[1] * table.itemsize
    try:
        out = g.add_to_(table, alpha=alpha)
    finally:
        sparse_module._CHUNK = saved
    assert out is table and table.dtype == table_dtype
    np.testing.assert_allclose(table, want, rtol=1e-6 if table_dtype == np.float32 else 1e-12, atol=1e-6)


def test_add_to_writes_through_views_of_any_layout():
    g = RowSparseGrad(np.array([0, 2, 0]), np.arange(6.0).reshape(3, 2), (3, 2))
    base = np.zeros((2, 3))
    g.add_to_(base.T, alpha=2.0)                  # a transposed (non-contiguous) 2-D view
    np.testing.assert_array_equal(base.T, [[8, 12], [0, 0], [4, 6]])
    g3 = RowSparseGrad(np.array([1, 1]), np.ones((2, 2, 2)), (3, 2, 2))
    big = np.zeros((2, 2, 3)).transpose(2, 0, 1)  # (3, 2, 2), not contiguous
    g3.add_to_(big)
    np.testing.assert_array_equal(big[1], np.full((2, 2), 2.0))
    assert not big[0].any() and not big[2].any()


def test_broadcast_views_count_as_read_only_on_both_backends():
    """mul_ must not scale a broadcast view in place: NumPy flags it read-only; a CuPy
    array has no such flag, so a zero stride over a long axis is what tells."""
    assert not ts.backend.writeable(np.broadcast_to(np.ones(3), (4, 3)))
    assert ts.backend.writeable(np.ones((4, 3)))

    class FlaglessFlags:            # CuPy's flags: c_contiguous and friends, no writeable
        c_contiguous = False

    class CupyLike:
        flags = FlaglessFlags()

        def __init__(self, shape, strides):
            self.shape, self.strides = shape, strides

    assert not ts.backend.writeable(CupyLike((4, 3), (0, 8)))
    assert ts.backend.writeable(CupyLike((1, 3), (0, 8)))       # a length-1 axis shares nothing
    assert ts.backend.writeable(CupyLike((4, 3), (24, 8)))
