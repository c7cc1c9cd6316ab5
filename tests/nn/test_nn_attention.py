"""Attention: F.scaled_dot_product_attention, nn.MultiheadAttention, nn.AdditiveAttention.

Against the notes' formulas written out in plain NumPy, against PyTorch with the same
weights (outputs, attention weights, every parameter's gradient), with finite
differences in float64, and the framework's own rule: a query whose every key is
masked gets zero output, zero weights and finite (zero) gradients.
"""
import importlib.util
import math
import os

import numpy as np
import pytest

import tinygrad_seq as ts
from paths import BENCHMARKS
import tinygrad_seq.functional as F
from tinygrad_seq import nn


def sdpa_with_weights(*args, **kwargs):
    return F.scaled_dot_product_attention(*args, return_weights=True, **kwargs)

pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched")   # torch's, on mixed masks
RNG = np.random.default_rng(0)


def randn(*shape):
    return RNG.standard_normal(shape)


def leaf(a):
    return ts.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def softmax_np(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def attention_np(q, k, v, bias=None, scale=None):
    """The notes' formula: softmax(Q K^T / sqrt(d_k) + bias) V."""
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if bias is not None:
        s = s + bias
    w = softmax_np(s)
    return w @ v, w


# ---------------------------------------------------------------- scaled dot-product attention

def test_sdpa_is_the_notes_formula():
    q, k, v = randn(2, 3, 4, 5), randn(2, 3, 6, 5), randn(2, 3, 6, 7)
    out, w = sdpa_with_weights(ts.tensor(q), ts.tensor(k), ts.tensor(v))
    want_out, want_w = attention_np(q, k, v)
    assert out.shape == (2, 3, 4, 7) and w.shape == (2, 3, 4, 6)
    np.testing.assert_allclose(out.numpy(), want_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w.numpy(), want_w, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w.numpy().sum(-1), 1.0, rtol=1e-12)


def test_sdpa_float32_leading_dims_broadcast_and_scale():
    q = randn(2, 1, 4, 5).astype(np.float32)      # batch dims broadcast as in matmul
    k, v = randn(3, 6, 5).astype(np.float32), randn(3, 6, 2).astype(np.float32)
    out, w = sdpa_with_weights(ts.tensor(q), ts.tensor(k), ts.tensor(v), scale=0.3)
    want_out, want_w = attention_np(q.astype(np.float64), k, v, scale=0.3)
    assert out.dtype == ts.float32 and out.shape == (2, 3, 4, 2)
    np.testing.assert_allclose(out.numpy(), want_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w.numpy(), want_w, rtol=1e-5, atol=1e-6)
    # unbatched 2-D inputs
    out2, _ = sdpa_with_weights(ts.tensor(q[0, 0]), ts.tensor(k[0]), ts.tensor(v[0]))
    np.testing.assert_allclose(out2.numpy(), attention_np(q[0, 0], k[0], v[0])[0], rtol=1e-5, atol=1e-6)


def test_sdpa_boolean_mask_true_means_allowed_and_float_mask_is_added():
    q, k, v = randn(2, 4, 3), randn(2, 5, 3), randn(2, 5, 3)
    allowed = RNG.random((2, 4, 5)) < 0.6
    allowed[:, :, 0] = True                          # no fully masked row here
    out, w = sdpa_with_weights(ts.tensor(q), ts.tensor(k), ts.tensor(v),
                                            attn_mask=allowed)
    want_out, want_w = attention_np(q, k, v, np.where(allowed, 0.0, -np.inf))
    np.testing.assert_allclose(out.numpy(), want_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w.numpy(), want_w, rtol=1e-12, atol=1e-12)
    assert (w.numpy()[~allowed] == 0).all()
    bias = randn(4, 5)                               # broadcast over the batch
    out, w = sdpa_with_weights(ts.tensor(q), ts.tensor(k), ts.tensor(v),
                                            attn_mask=ts.tensor(bias))
    np.testing.assert_allclose(out.numpy(), attention_np(q, k, v, bias)[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("L, S", [(4, 4), (3, 5), (5, 3)])
def test_sdpa_is_causal_is_top_left_lower_triangular(L, S):
    q, k, v = randn(2, L, 3), randn(2, S, 3), randn(2, S, 4)
    out, w = sdpa_with_weights(ts.tensor(q), ts.tensor(k), ts.tensor(v), is_causal=True)
    allowed = np.tril(np.ones((L, S), dtype=bool))
    want_out, want_w = attention_np(q, k, v, np.where(allowed, 0.0, -np.inf))
    np.testing.assert_allclose(out.numpy(), want_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w.numpy(), want_w, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="either attn_mask or is_causal"):
        F.scaled_dot_product_attention(ts.tensor(q), ts.tensor(k), ts.tensor(v),
                                       attn_mask=allowed, is_causal=True)


def test_sdpa_dropout_is_seeded_and_weights_are_after_dropout():
    q, k, v = (ts.tensor(randn(2, 6, 4)) for _ in range(3))
    _, clean = sdpa_with_weights(q, k, v)
    ts.manual_seed(3)
    out, w = sdpa_with_weights(q, k, v, dropout_p=0.4)
    ts.manual_seed(3)
    out2, w2 = sdpa_with_weights(q, k, v, dropout_p=0.4)
    np.testing.assert_array_equal(w.numpy(), w2.numpy())
    kept = w.numpy() != 0
    assert 0.3 < kept.mean() < 0.9 and not kept.all()
    np.testing.assert_allclose(w.numpy(), np.where(kept, clean.numpy() / 0.6, 0), rtol=1e-12)
    np.testing.assert_allclose(out.numpy(), w.numpy() @ v.numpy(), rtol=1e-12, atol=1e-12)


def test_sdpa_fully_masked_row_gives_zeros_and_finite_gradients():
    q, k, v = leaf(randn(2, 3, 4)), leaf(randn(2, 5, 4)), leaf(randn(2, 5, 6))
    allowed = np.ones((2, 3, 5), dtype=bool)
    allowed[0, 1] = False                            # query 1 of batch 0 sees nothing
    allowed[1, 2] = [False, False, True, False, False]   # query 2 of batch 1 sees one key
    out, w = sdpa_with_weights(q, k, v, attn_mask=allowed)
    (out * ts.tensor(randn(2, 3, 6))).sum().backward()
    np.testing.assert_array_equal(out.numpy()[0, 1], 0.0)
    np.testing.assert_array_equal(w.numpy()[0, 1], 0.0)
    for t in (q, k, v):
        assert np.isfinite(t.grad.numpy()).all()
    np.testing.assert_array_equal(q.grad.numpy()[0, 1], 0.0)
    # contrast: one allowed key is an ordinary softmax over that one key: weight 1
    np.testing.assert_array_equal(w.numpy()[1, 2], [0, 0, 1, 0, 0])
    np.testing.assert_allclose(out.numpy()[1, 2], v.numpy()[1, 2], rtol=1e-12)
    # the other rows are untouched: the notes' formula (NaN in the masked row)
    with np.errstate(invalid="ignore"):
        want_out, _ = attention_np(q.numpy(), k.numpy(), v.numpy(), np.where(allowed, 0.0, -np.inf))
    rows = np.ones((2, 3), dtype=bool)
    rows[0, 1] = False
    np.testing.assert_allclose(out.numpy()[rows], want_out[rows], rtol=1e-12, atol=1e-12)


def test_sdpa_fully_masked_by_a_float_mask_and_no_keys_at_all():
    q, k, v = leaf(randn(3, 4)), leaf(randn(2, 4)), leaf(randn(2, 5))
    bias = leaf(np.array([[0.0, 1.0], [-np.inf, -np.inf], [-np.inf, 2.0]]))
    out, w = sdpa_with_weights(q, k, v, attn_mask=bias)
    out.sum().backward()
    np.testing.assert_array_equal(out.numpy()[1], 0.0)
    for t in (q, k, v, bias):
        assert np.isfinite(t.grad.numpy()).all()
    np.testing.assert_array_equal(bias.grad.numpy()[1], 0.0)
    empty_k, empty_v = leaf(np.zeros((0, 4))), leaf(np.zeros((0, 5)))
    out, w = sdpa_with_weights(q, empty_k, empty_v)
    assert out.shape == (3, 5) and w.shape == (3, 0)
    np.testing.assert_array_equal(out.numpy(), 0.0)


def test_sdpa_matches_torch():
    torch = pytest.importorskip("torch")
    q, k, v = randn(2, 3, 4, 8), randn(2, 3, 6, 8), randn(2, 3, 6, 5)
    allowed = RNG.random((4, 6)) < 0.7
    allowed[:, 0] = True
    cases = [dict(), dict(attn_mask=allowed), dict(attn_mask=randn(2, 1, 4, 6)),
             dict(is_causal=True), dict(scale=0.7)]
    for kw in cases:
        tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
        ours = [leaf(a) for a in (q, k, v)]
        tkw = {key: torch.tensor(val) if isinstance(val, np.ndarray) else val for key, val in kw.items()}
        want = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, **tkw)
        got = F.scaled_dot_product_attention(*ours, **kw)
        g = randn(*got.shape)
        want.backward(torch.tensor(g))
        got.backward(ts.tensor(g))
        np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-10, atol=1e-12)
        for mine, theirs in zip(ours, (tq, tk, tv)):
            np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_sdpa_gradcheck():
    q, k, v = leaf(randn(2, 3, 4)), leaf(randn(2, 4, 4)), leaf(randn(2, 4, 3))
    bias = leaf(randn(3, 4))
    allowed = np.ones((2, 3, 4), dtype=bool)
    allowed[1, 0] = False                            # a fully masked row
    allowed[0, 2, 1:] = False
    assert ts.gradcheck(lambda *t: F.scaled_dot_product_attention(*t), (q, k, v))
    assert ts.gradcheck(lambda *t: F.scaled_dot_product_attention(*t[:3], attn_mask=t[3]),
                        (q, k, v, bias))
    assert ts.gradcheck(lambda *t: F.scaled_dot_product_attention(*t, attn_mask=allowed), (q, k, v))
    assert ts.gradcheck(lambda *t: F.scaled_dot_product_attention(*t, is_causal=True, scale=0.5),
                        (q, k, v))
    assert ts.gradgradcheck(lambda *t: F.scaled_dot_product_attention(*t, attn_mask=allowed),
                            (q, k, v))


def test_sdpa_errors_name_the_op_and_the_shapes():
    q, k = ts.randn(2, 3, 4), ts.randn(2, 5, 4)
    with pytest.raises(ts.ShapeError, match=r"scaled_dot_product_attention: key and value must "
                       r"have the same length, got key \(2, 5, 4\) and value \(2, 4, 3\)"):
        F.scaled_dot_product_attention(q, k, ts.randn(2, 4, 3))
    with pytest.raises(ts.ShapeError, match="same feature size"):
        F.scaled_dot_product_attention(q, ts.randn(2, 5, 3), ts.randn(2, 5, 3))
    with pytest.raises(ts.ShapeError, match="attn_mask of shape"):
        F.scaled_dot_product_attention(q, k, k, attn_mask=np.ones((4, 5), dtype=bool))
    with pytest.raises(ts.DTypeError, match="attn_mask must be a bool or float"):
        F.scaled_dot_product_attention(q, k, k, attn_mask=np.ones((3, 5), dtype=np.int64))
    with pytest.raises(ts.ShapeError, match="at least 2 dims"):
        F.scaled_dot_product_attention(ts.randn(4), k, k)


# ---------------------------------------------------------------- MultiheadAttention

def torch_mha(torch, E, H, **kw):
    m = torch.nn.MultiheadAttention(E, H, **kw).double()
    ours = nn.MultiheadAttention(E, H, **kw).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in m.state_dict().items()})
    return ours, m


