"""nn.Embedding / F.embedding's max_norm, norm_type and scale_grad_by_freq against
torch.nn.Embedding (PyTorch 2.13) with the same initial weights: the in-place
renormalisation of looked-up rows (weight after forward, outputs, gradients), the
version counter it bumps and what that means for backward, the gradient scaled by
index frequency (dense and row-sparse), argument errors, repr and from_pretrained.
The Embedding primitive's own property test (scale_grad_by_freq included) lives in
test_nn_embedding.py."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_seq as ts
import tinygrad_seq.functional as F
from tinygrad_seq import nn

NORM_TYPES = [2.0, 1.0, 3.0, 0.5, math.inf, -math.inf, 0.0, -1.0]


def _torch():
    return pytest.importorskip("torch")


def _p_norms(table, p):
    a = np.abs(table.astype(np.float64))
    if p == math.inf:
        return a.max(1)
    if p == -math.inf:
        return a.min(1)
    if p == 0:
        return (a != 0).sum(1).astype(np.float64)
    with np.errstate(divide="ignore"):
        return (a ** p).sum(1) ** (1 / p)


def _table(p, dtype, rng, rows=9, dim=4):
    """A table whose rows are far over max_norm (even rows) or far under it (odd rows),
    so that no row sits on the threshold; returns (table, max_norm)."""
    if p == 0:          # the "norm" counts non-zeros: 4 (over 2.5) or 2 (under)
        table = rng.uniform(0.5, 2, (rows, dim)) * rng.choice([-1, 1], (rows, dim))
        table[1::2, :2] = 0
        return table.astype(dtype), 2.5
    max_norm = 1.5
    table = rng.uniform(0.3, 2, (rows, dim)) * rng.choice([-1, 1], (rows, dim))
    target = np.where(np.arange(rows) % 2 == 0, 3.0, 0.4) * max_norm
    table *= (target / _p_norms(table, p))[:, None]
    return table.astype(dtype), max_norm


def _tol(dtype):
    return dict(rtol=2e-6, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- max_norm against torch

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", NORM_TYPES)
def test_max_norm_matches_torch_weight_outputs_and_gradients(p, dtype, device):
    torch = _torch()
    rng = np.random.default_rng(0)
    table, max_norm = _table(p, dtype, rng)
    batches = [np.array([[0, 1, 2, 2], [2, 3, 4, 0]]),      # repeats; rows 5-8 never read
               np.array([0, 5, 6, 5, 2])]                  # renormed rows come again
    e = nn.Embedding.from_pretrained(ts.tensor(table, device=device), freeze=False,
                                     max_norm=max_norm, norm_type=p)
    te = torch.nn.Embedding.from_pretrained(torch.from_numpy(table.copy()), freeze=False,
                                            max_norm=max_norm, norm_type=p)
    seen = set()
    for idx in batches:
        before = e.weight.numpy().copy()
        y, ty = e(ts.tensor(idx, device=device)), te(torch.from_numpy(idx))
        after = e.weight.numpy()
        np.testing.assert_allclose(after, te.weight.detach().numpy(), **_tol(dtype))
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **_tol(dtype))
        np.testing.assert_array_equal(y.numpy(), after[idx])          # looked up after renorm
        read = np.unique(idx)
        unread = np.setdiff1d(np.arange(len(table)), read)
        np.testing.assert_array_equal(after[unread], before[unread])  # untouched, bit for bit
        under = read[_p_norms(before[read], p) <= max_norm]
        over = read[_p_norms(before[read], p) > max_norm]
        np.testing.assert_array_equal(after[under], before[under])
        # a renormed row is under max_norm afterwards, except for the count of non-zeros
        # (p = 0), which scaling cannot lower: torch rescales those rows at every lookup
        assert set(over) == {r for r in read if r % 2 == 0 and (p == 0 or r not in seen)}
        if p != 0:      # renormed once even when repeated: norm max_norm, same direction
            np.testing.assert_allclose(_p_norms(after[over], p), max_norm, rtol=1e-5)
            ratio = after[over] / before[over]
            np.testing.assert_allclose(ratio, ratio[:, :1] * np.ones_like(ratio), rtol=1e-5)
        seen |= set(over)
        seed = rng.standard_normal(y.shape).astype(dtype)
        (y * ts.tensor(seed, device=device)).sum().backward()
        (ty * torch.from_numpy(seed)).sum().backward()
        np.testing.assert_allclose(e.weight.grad.numpy(), te.weight.grad.numpy(), **_tol(dtype))
    assert e.weight.is_leaf and e.weight.grad_fn is None and e.weight.requires_grad


def test_max_norm_with_padding_idx_and_sparse_gradients_matches_torch(device):
    """The padding row is renormalised too when looked up (PyTorch does not skip it),
    and still gets no gradient."""
    torch = _torch()
    table, max_norm = _table(2.0, np.float32, np.random.default_rng(1))
    idx = np.array([0, 2, 2, 7, 4])
    e = nn.Embedding.from_pretrained(ts.tensor(table, device=device), freeze=False,
                                     padding_idx=2, max_norm=max_norm, sparse=True)
    te = torch.nn.Embedding.from_pretrained(torch.from_numpy(table.copy()), freeze=False,
                                            padding_idx=2, max_norm=max_norm, sparse=True)
    e(ts.tensor(idx, device=device)).sum().backward()
    te(torch.from_numpy(idx)).sum().backward()
    np.testing.assert_allclose(e.weight.numpy(), te.weight.detach().numpy(), rtol=2e-6, atol=2e-6)
    assert np.linalg.norm(e.weight.numpy()[2]) == pytest.approx(max_norm, rel=1e-5)
    assert e.weight.grad.is_sparse
    np.testing.assert_array_equal(e.weight.grad.to_dense().numpy(), te.weight.grad.to_dense().numpy())


def test_max_norm_renormalises_under_no_grad_and_in_the_functional_form(device):
    torch = _torch()
    table = np.array([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]])
    w = ts.tensor(table, device=device)                         # no requires_grad
    with ts.no_grad():
        y = F.embedding(ts.tensor([0, 1, 0], device=device), w, max_norm=1.0)
    tw = torch.from_numpy(table.copy())
    ty = torch.nn.functional.embedding(torch.tensor([0, 1, 0]), tw, max_norm=1.0)
    np.testing.assert_allclose(w.numpy(), tw.numpy(), rtol=1e-15)
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-15)
    np.testing.assert_allclose(w.numpy()[0], [3 / (5 + 1e-7), 4 / (5 + 1e-7)], rtol=1e-15)
    np.testing.assert_array_equal(w.numpy()[1:], table[1:])
    # positional arguments in torch's order: padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse
    F.embedding([2], w, None, 2.0, 1.0, False, False)
    np.testing.assert_allclose(np.abs(w.numpy()[2]).sum(), 2.0, rtol=1e-7)
    # a view of a larger table: the rows are renormalised in the base's memory
    base = ts.tensor(np.tile(table, (2, 1)), device=device)
    F.embedding([2], base[3:], max_norm=1.0)
    np.testing.assert_allclose(np.linalg.norm(base.numpy()[5]), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(base.numpy()[:5], np.tile(table, (2, 1))[:5])


@given(data=st.data())
def test_max_norm_properties(data):
    """For any table, indices, norm_type and max_norm (float64): every looked-up row
    ends with norm <= max_norm (up to rounding), a looked-up row that was over it is
    the same row scaled down to norm max_norm / (1 + 1e-7 / norm), the other rows are
    unchanged bit for bit, and the output is the new table's rows."""
    rows, dim = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 5))
    table = data.draw(hnp.arrays(np.float64, (rows, dim), elements=st.floats(-4, 4)))
    idx = data.draw(hnp.arrays(np.int64, data.draw(st.sampled_from([(0,), (3,), (2, 3), (5,)])),
                               elements=st.integers(0, rows - 1)))
    p = data.draw(st.sampled_from([1.0, 2.0, 3.0, math.inf]))
    max_norm = data.draw(st.floats(0.1, 5))
    w = ts.tensor(table)
    y = F.embedding(idx, w, max_norm=max_norm, norm_type=p)
    after, norms = w.numpy(), _p_norms(table, p)
    np.testing.assert_array_equal(y.numpy(), after[idx])
    changed = np.zeros(rows, dtype=bool)
    changed[np.unique(idx)] = True
    changed &= norms > max_norm
    np.testing.assert_array_equal(after[~changed], table[~changed])
    scale = max_norm / (norms[changed] + 1e-7)
    np.testing.assert_allclose(after[changed], table[changed] * scale[:, None], rtol=1e-15, atol=0)
    assert np.all(_p_norms(after[np.unique(idx)], p) <= max_norm * (1 + 1e-12))


