"""The check shared by the recurrent-layer tests: our layer against torch.nn's with the
same weights, outputs, final states and every gradient."""
import numpy as np

import tinygrad_seq as ts


def assert_layer_matches_torch(m, tm, x, states, lengths, batch_first, lstm, rng):
    """Run our layer `m` and torch's `tm` (same weights, float64) on the NumPy input `x`
    with initial `states` (NumPy arrays: h, then c for an LSTM; [] for none) and
    `lengths` (torch gets a packed sequence). Outputs and final states must agree; then,
    after a loss weighing every output and final state differently, so must the
    gradients of every parameter, of the input and of the initial states."""
    import torch
    T = x.shape[1] if batch_first and x.ndim == 3 else x.shape[0]
    tx = torch.tensor(x, requires_grad=True)
    tst = [torch.tensor(s, requires_grad=True) for s in states]
    thx = (tuple(tst) if lstm else tst[0]) if states else None
    if lengths is None:
        tout, th = tm(tx, thx)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, batch_first=batch_first,
                                                         enforce_sorted=False)
        tout, th = tm(packed, thx)
        tout, _ = torch.nn.utils.rnn.pad_packed_sequence(tout, batch_first=batch_first,
                                                         total_length=T)
    xt = ts.tensor(x, requires_grad=True)
    st_ = [ts.tensor(s, requires_grad=True) for s in states]
    hx = (tuple(st_) if lstm else st_[0]) if states else None
    out, h = m(xt, hx, lengths=lengths)
    th, h = (th if isinstance(th, tuple) else (th,)), (h if isinstance(h, tuple) else (h,))
    assert out.shape == tuple(tout.shape)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    for a, b in zip(h, th):
        assert a.shape == tuple(b.shape)
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    w_out = rng.standard_normal(tuple(tout.shape))
    w_h = [rng.standard_normal(tuple(t.shape)) for t in th]
    ((tout * torch.tensor(w_out)).sum() + sum((t * torch.tensor(w)).sum()
                                              for t, w in zip(th, w_h))).backward()
    ((out * ts.tensor(w_out)).sum() + sum((t * ts.tensor(w)).sum() for t, w in zip(h, w_h))).backward()
    tp = dict(tm.named_parameters())
    for n, p in m.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[n].grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=n)
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    for a, b in zip(st_, tst):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)