def assert_same_grads(ours, theirs, rtol=1e-9, atol=1e-11):
    names = [n for n, _ in ours.named_parameters()]
    assert names == [n for n, _ in theirs.named_parameters()]
    theirs = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs[name].grad.numpy(), rtol=rtol, atol=atol,
                                   err_msg=name)


def mha_inputs(N, L, S, E, kdim, vdim, batch_first, self_attention, unbatched=False):
    def shape(T, D):
        if unbatched:
            return (T, D)
        return (N, T, D) if batch_first else (T, N, D)
    q = randn(*shape(L, E))
    if self_attention:
        return q, q, q
    return q, randn(*shape(S, kdim)), randn(*shape(S, vdim))


MHA_CASES = {
    "self": dict(),
    "self, batch_first": dict(batch_first=True),
    "cross, kdim/vdim": dict(kdim=5, vdim=3, cross=True),
    "cross, kdim/vdim, batch_first": dict(kdim=5, vdim=3, cross=True, batch_first=True),
    "cross, same dims": dict(cross=True),
    "no bias": dict(bias=False, batch_first=True),
    "key_padding_mask bool": dict(kpm="bool"),
    "key_padding_mask float": dict(kpm="float", batch_first=True),
    "attn_mask bool 2-D": dict(am="bool2"),
    "attn_mask float 2-D": dict(am="float2", cross=True),
    "attn_mask bool 3-D": dict(am="bool3", batch_first=True),
    "attn_mask float 3-D + key_padding_mask": dict(am="float3", kpm="float"),
    "need_weights=False": dict(need_weights=False),
    "average_attn_weights=False": dict(average_attn_weights=False, kpm="bool"),
    "is_causal": dict(causal=True),
    "is_causal with its mask": dict(causal=True, am="causal", batch_first=True),
    "unbatched": dict(unbatched=True, kpm="bool", am="bool3"),
    # extra key/value positions: bias_k / bias_v, the zero key / value, both
    "add_bias_kv, key_padding_mask bool": dict(add_bias_kv=True, kpm="bool"),
    "add_bias_kv, attn_mask float 2-D, kdim/vdim": dict(add_bias_kv=True, am="float2", cross=True,
                                                        kdim=5, vdim=3),
    "add_bias_kv, attn_mask bool 3-D, no bias": dict(add_bias_kv=True, am="bool3", bias=False),
    "add_zero_attn, attn_mask bool 3-D, batch_first": dict(add_zero_attn=True, am="bool3",
                                                           batch_first=True),
    "add_zero_attn, key_padding_mask float": dict(add_zero_attn=True, kpm="float", cross=True),
    "both, masks bool, batch_first, per head": dict(add_bias_kv=True, add_zero_attn=True, kpm="bool", am="bool2",
                                                    batch_first=True, average_attn_weights=False),
    "both, masks float, kdim/vdim": dict(add_bias_kv=True, add_zero_attn=True, cross=True, kdim=5, vdim=3, am="float3",
                                         kpm="float"),
    "both, kdim/vdim, batch_first": dict(add_bias_kv=True, add_zero_attn=True, cross=True, kdim=5, vdim=3, batch_first=True,
                                         kpm="bool"),
    "both, need_weights=False": dict(add_bias_kv=True, add_zero_attn=True, need_weights=False, kpm="bool", am="bool2"),
    "both, is_causal": dict(add_bias_kv=True, add_zero_attn=True, causal=True),
    "both, is_causal with its mask": dict(add_bias_kv=True, add_zero_attn=True, causal=True, am="causal", batch_first=True),
    "both, unbatched": dict(add_bias_kv=True, add_zero_attn=True, unbatched=True, kpm="bool", am="float3"),
}


