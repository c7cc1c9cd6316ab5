"""Embeddings: the Embedding primitive (gradient property test and forward case, both
registered in the primitive tables), F.embedding / nn.Embedding against NumPy and
PyTorch (dense and sparse gradients, padding_idx, errors), F.one_hot and
F.cosine_similarity. Row-sparse gradient objects themselves: test_sparse.py."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_seq as ts
import tinygrad_seq.functional as F
from tinygrad_seq import nn
from tinygrad_seq.ops.embedding import Embedding as EmbeddingOp

from branch_check import check_branches, check_reference_engine, sampled
from strategies import SMOOTH, arrays, ops_in_graph, shapes


# ---------------------------------------------------------------- the primitive

@st.composite
def lookups(draw):
    """A (V, D) table, integer indices of 0-3 dims in [0, V) and a padding_idx."""
    rows, dim = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    index_shape = draw(shapes(0, 3, max_side=3, max_size=6))
    idx = draw(hnp.arrays(np.int64, index_shape, elements=st.integers(0, rows - 1)))
    pad = draw(st.none() | st.integers(-rows, rows - 1))
    return draw(arrays((rows, dim), SMOOTH)), idx, pad


@given(case=lookups(), sparse=st.booleans(), scale=st.booleans())
def test_embedding_gradients(case, sparse, scale):
    """Gradient and gradient of the gradient against finite differences (float64),
    through ts.grad (which densifies a sparse gradient) and through backward().

    scale_grad_by_freq=True gives PyTorch's scaled gradient, which is not the
    derivative of the forward: its first gradient is checked against the formula
    (dy of each position divided by its index's count), and check_branches checks that
    the recorded backward (create_graph) gives the fast path's gradient and is
    differentiated correctly."""
    table, idx, pad = case
    w = ts.tensor(table, requires_grad=True)
    # the padding row gets no gradient on purpose: finite differences agree once the
    # outputs that read it are masked out (the backward() check below sees the zeros)
    keep = np.ones(idx.shape + (1,)) if pad is None else (idx != pad % table.shape[0])[..., None] * 1.0
    fn = lambda w: F.embedding(idx, w, padding_idx=pad, scale_grad_by_freq=scale,  # noqa: E731
                               sparse=sparse) * ts.tensor(1.5 * keep)
    assert EmbeddingOp in ops_in_graph(fn(w))
    if not scale:
        assert ts.gradcheck(fn, (w,))
    assert check_branches(fn, (w,))
    if sampled():
        assert check_reference_engine(fn, (w,))
    # backward(): padding rows get nothing, repeats add up (divided by their count)
    seed = np.random.default_rng(0).standard_normal(idx.shape + (table.shape[1],))
    counts = np.bincount(idx.reshape(-1), minlength=table.shape[0])
    want = np.zeros_like(table)
    np.add.at(want, idx, seed / counts[idx][..., None] if scale else seed)
    if pad is not None:
        want[pad % table.shape[0]] = 0
    F.embedding(idx, w, padding_idx=pad, scale_grad_by_freq=scale, sparse=sparse).backward(ts.tensor(seed))
    got = w.grad.to_dense().numpy() if sparse else w.grad.numpy()
    assert getattr(w.grad, "is_sparse", False) == sparse
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # the recorded backward (create_graph: dense, through IndexAdd) gives the same
    (g,) = ts.grad(F.embedding(idx, w, padding_idx=pad, scale_grad_by_freq=scale, sparse=sparse),
                   [w], ts.tensor(seed), create_graph=True)
    np.testing.assert_allclose(g.numpy(), want, rtol=1e-12, atol=1e-12)


def embedding_case(draw, dtype):
    """FORWARD table case: F.embedding against NumPy's row indexing."""
    table, idx, pad = draw(lookups())
    t = ts.tensor(table.astype(dtype), requires_grad=True)
    return F.embedding(idx, t, padding_idx=pad), table.astype(dtype)[idx], [t]


# ---------------------------------------------------------------- F.embedding / nn.Embedding

def _torch():
    return pytest.importorskip("torch")


def test_embedding_module_matches_torch_forward_and_gradients_dense_and_sparse():
    torch = _torch()
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 7, size=(3, 4))
    idx[0, :2] = 2                       # repeats and the padding row
    seed = rng.standard_normal((3, 4, 5)).astype(np.float32)
    for sparse in (False, True):
        for pad in (None, 2, -5):
            ts.manual_seed(0)
            e = nn.Embedding(7, 5, padding_idx=pad, sparse=sparse)
            te = torch.nn.Embedding(7, 5, padding_idx=pad, sparse=sparse)
            te.load_state_dict({"weight": torch.from_numpy(e.weight.numpy())})
            y, ty = e(ts.tensor(idx)), te(torch.from_numpy(idx))
            np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
            assert y.shape == (3, 4, 5) and y.dtype == ts.float32
            (y * ts.tensor(seed)).sum().backward()
            (ty * torch.from_numpy(seed)).sum().backward()
            got = e.weight.grad
            assert getattr(got, "is_sparse", False) == sparse == te.weight.grad.is_sparse
            dense = got.to_dense().numpy() if sparse else got.numpy()
            np.testing.assert_allclose(dense, te.weight.grad.to_dense().numpy(), rtol=1e-6, atol=1e-6)
            if sparse:      # the coalesced rows agree with torch's coalesce()
                c, tc = got.coalesce(), te.weight.grad.coalesce()
                np.testing.assert_array_equal(ts.backend.to_numpy(c.indices), tc.indices()[0].numpy())
                np.testing.assert_allclose(ts.backend.to_numpy(c.values), tc.values().numpy(),
                                           rtol=1e-6, atol=1e-6)