# ---------------------------------------------------------------- the version counter

def test_max_norm_bumps_the_version_even_when_no_row_changes_as_torch_does():
    torch = _torch()
    w = ts.tensor(np.ones((3, 2)), requires_grad=True)
    tw = torch.ones(3, 2, requires_grad=True)
    for max_norm in (100.0, 0.5):
        F.embedding([1, 1], w, max_norm=max_norm)
        torch.nn.functional.embedding(torch.tensor([1, 1]), tw, max_norm=max_norm)
    assert w._version[0] == tw._version == 2
    F.embedding([1], w)                          # no max_norm: no write, no bump
    assert w._version[0] == 2


def test_renormalising_the_weight_does_not_invalidate_the_embedding_node():
    """Embedding's backward reads only the indices and the weight's shape, so the
    table may be renormalised again by a later lookup in the same graph (as torch)."""
    torch = _torch()
    table = np.array([[3.0, 4.0], [6.0, 8.0], [0.1, 0.2]])
    w = ts.tensor(table, requires_grad=True)
    tw = torch.tensor(table, requires_grad=True)
    y = F.embedding([0, 2], w, max_norm=1.0).sum() + F.embedding([0, 1], w, max_norm=0.5).sum() * 2
    ty = (torch.nn.functional.embedding(torch.tensor([0, 2]), tw, max_norm=1.0).sum()
          + torch.nn.functional.embedding(torch.tensor([0, 1]), tw, max_norm=0.5).sum() * 2)
    np.testing.assert_allclose(y.item(), ty.item(), rtol=1e-14)
    y.backward()
    ty.backward()
    np.testing.assert_array_equal(w.grad.numpy(), tw.grad.numpy())
    np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=1e-15)
    # a non-leaf table made by an op that saves only its inputs: fine, the gradient
    # flows to the leaf as if the renormalisation had not happened (it is not tracked)
    v = ts.tensor(table, requires_grad=True)
    tv = torch.tensor(table, requires_grad=True)
    F.embedding([1, 1], v * 2, max_norm=1.0).sum().backward()
    torch.nn.functional.embedding(torch.tensor([1, 1]), tv * 2, max_norm=1.0).sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), tv.grad.numpy())
    assert v.grad.numpy()[1].tolist() == [4.0, 4.0]