@pytest.mark.parametrize("case", list(MHA_CASES))
def test_multihead_attention_matches_torch(case):
    torch = pytest.importorskip("torch")
    c = dict(MHA_CASES[case])
    N, L, S, E, H = 3, 4, 5, 8, 2
    cross, unbatched = c.pop("cross", False), c.pop("unbatched", False)
    kpm, am, causal = c.pop("kpm", None), c.pop("am", None), c.pop("causal", False)
    need_weights = c.pop("need_weights", True)
    average = c.pop("average_attn_weights", True)
    if not cross:
        S = L
    ours, theirs = torch_mha(torch, E, H, **c)
    q, k, v = mha_inputs(N, L, S, E, c.get("kdim", E), c.get("vdim", E), c.get("batch_first", False),
                         not cross, unbatched)
    Nb = 1 if unbatched else N
    kw = {}
    if kpm:
        mask = np.zeros((Nb, S), dtype=bool)
        mask[0, -2:] = True
        mask = mask[0] if unbatched else mask
        kw["key_padding_mask"] = mask if kpm == "bool" else np.where(mask, -np.inf, 0.0) + randn(*mask.shape)
    if am in ("bool2", "float2"):
        mask = RNG.random((L, S)) < 0.3
        mask[:, 1] = False
        kw["attn_mask"] = mask if am == "bool2" else np.where(mask, -np.inf, randn(L, S))
    elif am in ("bool3", "float3"):
        mask = RNG.random((Nb * H, L, S)) < 0.3
        mask[..., 0] = False
        kw["attn_mask"] = mask if am == "bool3" else np.where(mask, -np.inf, randn(Nb * H, L, S))
    elif am == "causal":
        kw["attn_mask"] = np.triu(np.ones((L, S), dtype=bool), k=1)
    tq = torch.tensor(q, requires_grad=True)
    tk, tv = (tq, tq) if not cross else (torch.tensor(k, requires_grad=True),
                                         torch.tensor(v, requires_grad=True))
    oq = leaf(q)
    ok, ov = (oq, oq) if not cross else (leaf(k), leaf(v))
    tkw = {name: torch.tensor(val) for name, val in kw.items()}
    if causal and "attn_mask" not in tkw:            # PyTorch needs the mask with the hint
        tkw["attn_mask"] = torch.tensor(np.triu(np.ones((L, S), dtype=bool), k=1))
    want, want_w = theirs(tq, tk, tv, need_weights=need_weights, average_attn_weights=average,
                          is_causal=causal, **tkw)
    got, got_w = ours(oq, ok, ov, need_weights=need_weights, average_attn_weights=average,
                      is_causal=causal, **kw)
    assert got.shape == tuple(want.shape)
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-10, atol=1e-12)
    if need_weights:
        assert got_w.shape == tuple(want_w.shape)
        np.testing.assert_allclose(got_w.numpy(), want_w.detach().numpy(), rtol=1e-10, atol=1e-12)
    else:
        assert got_w is None and want_w is None
    g = randn(*got.shape)
    want.backward(torch.tensor(g))
    got.backward(ts.tensor(g))
    assert_same_grads(ours, theirs)
    for mine, t in ((oq, tq),) + (((ok, tk), (ov, tv)) if cross else ()):
        np.testing.assert_allclose(mine.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-11)