def test_embedding_init_is_standard_normal_with_the_padding_row_zeroed():
    ts.manual_seed(3)
    e = nn.Embedding(2000, 50, padding_idx=-1)
    w = e.weight.numpy()
    assert e.weight.shape == (2000, 50) and e.weight.dtype == ts.float32
    assert e.padding_idx == 1999 and np.all(w[1999] == 0)
    assert abs(w[:-1].mean()) < 0.01 and abs(w[:-1].std() - 1) < 0.01
    assert [n for n, _ in e.named_parameters()] == ["weight"]
    assert repr(e) == "Embedding(2000, 50, padding_idx=1999)"
    assert nn.Embedding(4, 3, dtype=ts.float64).weight.dtype == ts.float64


def test_padding_row_value_is_used_but_gets_no_gradient():
    e = nn.Embedding(4, 2, padding_idx=0)
    with ts.no_grad():
        e.weight[0] = ts.tensor([5.0, 6.0])
    y = e(ts.tensor([0, 1, 0]))
    np.testing.assert_array_equal(y.numpy()[0], [5.0, 6.0])
    (y * 2).sum().backward()
    np.testing.assert_array_equal(e.weight.grad.numpy()[0], [0, 0])
    np.testing.assert_array_equal(e.weight.grad.numpy()[1], [2, 2])


def test_from_pretrained_and_state_dict_round_trip_with_torch():
    torch = _torch()
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    e = nn.Embedding.from_pretrained(ts.tensor(table), padding_idx=1)
    assert not e.weight.requires_grad and np.array_equal(e.weight.numpy(), table)  # not zeroed
    e2 = nn.Embedding.from_pretrained(table, freeze=False, sparse=True)
    assert e2.weight.requires_grad and e2.sparse
    te = torch.nn.Embedding(4, 3)
    te.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in e.state_dict().items()})
    np.testing.assert_array_equal(te.weight.detach().numpy(), table)


def test_indices_of_every_form_and_shape():
    w = ts.tensor(np.arange(10.0).reshape(5, 2))
    assert F.embedding(3, w).tolist() == [6.0, 7.0]                      # a Python int: 0-d
    assert F.embedding([1, 4], w).shape == (2, 2)                         # a list
    assert F.embedding(np.array([[0], [4]], dtype=np.int32), w).shape == (2, 1, 2)
    assert F.embedding(ts.tensor(np.zeros((2, 0, 3), dtype=np.int64)), w).shape == (2, 0, 3, 2)
    assert F.embedding(ts.arange(5), w).numpy().sum() == 45.0