def test_renormalising_a_tensor_that_another_node_saved_raises_at_backward_as_torch():
    torch = _torch()
    table = np.array([[3.0, 4.0], [0.3, 0.4]])
    # mul saved the leaf's value: its backward would use the renormalised one
    w, tw = ts.tensor(table, requires_grad=True), torch.tensor(table, requires_grad=True)
    loss = (w * w).sum() + F.embedding([0], w, max_norm=1.0).sum()
    tloss = (tw * tw).sum() + torch.nn.functional.embedding(torch.tensor([0]), tw, max_norm=1.0).sum()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        tloss.backward()
    with pytest.raises(ts.AutogradError, match="MulBackward.*in-place"):
        loss.backward()
    # exp saved its output, which is then the table: same
    w, tw = ts.tensor(table, requires_grad=True), torch.tensor(table, requires_grad=True)
    e, te = w.exp(), tw.exp()
    loss = F.embedding([0], e, max_norm=1.0).sum()
    tloss = torch.nn.functional.embedding(torch.tensor([0]), te, max_norm=1.0).sum()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        tloss.backward()
    with pytest.raises(ts.AutogradError, match="ExpBackward.*in-place"):
        loss.backward()
    # even when no row is over max_norm (the counter moves regardless, as in torch)
    w = ts.tensor(table, requires_grad=True)
    loss = (w * w).sum() + F.embedding([1], w, max_norm=100.0).sum()
    with pytest.raises(ts.AutogradError, match="MulBackward"):
        loss.backward()


# ---------------------------------------------------------------- scale_grad_by_freq