def test_multihead_attention_parameters_and_init_as_torch():
    m = nn.MultiheadAttention(8, 2)
    assert [(n, p.shape) for n, p in m.named_parameters()] == [
        ("in_proj_weight", (24, 8)), ("in_proj_bias", (24,)), ("out_proj.weight", (8, 8)),
        ("out_proj.bias", (8,))]
    assert isinstance(m.out_proj, nn.Linear)
    np.testing.assert_array_equal(m.in_proj_bias.numpy(), 0)
    np.testing.assert_array_equal(m.out_proj.bias.numpy(), 0)
    bound = math.sqrt(6 / (8 + 24))                  # xavier_uniform_ on (3E, E)
    assert np.abs(m.in_proj_weight.numpy()).max() <= bound
    m2 = nn.MultiheadAttention(8, 2, kdim=5, vdim=3, bias=False)
    assert [(n, p.shape) for n, p in m2.named_parameters()] == [
        ("q_proj_weight", (8, 8)), ("k_proj_weight", (8, 5)), ("v_proj_weight", (8, 3)),
        ("out_proj.weight", (8, 8))]
    assert m2.in_proj_weight is None and m2.in_proj_bias is None
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(10, 3)


def test_multihead_attention_fully_masked_query_gives_zero_output():
    torch = pytest.importorskip("torch")
    ours, theirs = torch_mha(torch, 8, 2, batch_first=True)
    x = leaf(randn(2, 4, 8))
    kpm = np.zeros((2, 4), dtype=bool)
    kpm[1] = True                                    # batch element 1 has no valid key
    out, w = ours(x, x, x, key_padding_mask=kpm)
    (out * ts.tensor(randn(2, 4, 8))).sum().backward()
    np.testing.assert_array_equal(out.numpy()[1], 0.0)
    np.testing.assert_array_equal(w.numpy()[1], 0.0)
    assert np.isfinite(x.grad.numpy()).all()
    for _, p in ours.named_parameters():
        assert np.isfinite(p.grad.numpy()).all()
    tx = torch.tensor(x.numpy())
    want, _ = theirs(tx, tx, tx, key_padding_mask=torch.tensor(kpm))
    assert np.isnan(want.detach().numpy()[1]).all()  # PyTorch: NaN; ours: defined
    np.testing.assert_allclose(out.numpy()[0], want.detach().numpy()[0], rtol=1e-10, atol=1e-12)
    # a query fully masked in one head only: that head contributes zeros before out_proj
    am = np.zeros((2 * 2, 4, 4), dtype=bool)
    am[0, 2] = True                                  # batch 0, head 0, query 2
    out, w = ours(x, x, x, attn_mask=am, average_attn_weights=False)
    assert np.isfinite(out.numpy()).all()
    np.testing.assert_array_equal(w.numpy()[0, 0, 2], 0.0)
    np.testing.assert_allclose(w.numpy()[0, 1, 2].sum(), 1.0)


