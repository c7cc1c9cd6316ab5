"""tinygrad_seq.nn.utils.rnn (pad_sequence, pack_padded_sequence, pad_packed_sequence,
pack_sequence, PackedSequence) and recurrent layers run on PackedSequences, against
torch.nn.utils.rnn and torch's layers with the same weights: data, batch sizes,
indices, outputs, final states and every gradient."""
import numpy as np
import pytest

import tinygrad_seq as ts
from tinygrad_seq import nn
from tinygrad_seq.nn.utils.rnn import (PackedSequence, pack_padded_sequence, pack_sequence,
                                       pad_packed_sequence, pad_sequence, unpack_sequence,
                                       unpad_sequence)
from torch_ref import needs_torch, torch


def _seqs(rng, lengths, feat=(3,)):
    return [rng.standard_normal((n,) + feat) for n in lengths]


def _close(a, b, **kw):
    np.testing.assert_allclose(a.detach().numpy() if hasattr(a, "detach") else a,
                               b.detach().numpy() if hasattr(b, "detach") else b,
                               rtol=kw.get("rtol", 1e-10), atol=kw.get("atol", 1e-12))


# ---------------------------------------------------------------- without torch

def test_torch_paths_exist():
    import tinygrad_seq.nn.utils.rnn as rnn_utils
    assert nn.utils.rnn is rnn_utils
    assert nn.utils.clip_grad_norm_ is ts.optim.clip_grad_norm_
    assert nn.utils.clip_grad_value_ is ts.optim.clip_grad_value_


def test_pad_sequence_shapes_and_values():
    a, b = ts.tensor([1., 2., 3.]), ts.tensor([4.])
    assert pad_sequence([a, b]).tolist() == [[1., 4.], [2., 0.], [3., 0.]]
    assert pad_sequence([a, b], batch_first=True, padding_value=-1).tolist() == \
        [[1., 2., 3.], [4., -1., -1.]]
    assert pad_sequence([a, b], True, padding_side="left").tolist() == \
        [[1., 2., 3.], [0., 0., 4.]]
    with pytest.raises(ValueError):
        pad_sequence([a, b], padding_side="middle")


def test_pack_then_pad_round_trip_and_layout():
    x = ts.tensor([[1., 2., 3.], [4., 5., 0.], [6., 0., 0.]]).T      # (T=3, B=3)
    p = pack_padded_sequence(x, [3, 2, 1])
    assert isinstance(p, PackedSequence) and isinstance(p, tuple)
    assert p.data.tolist() == [1., 4., 6., 2., 5., 3.]
    assert p.batch_sizes.tolist() == [3, 2, 1] and p.batch_sizes.dtype == ts.int64
    assert p.sorted_indices is None and p.unsorted_indices is None
    padded, lengths = pad_packed_sequence(p)
    assert padded.tolist() == x.tolist() and lengths.tolist() == [3, 2, 1]
    padded, _ = pad_packed_sequence(p, batch_first=True, padding_value=9., total_length=4)
    assert padded.tolist() == [[1., 2., 3., 9.], [4., 5., 9., 9.], [6., 9., 9., 9.]]


def test_unsorted_lengths_keep_the_original_order():
    x = ts.tensor([[1., 7.], [2., 0.], [3., 0.]])                   # lengths 3 and 1
    p = pack_padded_sequence(x, [3, 1], enforce_sorted=True)
    q = pack_padded_sequence(x[:, [1, 0]], [1, 3], enforce_sorted=False)
    assert q.data.tolist() == p.data.tolist()
    assert q.sorted_indices.tolist() == [1, 0] and q.unsorted_indices.tolist() == [1, 0]
    padded, lengths = pad_packed_sequence(q)
    assert padded.tolist() == x[:, [1, 0]].tolist() and lengths.tolist() == [1, 3]
    assert [s.tolist() for s in unpack_sequence(q)] == [[7.], [1., 2., 3.]]


def test_errors():
    x = ts.zeros(4, 3, 2)
    with pytest.raises(RuntimeError, match="greater than 0"):
        pack_padded_sequence(x, [3, 0, 2], enforce_sorted=False)
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        pack_padded_sequence(x, [2, 3, 1])
    with pytest.raises(ts.ShapeError):
        pack_padded_sequence(x, [5, 2, 1])
    with pytest.raises(ts.ShapeError):
        pack_padded_sequence(x, [3, 2])
    with pytest.raises(ValueError, match="total_length"):
        pad_packed_sequence(pack_padded_sequence(x, [3, 2, 1]), total_length=2)