def test_errors_name_the_op_the_index_and_the_size():
    e = nn.Embedding(5, 2)
    with pytest.raises(ts.DTypeError, match="embedding: indices must be integers, got float32"):
        e(ts.tensor([1.0, 2.0]))
    with pytest.raises(ts.DTypeError, match="integers"):
        e([1.5])
    with pytest.raises(ts.DTypeError, match="bool"):
        e(np.array([True]))
    for bad, shown in ((5, "5"), (-1, "-1")):
        with pytest.raises(IndexError, match=f"embedding: index {shown} is out of range for a "
                                             "table of 5 rows"):
            e(ts.tensor([0, bad]))
        with pytest.raises(ts.ShapeError):
            e(ts.tensor([[bad]]))
    with pytest.raises(IndexError, match="padding_idx 5 is out of range for 5 embeddings"):
        nn.Embedding(5, 2, padding_idx=5)
    with pytest.raises(IndexError, match="padding_idx -6"):
        F.embedding([0], ts.zeros(5, 2), padding_idx=-6)
    with pytest.raises(ts.ShapeError, match="weight must be 2-D"):
        F.embedding([0], ts.zeros(5))


# ---------------------------------------------------------------- sparse gradients through the engine

def test_sparse_gradient_shape_dtype_and_the_create_graph_fallback():
    w = ts.tensor(np.ones((6, 3)), requires_grad=True)         # float64 table
    F.embedding([1, 1, 4], w, sparse=True).sum().backward()
    g = w.grad
    assert g.is_sparse and g.shape == (6, 3) and g.dtype == ts.float64 and g.device == w.device
    assert sorted(g.indices.tolist()) == [1, 1, 4] and g.values.shape == (3, 3)
    # sum's gradient is a read-only broadcast view, kept without a copy; scaling replaces it
    before = g.values
    g.mul_(2.0)
    assert g.values is not before and np.all(g.values == 2.0) and np.all(before == 1.0)
    # create_graph: a dense Tensor that can be differentiated again
    w.grad = None
    y = (F.embedding([1, 1, 4], w, sparse=True) ** 2).sum()
    (gw,) = ts.grad(y, [w], create_graph=True)
    assert isinstance(gw, ts.Tensor) and gw.requires_grad
    np.testing.assert_allclose(gw.numpy()[1], [4, 4, 4])
    y.backward(create_graph=True)
    assert isinstance(w.grad, ts.Tensor) and not getattr(w.grad, "is_sparse", False)


def test_sparse_gradients_accumulate_and_mix_with_dense_ones():
    w0 = np.random.default_rng(2).standard_normal((6, 3))
    w = ts.tensor(w0, requires_grad=True)
    F.embedding([0, 2], w, sparse=True).sum().backward()
    F.embedding([2, 5], w, sparse=True).sum().backward()           # sparse + sparse: sparse
    assert w.grad.is_sparse and w.grad.nnz == 4
    np.testing.assert_array_equal(w.grad.to_dense().numpy()[:, 0], [1, 0, 2, 0, 0, 1])
    (w * 3).sum().backward()                                          # sparse + dense: dense
    assert isinstance(w.grad, ts.Tensor)
    np.testing.assert_array_equal(w.grad.numpy()[:, 0], [4, 3, 5, 3, 3, 4])
    F.embedding([1], w, sparse=True).sum().backward()                # dense + sparse: dense
    np.testing.assert_array_equal(w.grad.numpy()[:, 0], [4, 4, 5, 3, 3, 4])
    # one backward, the table used both sparsely and densely (tied weights)
    w.grad = None
    (F.embedding([3, 3], w, sparse=True).sum() + (w * w).sum()).backward()
    want = 2 * w0
    want[3] += 2
    np.testing.assert_allclose(w.grad.numpy(), want)


def test_sparse_gradient_of_a_non_leaf_table_is_dense_and_hooks_see_the_sparse_one():
    base = ts.tensor(np.ones((4, 2)), requires_grad=True)
    F.embedding([1], base * 2, sparse=True).sum().backward()
    assert isinstance(base.grad, ts.Tensor)
    np.testing.assert_array_equal(base.grad.numpy()[1], [2, 2])
    w = ts.tensor(np.ones((4, 2)), requires_grad=True)
    seen = []
    w.register_hook(lambda g: seen.append(g.is_sparse))
    F.embedding([0, 3], w, sparse=True).sum().backward()
    assert seen == [True] and w.grad.is_sparse
    v = ts.tensor(np.ones((4, 2)), requires_grad=True)
    v.register_hook(lambda g: g.to_dense() * 10)        # a hook may hand back a dense one
    F.embedding([0], v, sparse=True).sum().backward()
    assert isinstance(v.grad, ts.Tensor) and v.grad.numpy()[0, 0] == 10