def test_multihead_attention_gradcheck():
    ts.manual_seed(0)
    m = nn.MultiheadAttention(4, 2, kdim=3, vdim=2, batch_first=True).double()
    q, k, v = leaf(randn(2, 3, 4)), leaf(randn(2, 2, 3)), leaf(randn(2, 2, 2))
    kpm = np.array([[False, True], [True, True]])    # the second batch element sees nothing
    params = tuple(m.parameters())

    def fn(q, k, v, *_):
        out, w = m(q, k, v, key_padding_mask=kpm)
        return out, w
    assert ts.gradcheck(fn, (q, k, v) + params)
    m2 = nn.MultiheadAttention(4, 2).double()
    x = leaf(randn(3, 2, 4))
    assert ts.gradcheck(lambda x, *_: m2(x, x, x, is_causal=True)[0], (x,) + tuple(m2.parameters()))


def test_multihead_attention_bias_kv_and_zero_attn_parameters_as_torch():
    torch = pytest.importorskip("torch")
    for kw in (dict(add_bias_kv=True), dict(add_bias_kv=True, add_zero_attn=True, kdim=5, vdim=3, bias=False),
               dict(add_zero_attn=True)):
        ours, theirs = nn.MultiheadAttention(8, 2, **kw), torch.nn.MultiheadAttention(8, 2, **kw)
        assert ([(n, p.shape) for n, p in ours.named_parameters()]
                == [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]), kw
        assert list(ours.state_dict()) == list(theirs.state_dict()), kw
        assert [n for n, _ in ours.named_children()] == ["out_proj"]
        if not kw.get("add_bias_kv"):
            assert ours.bias_k is None and ours.bias_v is None
    m = nn.MultiheadAttention(8, 2, add_bias_kv=True)
    assert [n for n, _ in m.named_parameters()] == [
        "in_proj_weight", "in_proj_bias", "bias_k", "bias_v", "out_proj.weight", "out_proj.bias"]
    # xavier_normal_ on (1, 1, E): fan_in = fan_out = E, std = sqrt(2 / 2E) = 1 / sqrt(E)
    ts.manual_seed(0)
    big = nn.MultiheadAttention(4096, 8, add_bias_kv=True)
    for p in (big.bias_k, big.bias_v):
        assert p.shape == (1, 1, 4096)
        assert abs(p.numpy().std() * math.sqrt(4096) - 1) < 0.05
    assert abs(big.bias_k.numpy().mean()) < 0.01