def test_gradient_flows_through_pack_and_pad():
    rng = np.random.default_rng(0)
    seqs = [ts.tensor(s, requires_grad=True) for s in _seqs(rng, [2, 4, 1])]
    p = pack_sequence(seqs, enforce_sorted=False)
    padded, _ = pad_packed_sequence(p, batch_first=True, padding_value=5.)
    w = rng.standard_normal(padded.shape)
    (padded * ts.tensor(w)).sum().backward()
    for i, s in enumerate(seqs):
        np.testing.assert_allclose(s.grad.numpy(), w[i, :s.shape[0]])


def test_packed_run_equals_lengths_run_without_torch():
    rng = np.random.default_rng(1)
    ts.manual_seed(0)
    m = nn.GRU(3, 4, num_layers=2, bidirectional=True, dtype=ts.float64)
    x = rng.standard_normal((5, 3, 3))
    lengths = [2, 5, 3]
    out, h = m(ts.tensor(x), lengths=lengths)
    pout, ph = m(pack_padded_sequence(ts.tensor(x), lengths, enforce_sorted=False))
    assert isinstance(pout, PackedSequence)
    padded, lens = pad_packed_sequence(pout, total_length=5)
    _close(padded, out)
    _close(ph, h)
    assert lens.tolist() == lengths
    with pytest.raises(TypeError):
        m(pout, lengths=lengths)


def test_unpad_sequence():
    x = pad_sequence([ts.tensor([1., 2.]), ts.tensor([3.])], batch_first=True)
    assert [s.tolist() for s in unpad_sequence(x, [2, 1], batch_first=True)] == [[1., 2.], [3.]]


def test_to_keeps_indices():
    p = pack_sequence([ts.tensor([1., 2.]), ts.tensor([3., 4., 5.])], enforce_sorted=False)
    q = p.to(ts.float64)
    assert q.data.dtype == ts.float64 and q.sorted_indices.tolist() == [1, 0]
    assert p.to("cpu") is p and p.double().data.dtype == ts.float64


# ---------------------------------------------------------------- against torch

@needs_torch
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first, side):
    rng = np.random.default_rng(2)
    seqs = _seqs(rng, [3, 1, 4], (2,))
    ours = [ts.tensor(s, requires_grad=True) for s in seqs]
    theirs = [torch.tensor(s, requires_grad=True) for s in seqs]
    a = pad_sequence(ours, batch_first, -2.0, side)
    b = torch.nn.utils.rnn.pad_sequence(theirs, batch_first, -2.0, side)
    _close(a, b)
    w = rng.standard_normal(tuple(b.shape))
    (a * ts.tensor(w)).sum().backward()
    (b * torch.tensor(w)).sum().backward()
    for s, t in zip(ours, theirs):
        _close(s.grad, t.grad)


@needs_torch
@pytest.mark.parametrize("lengths", [[4, 2, 2, 1], [1, 4, 2, 3], [2, 2, 2, 2], [3]])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_padded_matches_torch(lengths, batch_first):
    rng = np.random.default_rng(3)
    B, T = len(lengths), max(lengths) + 1
    x = rng.standard_normal((B, T, 2) if batch_first else (T, B, 2))
    sorted_ok = lengths == sorted(lengths, reverse=True)
    for enforce in ([True, False] if sorted_ok else [False]):
        xt = ts.tensor(x, requires_grad=True)
        tx = torch.tensor(x, requires_grad=True)
        for as_tensor in (False, True):
            ln = ts.tensor(lengths) if as_tensor else lengths
            p = pack_padded_sequence(xt, ln, batch_first, enforce)
        q = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, batch_first, enforce)
        _close(p.data, q.data)
        assert p.batch_sizes.tolist() == q.batch_sizes.tolist()
        for a, b in ((p.sorted_indices, q.sorted_indices),
                     (p.unsorted_indices, q.unsorted_indices)):
            assert (a is None) == (b is None)
            if a is not None and len(set(lengths)) == len(lengths):   # ties: see rnn.py
                assert a.tolist() == b.tolist()
        for total in (None, T + 2):
            pa, la = pad_packed_sequence(p, batch_first, 0.5, total)
            pb, lb = torch.nn.utils.rnn.pad_packed_sequence(q, batch_first, 0.5, total)
            _close(pa, pb)
            assert la.tolist() == lb.tolist() and la.dtype == ts.int64
        w = rng.standard_normal(tuple(pb.shape))
        (pa * ts.tensor(w)).sum().backward()
        (pb * torch.tensor(w)).sum().backward()
        _close(xt.grad, tx.grad)


