"""Transformer layers and stacks against torch.nn with the same weights (outputs, input
gradients and every parameter's gradient), causality of the decoder, and the
fully-masked-row rule inside a layer."""
import numpy as np
import pytest

import tinygrad_seq as ts
from tinygrad_seq import nn

pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched")   # torch's, on mixed masks
RNG = np.random.default_rng(0)
E, H, FF = 8, 2, 16


def leaf(a):
    return ts.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def copy_from(torch_module, ours):
    ours.load_state_dict({k: v.detach().numpy() for k, v in torch_module.state_dict().items()})
    return ours


def assert_same_grads(ours, theirs):
    theirs = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(theirs)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs[name].grad.numpy(), rtol=1e-8, atol=1e-10,
                                   err_msg=name)


def seq(batch_first, N, T):
    return RNG.standard_normal((N, T, E) if batch_first else (T, N, E))


def run_both(torch, ours, theirs, inputs, ours_kw, torch_kw):
    """Run both on the same inputs, backprop a random projection, compare everything."""
    t_in = [torch.tensor(x, requires_grad=True) for x in inputs]
    o_in = [leaf(x) for x in inputs]
    want = theirs(*t_in, **torch_kw)
    got = ours(*o_in, **ours_kw)
    g = RNG.standard_normal(got.shape)
    want.backward(torch.tensor(g))
    got.backward(ts.tensor(g))
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-9, atol=1e-11)
    for o, t in zip(o_in, t_in):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-8, atol=1e-10)
    assert_same_grads(ours, theirs)


LAYER_CASES = [(norm_first, activation, batch_first)
               for norm_first in (False, True) for activation in ("relu", "gelu")
               for batch_first in (False, True)]


def masks(torch, N, L, S):
    causal = np.triu(np.full((L, L), -np.inf), k=1)
    kpm = np.zeros((N, S), dtype=bool)
    kpm[0, -1] = True
    return causal, kpm


@pytest.mark.parametrize("norm_first, activation, batch_first", LAYER_CASES)
def test_encoder_layer_matches_torch(norm_first, activation, batch_first):
    torch = pytest.importorskip("torch")
    kw = dict(dim_feedforward=FF, dropout=0.1, activation=activation, norm_first=norm_first,
              batch_first=batch_first)
    theirs = torch.nn.TransformerEncoderLayer(E, H, **kw).double().eval()   # eval: no dropout
    ours = copy_from(theirs, nn.TransformerEncoderLayer(E, H, **kw).double().eval())
    N, L = 3, 5
    causal, kpm = masks(torch, N, L, L)
    x = seq(batch_first, N, L)
    run_both(torch, ours, theirs, [x], dict(src_mask=causal, src_key_padding_mask=kpm),
             dict(src_mask=torch.tensor(causal), src_key_padding_mask=torch.tensor(kpm)))
    ours.zero_grad()
    theirs.zero_grad()
    run_both(torch, ours, theirs, [x], dict(is_causal=True),          # the mask from the flag
             dict(src_mask=torch.tensor(causal), is_causal=True))


@pytest.mark.parametrize("norm_first, activation, batch_first", LAYER_CASES)
def test_decoder_layer_matches_torch(norm_first, activation, batch_first):
    torch = pytest.importorskip("torch")
    kw = dict(dim_feedforward=FF, dropout=0.0, activation=activation, norm_first=norm_first,
              batch_first=batch_first)
    theirs = torch.nn.TransformerDecoderLayer(E, H, **kw).double()         # dropout 0, train mode
    ours = copy_from(theirs, nn.TransformerDecoderLayer(E, H, **kw).double())
    N, L, S = 3, 4, 6
    causal, mem_kpm = masks(torch, N, L, S)
    tgt_kpm = np.zeros((N, L), dtype=bool)
    tgt_kpm[1, -1] = True
    memory_mask = RNG.standard_normal((L, S))
    tgt, memory = seq(batch_first, N, L), seq(batch_first, N, S)
    ours_kw = dict(tgt_mask=causal, memory_mask=memory_mask, tgt_key_padding_mask=tgt_kpm,
                   memory_key_padding_mask=mem_kpm)
    run_both(torch, ours, theirs, [tgt, memory], ours_kw,
             {k: torch.tensor(v) for k, v in ours_kw.items()})