def test_multihead_attention_bias_kv_state_dict_round_trip_with_torch():
    torch = pytest.importorskip("torch")
    kw = dict(embed_dim=8, num_heads=2, add_bias_kv=True, add_zero_attn=True, kdim=5, vdim=3, batch_first=True)
    theirs = torch.nn.MultiheadAttention(**kw).double()
    ours = nn.MultiheadAttention(**kw).double()
    want = theirs.state_dict()
    ours.load_state_dict({k: v.numpy() for k, v in want.items()})        # torch -> ours
    got = ours.state_dict()
    assert list(got) == list(want)
    for k in want:
        assert got[k].shape == tuple(want[k].shape)
        np.testing.assert_array_equal(got[k].numpy(), want[k].numpy(), err_msg=k)
    ours2 = nn.MultiheadAttention(**kw).double()                          # ours -> torch
    theirs2 = torch.nn.MultiheadAttention(**kw).double()
    theirs2.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours2.state_dict().items()})
    for k, v in theirs2.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), ours2.state_dict()[k].numpy(), err_msg=k)
    q, k, v = randn(2, 3, 8), randn(2, 4, 5), randn(2, 4, 3)
    out, w = ours2(ts.tensor(q), ts.tensor(k), ts.tensor(v))
    t_out, t_w = theirs2(*(torch.tensor(a) for a in (q, k, v)))
    assert w.shape == (2, 3, 4 + 2)
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.numpy(), t_w.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kw", [dict(add_bias_kv=True), dict(add_zero_attn=True), dict(add_bias_kv=True, add_zero_attn=True)],
                         ids=["add_bias_kv", "add_zero_attn", "both"])
def test_multihead_attention_extra_positions_rescue_fully_masked_queries(kw):
    """A query with every real key masked attends to the extra positions only: finite,
    as in PyTorch (with no extra position both would be NaN in PyTorch, zero here)."""
    torch = pytest.importorskip("torch")
    ours, theirs = torch_mha(torch, 8, 2, batch_first=True, **kw)
    x = leaf(randn(2, 4, 8))
    kpm = np.zeros((2, 4), dtype=bool)
    kpm[1] = True
    am = np.zeros((4, 4), dtype=bool)
    am[2] = True
    out, w = ours(x, x, x, key_padding_mask=kpm, attn_mask=am, average_attn_weights=False)
    tx = torch.tensor(x.numpy(), requires_grad=True)
    t_out, t_w = theirs(tx, tx, tx, key_padding_mask=torch.tensor(kpm), attn_mask=torch.tensor(am),
                        average_attn_weights=False)
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.numpy(), t_w.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(w.numpy()[1, :, :, :4], 0.0)
    np.testing.assert_allclose(w.numpy().sum(-1), 1.0, rtol=1e-12)
    if kw == dict(add_zero_attn=True):     # only the zero value: the output is out_proj's bias
        np.testing.assert_allclose(out.numpy()[1], np.broadcast_to(ours.out_proj.bias.numpy(), (4, 8)))
    g = randn(2, 4, 8)
    out.backward(ts.tensor(g))
    t_out.backward(torch.tensor(g))
    assert_same_grads(ours, theirs)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-11)