@needs_torch
def test_pack_sequence_matches_torch():
    rng = np.random.default_rng(4)
    seqs = _seqs(rng, [2, 5, 3])
    p = pack_sequence([ts.tensor(s) for s in seqs], enforce_sorted=False)
    q = torch.nn.utils.rnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    _close(p.data, q.data)
    assert p.batch_sizes.tolist() == q.batch_sizes.tolist()
    assert p.sorted_indices.tolist() == q.sorted_indices.tolist()
    assert p.unsorted_indices.tolist() == q.unsorted_indices.tolist()
    with pytest.raises(RuntimeError):
        pack_sequence([ts.tensor(s) for s in seqs])


CASES = [  # (kind, num_layers, bidirectional, batch_first, enforce_sorted, with hx, kwargs)
    ("RNN", 1, False, False, False, False, {}),
    ("RNN", 2, True, True, False, True, {"nonlinearity": "relu"}),
    ("GRU", 1, True, False, True, True, {}),
    ("GRU", 2, False, True, False, False, {}),
    ("LSTM", 1, False, False, False, True, {}),
    ("LSTM", 2, True, False, False, True, {}),
    ("LSTM", 2, True, True, True, False, {}),
    ("LSTM", 1, True, False, False, True, {"proj_size": 2}),
]


@needs_torch
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c[:6])))
@pytest.mark.parametrize("fused", [True, False])
def test_layers_on_packed_sequences_match_torch(case, fused):
    kind, L, bi, bf, enforce, with_hx, kw = case
    rng = np.random.default_rng(5)
    I, H, D = 3, 4, 2 if bi else 1
    lengths = [5, 4, 2, 1] if enforce else [2, 5, 1, 4]
    N, T = len(lengths), max(lengths)
    ts.manual_seed(0)
    m = getattr(nn, kind)(I, H, num_layers=L, bidirectional=bi, batch_first=bf,
                          dtype=ts.float64, fused=fused, **kw)
    tm = getattr(torch.nn, kind)(I, H, num_layers=L, bidirectional=bi, batch_first=bf,
                                 **kw).double()
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = rng.standard_normal((N, T, I) if bf else (T, N, I))
    xt, tx = ts.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    P = kw.get("proj_size", 0) or H
    widths = (P, H) if kind == "LSTM" else (P,)
    hs = [rng.standard_normal((D * L, N, w)) for w in widths] if with_hx else []
    ours_h = [ts.tensor(h, requires_grad=True) for h in hs]
    torch_h = [torch.tensor(h, requires_grad=True) for h in hs]
    pack = (lambda hh: None if not hh else (tuple(hh) if kind == "LSTM" else hh[0]))
    p = pack_padded_sequence(xt, lengths, bf, enforce)
    q = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, bf, enforce)
    out, h = m(p, pack(ours_h))
    tout, th = tm(q, pack(torch_h))
    assert isinstance(out, PackedSequence)
    _close(out.data, tout.data)
    assert out.batch_sizes.tolist() == tout.batch_sizes.tolist()
    for a, b in ((out.sorted_indices, tout.sorted_indices),
                 (out.unsorted_indices, tout.unsorted_indices)):
        assert (a is None) == (b is None) and (a is None or a.tolist() == b.tolist())
    h = h if isinstance(h, tuple) else (h,)
    th = th if isinstance(th, tuple) else (th,)
    for a, b in zip(h, th):
        assert a.shape == tuple(b.shape)
        _close(a, b)
    w = rng.standard_normal(tuple(tout.data.shape))
    wh = [rng.standard_normal(tuple(t.shape)) for t in th]
    ((out.data * ts.tensor(w)).sum() + sum((a * ts.tensor(v)).sum()
                                           for a, v in zip(h, wh))).backward()
    ((tout.data * torch.tensor(w)).sum() + sum((b * torch.tensor(v)).sum()
                                               for b, v in zip(th, wh))).backward()
    tp = dict(tm.named_parameters())
    for n, prm in m.named_parameters():
        np.testing.assert_allclose(prm.grad.numpy(), tp[n].grad.numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=n)
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    for a, b in zip(ours_h, torch_h):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)