def test_layer_submodule_and_parameter_names_are_torchs():
    torch = pytest.importorskip("torch")
    for ours, theirs in ((nn.TransformerEncoderLayer(E, H, FF), torch.nn.TransformerEncoderLayer(E, H, FF)),
                         (nn.TransformerDecoderLayer(E, H, FF), torch.nn.TransformerDecoderLayer(E, H, FF))):
        assert [n for n, _ in ours.named_children()] == \
            [n for n, _ in theirs.named_children() if n != "activation"]
        assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    no_bias = nn.TransformerEncoderLayer(E, H, FF, bias=False)
    assert not [n for n, _ in no_bias.named_parameters() if n.endswith("bias")]
    with pytest.raises(ValueError, match="activation should be 'relu', 'gelu' or a callable"):
        nn.TransformerEncoderLayer(E, H, activation="swish")


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_and_decoder_stacks_match_torch(norm_first):
    torch = pytest.importorskip("torch")
    kw = dict(dim_feedforward=FF, dropout=0.0, norm_first=norm_first, batch_first=True)
    t_enc = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(E, H, **kw), 2,
                                        norm=torch.nn.LayerNorm(E), enable_nested_tensor=False).double()
    enc = copy_from(t_enc, nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, **kw), 2,
                                                 norm=nn.LayerNorm(E)).double())
    assert [n for n, _ in enc.named_parameters()][:2] == ["layers.0.self_attn.in_proj_weight",
                                                          "layers.0.self_attn.in_proj_bias"]
    N, L, S = 2, 4, 5
    causal, kpm = masks(torch, N, S, S)
    run_both(torch, enc, t_enc, [RNG.standard_normal((N, S, E))], dict(src_key_padding_mask=kpm),
             dict(src_key_padding_mask=torch.tensor(kpm)))
    t_dec = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(E, H, **kw), 3).double()
    dec = copy_from(t_dec, nn.TransformerDecoder(nn.TransformerDecoderLayer(E, H, **kw), 3).double())
    tgt_mask = np.triu(np.full((L, L), -np.inf), k=1)
    run_both(torch, dec, t_dec, [RNG.standard_normal((N, L, E)), RNG.standard_normal((N, S, E))],
             dict(tgt_mask=tgt_mask, memory_key_padding_mask=kpm),
             dict(tgt_mask=torch.tensor(tgt_mask), memory_key_padding_mask=torch.tensor(kpm)))


def test_stacks_hold_independent_deep_copies():
    layer = nn.TransformerEncoderLayer(E, H, FF)
    enc = nn.TransformerEncoder(layer, 3)
    assert len(enc.layers) == 3 and [n for n, _ in enc.named_children()] == ["layers"]
    w = [l.linear1.weight for l in enc.layers]
    assert w[0] is not w[1] and w[0] is not layer.linear1.weight
    np.testing.assert_array_equal(w[0].numpy(), w[1].numpy())            # copies: same start
    with ts.no_grad():
        w[0].fill_(0.0)
    assert (w[1].numpy() != 0).any() and (layer.linear1.weight.numpy() != 0).any()
    x = ts.randn(2, 4, E)
    enc(x).sum().backward()
    assert all(l.linear1.weight.grad is not None for l in enc.layers)


def test_decoder_is_causal_later_targets_do_not_change_earlier_outputs():
    ts.manual_seed(0)
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(E, H, FF, dropout=0.0, batch_first=True), 2,
                                norm=nn.LayerNorm(E)).double()
    tgt, memory = RNG.standard_normal((2, 6, E)), leaf(RNG.standard_normal((2, 5, E)))
    t = 3
    R = ts.tensor(RNG.standard_normal((2, t, E)))      # not .sum(): LayerNorm's rows sum to a constant
    for causal in (dict(tgt_is_causal=True), dict(tgt_mask=np.triu(np.ones((6, 6), dtype=bool), k=1))):
        x = leaf(tgt)
        out = dec(x, memory, **causal)
        (grad,) = ts.grad((out[:, :t] * R).sum(), [x])
        np.testing.assert_array_equal(grad.numpy()[:, t:], 0.0)            # exactly zero
        assert (grad.numpy()[:, :t] != 0).all()
        changed = tgt.copy()
        changed[:, t:] = RNG.standard_normal((2, 6 - t, E))
        out2 = dec(ts.tensor(changed), memory, **causal)
        np.testing.assert_array_equal(out2.numpy()[:, :t], out.numpy()[:, :t])
        assert not np.allclose(out2.numpy()[:, t:], out.numpy()[:, t:])
    x = leaf(tgt)                                                         # without a mask: leaks
    (grad,) = ts.grad((dec(x, memory)[:, :t] * R).sum(), [x])
    assert (grad.numpy()[:, t:] != 0).any()