def test_multihead_attention_extra_positions_with_is_causal():
    """is_causal masks the real keys only; the extra positions stay allowed, whatever
    need_weights (PyTorch's need_weights=False path without key_padding_mask hands the
    hint to SDPA over S + extra keys instead, which hides the extra positions)."""
    torch = pytest.importorskip("torch")
    ours, theirs = torch_mha(torch, 8, 2, add_bias_kv=True, add_zero_attn=True)
    x = randn(4, 3, 8)
    causal = np.triu(np.ones((4, 4), dtype=bool), k=1)
    out_hint, w = ours(ts.tensor(x), ts.tensor(x), ts.tensor(x), is_causal=True)
    out_mask, _ = ours(ts.tensor(x), ts.tensor(x), ts.tensor(x), attn_mask=causal)
    out_fast, none = ours(ts.tensor(x), ts.tensor(x), ts.tensor(x), attn_mask=causal,
                          is_causal=True, need_weights=False)
    assert none is None
    np.testing.assert_array_equal(out_hint.numpy(), out_mask.numpy())
    np.testing.assert_array_equal(out_fast.numpy(), out_mask.numpy())
    assert (w.numpy()[..., 4:] > 0).all()
    tx = torch.tensor(x)
    want, want_w = theirs(tx, tx, tx, attn_mask=torch.tensor(causal), is_causal=True)
    np.testing.assert_allclose(out_hint.numpy(), want.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.numpy(), want_w.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_multihead_attention_bias_kv_and_zero_attn_gradcheck():
    ts.manual_seed(0)
    m = nn.MultiheadAttention(4, 2, add_bias_kv=True, add_zero_attn=True, kdim=3, vdim=2, batch_first=True).double()
    q, k, v = leaf(randn(2, 3, 4)), leaf(randn(2, 2, 3)), leaf(randn(2, 2, 2))
    kpm = np.array([[False, True], [True, True]])    # the second batch element: extras only
    am = leaf(randn(3, 2))                           # a float mask that requires grad
    params = tuple(m.parameters())
    assert params[4] is m.bias_k and params[5] is m.bias_v    # checked too

    def fn(q, k, v, am, *_):
        return m(q, k, v, key_padding_mask=kpm, attn_mask=am, average_attn_weights=False)
    assert ts.gradcheck(fn, (q, k, v, am) + params)
    for kw in (dict(add_bias_kv=True), dict(add_zero_attn=True)):
        m2 = nn.MultiheadAttention(4, 2, **kw).double()
        x = leaf(randn(3, 2, 4))
        assert ts.gradcheck(lambda x, *_: m2(x, x, x, is_causal=True), (x,) + tuple(m2.parameters()))


def test_multihead_attention_dropout_only_in_training():
    m = nn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True)
    x = ts.randn(2, 5, 8)
    ts.manual_seed(1)
    _, w_train = m(x, x, x, average_attn_weights=False)
    assert (w_train.numpy() == 0).any()
    m.eval()
    out1, w1 = m(x, x, x, average_attn_weights=False)
    out2, _ = m(x, x, x)
    np.testing.assert_array_equal(out1.numpy(), out2.numpy())
    np.testing.assert_allclose(w1.numpy().sum(-1), 1.0, rtol=1e-6)


def test_multihead_attention_errors():
    m = nn.MultiheadAttention(8, 2)
    x = ts.randn(4, 3, 8)
    with pytest.raises(ts.ShapeError, match="MultiheadAttention: query must have 8 features"):
        m(ts.randn(4, 3, 6), x, x)
    with pytest.raises(ts.ShapeError, match="key_padding_mask must be"):
        m(x, x, x, key_padding_mask=np.zeros((4, 3), dtype=bool))
    with pytest.raises(ts.ShapeError, match=r"attn_mask must be \(L=4, S=4\)"):
        m(x, x, x, attn_mask=np.zeros((3, 4), dtype=bool))
    with pytest.raises(ts.ShapeError, match="different batch sizes"):
        m(x, ts.randn(4, 2, 8), ts.randn(4, 2, 8))