@pytest.mark.parametrize("pad", [None, 2, -1])
@pytest.mark.parametrize("sparse", [False, True])
def test_scale_grad_by_freq_matches_torch(sparse, pad, device):
    """PyTorch 2.13 computes only the dense version (with sparse=True its backward
    raises "scale_grad_by_freq not supported with sparse gradients"): the row-sparse
    gradient here is compared, densified, with torch's dense one."""
    torch = _torch()
    rng = np.random.default_rng(2)
    table = rng.standard_normal((7, 5)).astype(np.float32)
    e = nn.Embedding.from_pretrained(ts.tensor(table, device=device), freeze=False, padding_idx=pad,
                                     scale_grad_by_freq=True, sparse=sparse)
    te = torch.nn.Embedding.from_pretrained(torch.from_numpy(table.copy()), freeze=False,
                                            padding_idx=pad, scale_grad_by_freq=True)
    for idx in (np.array([[2, 2, 6, 1], [1, 2, 0, 6]]), np.array([3, 3, 3]), np.array([6])):
        seed = rng.standard_normal(idx.shape + (5,)).astype(np.float32)
        y, ty = e(ts.tensor(idx, device=device)), te(torch.from_numpy(idx))
        (y * ts.tensor(seed, device=device)).sum().backward()     # batches accumulate,
        (ty * torch.from_numpy(seed)).sum().backward()             # each with its own counts
        g = e.weight.grad
        assert getattr(g, "is_sparse", False) == sparse
        dense = g.to_dense().numpy() if sparse else g.numpy()
        np.testing.assert_allclose(dense, te.weight.grad.numpy(), rtol=1e-6, atol=1e-6)
    if pad is not None:
        assert not dense[pad % 7].any()
        if sparse:          # the padding positions are dropped from the sparse gradient
            assert (pad % 7) not in ts.backend.to_numpy(g.indices).tolist()


def test_scale_grad_by_freq_divides_each_row_by_its_count_in_the_batch():
    w = ts.tensor(np.zeros((5, 2)), requires_grad=True)
    idx = np.array([[4, 1, 4], [4, 0, 1]])
    for sparse in (False, True):
        w.grad = None
        F.embedding(idx, w, scale_grad_by_freq=True, sparse=sparse).sum().backward()
        g = w.grad.to_dense() if sparse else w.grad
        # each looked-up row: count * (1 / count) = 1
        np.testing.assert_allclose(g.numpy(), [[1, 1], [1, 1], [0, 0], [0, 0], [1, 1]], rtol=1e-15)
    # the values of a sparse gradient are scaled per position, before any coalescing
    w.grad = None
    seed = np.arange(12.0).reshape(2, 3, 2)
    F.embedding(idx, w, scale_grad_by_freq=True, sparse=True).backward(ts.tensor(seed))
    values = ts.backend.to_numpy(w.grad.values)
    np.testing.assert_allclose(values, seed.reshape(6, 2) / np.array([3, 2, 3, 3, 1, 2])[:, None])
    # empty batch
    w.grad = None
    F.embedding(np.zeros((0,), dtype=np.int64), w, scale_grad_by_freq=True).sum().backward()
    assert not w.grad.numpy().any()


def test_scale_grad_by_freq_with_create_graph_is_dense_and_differentiable():
    """The recorded backward is s * dy scattered into rows (s = 1 / count), so its own
    gradient with respect to dy is s times the gathered rows. PyTorch 2.13's double
    backward (embedding_dense_double_backward) gathers without the 1 / count, which
    is not the derivative of its first backward; here it is, and gradgradcheck holds
    (test_nn_embedding.test_embedding_gradients). First-order gradients agree."""
    w = ts.tensor(np.ones((4, 2)), requires_grad=True)
    y = (F.embedding([1, 1, 3], w, scale_grad_by_freq=True, sparse=True) ** 2).sum()
    (gw,) = ts.grad(y, [w], create_graph=True)
    assert isinstance(gw, ts.Tensor) and gw.requires_grad
    np.testing.assert_allclose(gw.numpy(), [[0, 0], [2, 2], [0, 0], [2, 2]])   # 2 * 2w / 2
    # gw[r] = sum over positions i of r: 2 w[r] / c_r, differentiated through the
    # lookup's backward again: d/dw[1] = 2 positions * (1/2) * 2 * (1/2) = 1
    (ggw,) = ts.grad(gw.sum(), [w])
    np.testing.assert_allclose(ggw.numpy(), [[0, 0], [1, 1], [0, 0], [2, 2]])
    # with respect to the upstream gradient: c[idx] / count (torch: c[idx])
    g = ts.tensor(np.ones((3, 2)), requires_grad=True)
    out = F.embedding([1, 1, 3], w, scale_grad_by_freq=True)
    (gw,) = ts.grad(out, [w], g, create_graph=True)
    c = np.arange(8.0).reshape(4, 2)
    (gg,) = ts.grad((gw * ts.tensor(c)).sum(), [g])
    np.testing.assert_allclose(gg.numpy(), c[[1, 1, 3]] / np.array([2, 2, 1])[:, None])