def test_sparse_values_do_not_alias_another_leafs_gradient():
    """x + emb gives both inputs the same upstream array: scaling one gradient in place
    (as clip_grad_norm_ does) must not change the other."""
    w = ts.tensor(np.ones((4, 2)), requires_grad=True)
    x = ts.tensor(np.zeros((3, 2)), requires_grad=True)
    (F.embedding([0, 1, 2], w, sparse=True) + x).backward(ts.tensor(np.ones((3, 2))))
    w.grad.mul_(0.5)
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((3, 2)))
    x.grad.data[...] = 7
    np.testing.assert_array_equal(ts.backend.to_numpy(w.grad.values), np.full((3, 2), 0.5))


# ---------------------------------------------------------------- one_hot

def test_one_hot_matches_torch_and_checks_its_input():
    torch = _torch()
    t = np.array([[0, 3], [2, 1]])
    got = F.one_hot(ts.tensor(t))
    want = torch.nn.functional.one_hot(torch.from_numpy(t))
    assert got.dtype == ts.int64 and got.shape == (2, 2, 4)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    np.testing.assert_array_equal(F.one_hot(ts.tensor([1]), num_classes=3).numpy(), [[0, 1, 0]])
    assert F.one_hot(ts.tensor(np.zeros(0, dtype=np.int64)), 5).shape == (0, 5)
    assert F.one_hot(ts.tensor(2), 3).tolist() == [0, 0, 1]
    with pytest.raises(IndexError, match="non-negative"):
        F.one_hot(ts.tensor([-1, 0]))
    with pytest.raises(IndexError, match="class value 3 is not smaller than num_classes 3"):
        F.one_hot(ts.tensor([3]), 3)
    with pytest.raises(ts.ShapeError, match="empty"):
        F.one_hot(ts.tensor(np.zeros(0, dtype=np.int64)))
    with pytest.raises(ts.DTypeError):
        F.one_hot(ts.tensor([1.0]))


# ---------------------------------------------------------------- cosine_similarity

def cosine_np(a, b, axis=-1, eps=1e-8):
    a, b = np.broadcast_arrays(a, b)
    na = np.maximum(np.linalg.norm(a, axis=axis, keepdims=True), eps)
    nb = np.maximum(np.linalg.norm(b, axis=axis, keepdims=True), eps)
    return ((a / na) * (b / nb)).sum(axis)


@pytest.mark.parametrize("s1, s2, axis", [((4, 3), (4, 3), -1), ((4, 3), (3,), -1),
                                          ((2, 1, 5), (3, 5), 2), ((3, 4), (3, 4), 0),
                                          ((5,), (5,), 0)])
def test_cosine_similarity_values_against_numpy_and_torch(s1, s2, axis):
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal(s1), rng.standard_normal(s2)
    got = F.cosine_similarity(ts.tensor(a), ts.tensor(b), axis=axis)
    np.testing.assert_allclose(got.numpy(), cosine_np(a, b, axis), rtol=1e-12)
    np.testing.assert_allclose(F.cosine_similarity(ts.tensor(a), ts.tensor(b), dim=axis).numpy(),
                               got.numpy())
    torch = _torch()
    want = torch.nn.functional.cosine_similarity(torch.from_numpy(a), torch.from_numpy(b), dim=axis)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-15)


def test_cosine_similarity_default_axis_is_last_and_float32_stays():
    a = ts.randn(2, 3, 4)
    assert F.cosine_similarity(a, a).shape == (2, 3)
    np.testing.assert_allclose(F.cosine_similarity(a, a).numpy(), 1, rtol=1e-6)
    assert F.cosine_similarity(a, a).dtype == ts.float32
    assert F.cosine_similarity(ts.tensor([[1, 0]]), ts.tensor([[1, 1]])).dtype == ts.float32