def test_numpy_floor_of_the_benchmark_equals_multihead_attention():
    path = os.path.join(BENCHMARKS, "numpy_attention.py")
    spec = importlib.util.spec_from_file_location("numpy_attention", path)
    numpy_attention = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(numpy_attention)
    m = nn.MultiheadAttention(8, 2, batch_first=True).double()
    with ts.no_grad():
        m.in_proj_bias.copy_(randn(24))
        m.out_proj.bias.copy_(randn(8))
    x, g = leaf(randn(3, 5, 8)), randn(3, 5, 8)
    out, _ = m(x, x, x)
    out.backward(ts.tensor(g))
    names = ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    params = dict(m.named_parameters())
    y, cache = numpy_attention.forward(x.numpy(), *[params[n].numpy() for n in names], 2)
    np.testing.assert_allclose(y, out.numpy(), rtol=1e-12, atol=1e-12)
    grads = numpy_attention.backward(g, cache, need_dx=True)
    for name, want in zip(names + ["x"], grads):
        got = x.grad if name == "x" else params[name].grad
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12, err_msg=name)


# ---------------------------------------------------------------- AdditiveAttention

def additive_np(m, s, a, mask=None):
    """The notes: e = v^T tanh(W_s s + W_a a + b), alpha = softmax(e), c = sum alpha a."""
    Ws, Wa, ba = m.query_proj.weight.numpy(), m.key_proj.weight.numpy(), m.key_proj.bias.numpy()
    v = m.score.weight.numpy()[0]
    e = np.tanh((s @ Ws.T)[:, None, :] + a @ Wa.T + ba) @ v
    if mask is not None:
        e = np.where(mask, e, -np.inf)
    alpha = softmax_np(e)
    return (alpha[:, :, None] * a).sum(1), alpha


def test_additive_attention_is_the_notes_formula():
    m = nn.AdditiveAttention(query_dim=3, key_dim=4, hidden_dim=5).double()
    assert [(n, p.shape) for n, p in m.named_parameters()] == [
        ("query_proj.weight", (5, 3)), ("key_proj.weight", (5, 4)), ("key_proj.bias", (5,)),
        ("score.weight", (1, 5))]
    s, a = randn(2, 3), randn(2, 6, 4)
    context, alphas = m(ts.tensor(s), ts.tensor(a))
    want_c, want_a = additive_np(m, s, a)
    assert context.shape == (2, 4) and alphas.shape == (2, 6)
    np.testing.assert_allclose(context.numpy(), want_c, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(alphas.numpy(), want_a, rtol=1e-12, atol=1e-12)
    mask = np.array([[True] * 4 + [False] * 2, [True, False] * 3])
    context, alphas = m(ts.tensor(s), ts.tensor(a), mask=mask)
    want_c, want_a = additive_np(m, s, a, mask)
    np.testing.assert_allclose(context.numpy(), want_c, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(alphas.numpy(), want_a, rtol=1e-12, atol=1e-12)


def test_additive_attention_fully_masked_row_and_gradcheck():
    m = nn.AdditiveAttention(3, 2, 4).double()
    s, a = leaf(randn(3, 3)), leaf(randn(3, 4, 2))
    mask = np.array([[True, True, False, True], [False] * 4, [False, False, True, False]])
    context, alphas = m(s, a, mask=mask)
    (context.sum() + (alphas * ts.tensor(randn(3, 4))).sum()).backward()
    np.testing.assert_array_equal(context.numpy()[1], 0.0)
    np.testing.assert_array_equal(alphas.numpy()[1], 0.0)
    np.testing.assert_array_equal(alphas.numpy()[2], [0, 0, 1, 0])   # one valid key: weight 1
    for t in (s, a) + tuple(m.parameters()):
        assert np.isfinite(t.grad.numpy()).all()
    assert ts.gradcheck(lambda s, a, *_: m(s, a, mask=mask), (s, a) + tuple(m.parameters()))
    with pytest.raises(ts.ShapeError, match=r"AdditiveAttention: mask must be \(N=3, T=4\)"):
        m(s, a, mask=np.ones((3, 3), dtype=bool))