# ---------------------------------------------------------------- arguments

def test_argument_errors_name_the_op_and_the_value():
    w = ts.tensor(np.ones((4, 2)))
    for bad in (0, 0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match=f"embedding: max_norm must be positive, got {bad!r}"):
            F.embedding([0], w, max_norm=bad)
        with pytest.raises(ValueError, match="Embedding: max_norm must be positive"):
            nn.Embedding(4, 2, max_norm=bad)
    for bad in ("1", True, [1.0]):
        with pytest.raises(TypeError, match=r"embedding: max_norm must be a float or None, got"):
            F.embedding([0], w, max_norm=bad)
    for bad in ("2", None, True):
        with pytest.raises(TypeError, match=f"embedding: norm_type must be a float, got {bad!r}"):
            F.embedding([0], w, max_norm=1.0, norm_type=bad)
        with pytest.raises(TypeError, match="Embedding: norm_type must be a float"):
            nn.Embedding(4, 2, norm_type=bad)
    with pytest.raises(ValueError, match="norm_type must be a number, got nan"):
        F.embedding([0], w, max_norm=1.0, norm_type=float("nan"))
    for bad in (1, 0, None, "yes"):        # torch: "must be bool, not int"
        with pytest.raises(TypeError, match=f"embedding: scale_grad_by_freq must be a bool, got {bad!r}"):
            F.embedding([0], w, scale_grad_by_freq=bad)
        with pytest.raises(TypeError, match="Embedding: scale_grad_by_freq must be a bool"):
            nn.Embedding(4, 2, scale_grad_by_freq=bad)
    with pytest.raises(ts.DTypeError, match="max_norm needs a floating-point weight, got int64"):
        F.embedding([0], ts.tensor(np.ones((4, 2), dtype=np.int64)), max_norm=1.0)
    F.embedding([0], ts.tensor(np.ones((4, 2), dtype=np.int64)))        # fine without max_norm
    assert F.embedding([0], w, max_norm=np.float32(1.0), norm_type=np.int64(1)).shape == (1, 2)
    with pytest.raises(ts.AutogradError, match="read-only.*clone"):
        F.embedding([0], ts.tensor(np.ones((1, 2))).expand(4, 2), max_norm=0.5)


def test_an_out_of_range_index_with_max_norm_raises_before_any_row_is_touched():
    table = np.full((3, 2), 5.0)
    w = ts.tensor(table)
    for bad in (-1, 3):
        with pytest.raises(IndexError, match=f"embedding: index {bad} is out of range"):
            F.embedding([0, bad], w, max_norm=1.0)
    np.testing.assert_array_equal(w.numpy(), table)
    assert w._version[0] == 0


def test_repr_state_dict_and_from_pretrained_match_torch():
    torch = _torch()
    configs = [dict(), dict(max_norm=1.5), dict(max_norm=1, norm_type=1),
               dict(padding_idx=1, max_norm=2.0, norm_type=math.inf, scale_grad_by_freq=True, sparse=True),
               dict(norm_type=2), dict(scale_grad_by_freq=True)]
    for kw in configs:
        e, te = nn.Embedding(4, 3, **kw), torch.nn.Embedding(4, 3, **kw)
        assert repr(e) == repr(te)
        assert list(e.state_dict()) == list(te.state_dict()) == ["weight"]
        assert (e.max_norm, e.norm_type, e.scale_grad_by_freq) == (te.max_norm, te.norm_type,
                                                                  te.scale_grad_by_freq)
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    e = nn.Embedding.from_pretrained(table, True, None, 2.0, 1.0, True, True)    # torch's order
    te = torch.nn.Embedding.from_pretrained(torch.from_numpy(table), True, None, 2.0, 1.0, True, True)
    assert repr(e) == repr(te) == ("Embedding(4, 3, max_norm=2.0, norm_type=1.0, "
                                   "scale_grad_by_freq=True, sparse=True)")
    assert not e.weight.requires_grad
    # positional constructor arguments follow torch:
    # padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse
    e = nn.Embedding(5, 2, 0, 1.0, 3.0, True, False)
    assert (e.padding_idx, e.max_norm, e.norm_type, e.scale_grad_by_freq, e.sparse) == \
        (0, 1.0, 3.0, True, False)