def test_cosine_similarity_gradients_match_torch_including_tiny_and_zero_vectors():
    """PyTorch 2.13 clamps each norm at eps outside autograd: below eps the gradient
    still flows through the norm, and a zero vector's norm has gradient 0."""
    torch = _torch()
    a = np.array([[1e-9, 2e-9, 0.0], [0, 0, 0], [1.0, 2, 3], [3, -1, 2]])
    b = np.array([[1.0, 0, 1], [1, 1, 1], [2.0, 0, 1], [1e-10, 0, 0]])
    x1, x2 = ts.tensor(a, requires_grad=True), ts.tensor(b, requires_grad=True)
    t1, t2 = (torch.tensor(v, requires_grad=True) for v in (a, b))
    w = np.array([1.0, -2.0, 0.5, 3.0])
    (F.cosine_similarity(x1, x2) * ts.tensor(w)).sum().backward()
    (torch.nn.functional.cosine_similarity(t1, t2, dim=-1) * torch.from_numpy(w)).sum().backward()
    np.testing.assert_allclose(x1.grad.numpy(), t1.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(x2.grad.numpy(), t2.grad.numpy(), rtol=1e-9, atol=1e-12)
    assert np.all(np.isfinite(x1.grad.numpy()))


@given(shape=shapes(1, 3, max_side=4, max_size=12), data=st.data())
def test_cosine_similarity_gradcheck(shape, data):
    a = data.draw(arrays(shape, st.floats(0.3, 2) | st.floats(-2, -0.3)))
    b = data.draw(arrays(shape, st.floats(0.3, 2) | st.floats(-2, -0.3)))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x1, x2 = ts.tensor(a, requires_grad=True), ts.tensor(b, requires_grad=True)
    fn = lambda x1, x2: F.cosine_similarity(x1, x2, axis=axis)  # noqa: E731
    assert ts.gradcheck(fn, (x1, x2))
    assert ts.gradgradcheck(fn, (x1, x2))


def test_cosine_similarity_errors():
    with pytest.raises(ts.ShapeError, match="cosine_similarity: shapes \\(2, 3\\) and \\(4,\\)"):
        F.cosine_similarity(ts.zeros(2, 3), ts.zeros(4))
    with pytest.raises(ts.ShapeError, match="axis 2"):
        F.cosine_similarity(ts.zeros(2, 3), ts.zeros(2, 3), axis=2)
    with pytest.raises(TypeError, match="x1 must be a Tensor or an array"):
        F.cosine_similarity(object(), ts.zeros(3))
    assert F.cosine_similarity(np.ones(3), ts.ones(3)).item() == pytest.approx(1.0)


def test_sparse_gradient_is_dense_under_detect_anomaly():
    w = ts.tensor(np.ones((4, 2)), requires_grad=True)
    with ts.detect_anomaly():
        F.embedding([1, 1], w, sparse=True).sum().backward()
    assert isinstance(w.grad, ts.Tensor)
    np.testing.assert_array_equal(w.grad.numpy()[1], [2, 2])


def test_sparse_values_do_not_alias_a_retained_output_gradient():
    w = ts.tensor(np.ones((4, 2)), requires_grad=True)
    y = F.embedding([0, 1], w, sparse=True)
    y.retain_grad()
    (y * 2).sum().backward()
    w.grad.mul_(0.0)
    np.testing.assert_array_equal(y.grad.numpy(), np.full((2, 2), 2.0))


def test_sparse_values_share_nothing_with_a_gradient_broadcast_from_another_leaf():
    """sum over the embedding dim broadcasts dy of s back: that array is also x's
    gradient, so the sparse values must not be a view of it."""
    w = ts.tensor(np.ones((4, 2)), requires_grad=True)
    x = ts.tensor(np.zeros(3), requires_grad=True)
    ((F.embedding([0, 1, 2], w, sparse=True).sum(axis=1) + x) * 2).sum().backward()
    x.grad.data[...] = 5
    np.testing.assert_array_equal(w.grad.to_dense().numpy()[:3], np.full((3, 2), 2.0))
    w.grad.mul_(0.5)
    np.testing.assert_array_equal(x.grad.numpy(), [5, 5, 5])