def test_fully_masked_memory_row_passes_the_residual_through():
    layer = nn.TransformerDecoderLayer(E, H, FF, dropout=0.0, batch_first=True, norm_first=True).double()
    tgt, memory = leaf(RNG.standard_normal((2, 3, E))), leaf(RNG.standard_normal((2, 4, E)))
    kpm = np.zeros((2, 4), dtype=bool)
    kpm[1] = True                                   # batch 1 may attend to no memory at all
    out = layer(tgt, memory, memory_key_padding_mask=kpm)
    out.sum().backward()
    assert np.isfinite(out.numpy()).all()
    for t in (tgt, memory) + tuple(layer.parameters()):
        assert np.isfinite(t.grad.numpy()).all()
    np.testing.assert_array_equal(memory.grad.numpy()[1], 0.0)
    # batch 1 equals the layer without its cross-attention block
    x = ts.tensor(tgt.numpy()[1:])
    x = x + layer._sa_block(layer.norm1(x), None, None, False)
    x = x + layer.linear2(layer.activation(layer.linear1(layer.norm3(x))))
    np.testing.assert_allclose(out.numpy()[1:], x.numpy(), rtol=1e-12, atol=1e-12)


def test_dropout_in_training_mode_only():
    layer = nn.TransformerEncoderLayer(E, H, FF, dropout=0.5, batch_first=True)
    x = ts.randn(2, 4, E)
    ts.manual_seed(0)
    a = layer(x).numpy()
    ts.manual_seed(1)
    b = layer(x).numpy()
    assert not np.allclose(a, b)
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), layer(x).numpy())


def test_encoder_layer_gradients_of_gradients():
    ts.manual_seed(0)
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, activation="gelu", batch_first=True).double()
    x = leaf(RNG.standard_normal((2, 3, 4)))
    kpm = np.array([[False, False, True], [True, True, True]])   # batch 1: every key masked
    assert ts.gradcheck(lambda x: layer(x, src_key_padding_mask=kpm), x)
    assert ts.gradgradcheck(lambda x: layer(x, src_key_padding_mask=kpm), x)
    assert ts.gradgradcheck(lambda x: layer(x, is_causal=True), x)


# ---------------------------------------------------------------- nn.Transformer
# (found by tests/conformance: pytorch/examples' word_language_model subclasses it, and
# tutorials call nn.Transformer.generate_square_subsequent_mask)

@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_matches_torch(batch_first):
    torch = pytest.importorskip("torch")
    kw = dict(d_model=E, nhead=H, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=FF,
              dropout=0.0, batch_first=batch_first)
    theirs = torch.nn.Transformer(**kw).double()
    ours = nn.Transformer(**kw).double()
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    # torch's initialisation: xavier-uniform for every weight of more than one dim
    w = ours.encoder.layers[0].linear1.weight.numpy()
    assert np.abs(w).max() <= np.sqrt(6 / (E + FF)) and np.abs(w).max() > 0.5 * np.sqrt(6 / (E + FF))
    assert np.all(ours.encoder.norm.weight.numpy() == 1)
    copy_from(theirs, ours)
    N, L, S = 2, 4, 5
    causal, kpm = masks(torch, N, L, S)
    shape = (lambda T: (N, T, E)) if batch_first else (lambda T: (T, N, E))
    run_both(torch, ours, theirs, [RNG.standard_normal(shape(S)), RNG.standard_normal(shape(L))],
             dict(tgt_mask=causal, src_key_padding_mask=kpm, memory_key_padding_mask=kpm),
             dict(tgt_mask=torch.tensor(causal), src_key_padding_mask=torch.tensor(kpm),
                  memory_key_padding_mask=torch.tensor(kpm)))


def test_transformer_square_subsequent_mask_is_torchs():
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(nn.Transformer.generate_square_subsequent_mask(4).numpy(),
                                  torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())
    assert nn.Transformer.generate_square_subsequent_mask(3, dtype=ts.float64).dtype == ts.float64
