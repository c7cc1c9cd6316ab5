"""Bad numeric arguments of the public constructors (nn, optim, optim.lr_scheduler) and
of the factories: a wrong type raises TypeError, a wrong value ValueError (PyTorch's
convention), and the message names the function, the argument and what it got.

One row per case: (what is called, the call, the exception, words the message must
contain). The checks themselves live in ``tinygrad_seq/checks.py``.
"""

import pytest

import tinygrad_seq as ts
from tinygrad_seq import nn, optim
from tinygrad_seq.optim import lr_scheduler


def _params():
    return [nn.Parameter(ts.zeros(2))]


def _sgd():
    return optim.SGD(_params(), lr=0.1)


def _layer(**kw):
    return nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, **kw)


T, V = TypeError, ValueError

CASES = [
    # ---- factories
    ("zeros(-1)", lambda: ts.zeros(-1), V, "zeros: sizes", "-1"),
    ("zeros(2.5)", lambda: ts.zeros(2, 2.5), T, "zeros", "2.5"),
    ("ones((2, -3))", lambda: ts.ones((2, -3)), V, "ones: sizes", "-3"),
    ("empty(-1)", lambda: ts.empty(-1), V, "empty", "-1"),
    ("full((-1,), 0)", lambda: ts.full((-1,), 0.0), V, "full: sizes", "-1"),
    ("full((2,), 'x')", lambda: ts.full((2,), "x"), T, "full: fill_value", "'x'"),
    ("randn(-2)", lambda: ts.randn(-2), V, "randn: sizes", "-2"),
    ("randn(1.5)", lambda: ts.randn(1.5), T, "randn", "1.5"),
    ("rand(-2)", lambda: ts.rand(3, -2), V, "rand: sizes", "-2"),
    ("arange step 0", lambda: ts.arange(0, 5, 0), V, "arange: step", "0"),
    ("arange step sign", lambda: ts.arange(0, 5, -1), V, "arange: step", "-1"),
    ("arange 'x'", lambda: ts.arange("x"), T, "arange: end", "'x'"),
    ("arange inf", lambda: ts.arange(0, float("inf")), V, "arange: end", "inf"),
    ("arange nan step", lambda: ts.arange(0, 5, float("nan")), V, "arange: step", "nan"),
    ("linspace steps -1", lambda: ts.linspace(0, 1, -1), V, "linspace: steps", "-1"),
    ("linspace steps 2.5", lambda: ts.linspace(0, 1, 2.5), T, "linspace: steps", "2.5"),
    ("linspace start 'a'", lambda: ts.linspace("a", 1, 3), T, "linspace: start", "'a'"),
    ("eye(-1)", lambda: ts.eye(-1), V, "eye: n", "-1"),
    ("eye(2.5)", lambda: ts.eye(2.5), T, "eye: n", "2.5"),
    ("eye(2, -1)", lambda: ts.eye(2, -1), V, "eye: m", "-1"),
    ("randint low >= high", lambda: ts.randint(5, 2, (3,)), V, "randint: low", "high=2"),
    ("randint high 2.5", lambda: ts.randint(0, 2.5, (3,)), T, "randint: high", "2.5"),
    ("randint size -1", lambda: ts.randint(0, 5, (-1,)), V, "randint: sizes", "-1"),
    # ---- nn
    ("Linear out -1", lambda: nn.Linear(3, -1), V, "Linear: out_features", "-1"),
    ("Linear in 3.5", lambda: nn.Linear(3.5, 2), T, "Linear: in_features", "3.5"),
    ("Linear in '3'", lambda: nn.Linear("3", 2), T, "Linear: in_features", "'3'"),
    ("Embedding -1", lambda: nn.Embedding(-1, 3), V, "Embedding: num_embeddings", "-1"),
    ("Embedding dim 2.5", lambda: nn.Embedding(10, 2.5), T, "Embedding: embedding_dim", "2.5"),
    ("LayerNorm 2.5", lambda: nn.LayerNorm(2.5), T, "LayerNorm: normalized_shape", "2.5"),
    ("LayerNorm -1", lambda: nn.LayerNorm((3, -1)), V, "LayerNorm: sizes", "-1"),
    ("LayerNorm eps 'x'", lambda: nn.LayerNorm(3, eps="x"), T, "LayerNorm: eps", "'x'"),
    ("LayerNorm eps -1", lambda: nn.LayerNorm(3, eps=-1.0), V, "LayerNorm: eps", "-1.0"),
    ("Dropout 1.5", lambda: nn.Dropout(1.5), V, "Dropout: p", "1.5"),
    ("Dropout 'x'", lambda: nn.Dropout("x"), T, "Dropout: p", "'x'"),
    ("GELU approximate", lambda: nn.GELU("fast"), V, "GELU: approximate", "'fast'"),
    ("Softmax dim 1.5", lambda: nn.Softmax(dim=1.5), T, "Softmax: dim", "1.5"),
    ("LogSoftmax dim 'x'", lambda: nn.LogSoftmax(dim="x"), T, "LogSoftmax: dim", "'x'"),
    ("PositionalEncoding d_model 0", lambda: nn.PositionalEncoding(0), V,
     "PositionalEncoding: d_model", "0"),
    ("PositionalEncoding max_len 2.5", lambda: nn.PositionalEncoding(4, max_len=2.5), T,
     "PositionalEncoding: max_len", "2.5"),
    ("PositionalEncoding dropout 2", lambda: nn.PositionalEncoding(4, dropout=2.0), V,
     "Dropout: p", "2.0"),
    ("LSTM hidden -1", lambda: nn.LSTM(3, -1), V, "LSTM: hidden_size", "-1"),
    ("LSTM hidden 2.5", lambda: nn.LSTM(3, 2.5), T, "LSTM: hidden_size", "2.5"),
    ("LSTM hidden 0", lambda: nn.LSTM(3, 0), V, "LSTM: hidden_size", "0"),
    ("LSTM input -3", lambda: nn.LSTM(-3, 4), V, "LSTM: input_size", "-3"),
    ("GRU num_layers 0", lambda: nn.GRU(3, 4, num_layers=0), V, "GRU: num_layers", "0"),
    ("GRU num_layers 1.5", lambda: nn.GRU(3, 4, num_layers=1.5), T, "GRU: num_layers", "1.5"),
    ("RNN dropout 2", lambda: nn.RNN(3, 4, dropout=2), V, "RNN: dropout", "2"),
    ("RNN dropout 'x'", lambda: nn.RNN(3, 4, dropout="x"), T, "RNN: dropout", "'x'"),
    ("LSTM proj_size 1.5", lambda: nn.LSTM(3, 4, proj_size=1.5), T, "LSTM: proj_size", "float"),
    ("LSTMCell hidden 2.5", lambda: nn.LSTMCell(3, 2.5), T, "LSTMCell: hidden_size", "2.5"),
    ("GRUCell hidden -1", lambda: nn.GRUCell(3, -1), V, "GRUCell: hidden_size", "-1"),
    ("RNNCell input 'a'", lambda: nn.RNNCell("a", 3), T, "RNNCell: input_size", "'a'"),
    ("MultiheadAttention heads 0", lambda: nn.MultiheadAttention(4, 0), V,
     "MultiheadAttention: num_heads", "0"),
    ("MultiheadAttention embed 4.0", lambda: nn.MultiheadAttention(4.0, 2), T,
     "MultiheadAttention: embed_dim", "4.0"),
    ("MultiheadAttention dropout -0.1", lambda: nn.MultiheadAttention(4, 2, dropout=-0.1), V,
     "MultiheadAttention: dropout", "-0.1"),
    ("MultiheadAttention kdim 0", lambda: nn.MultiheadAttention(4, 2, kdim=0), V,
     "MultiheadAttention: kdim", "0"),
    ("AdditiveAttention hidden 0", lambda: nn.AdditiveAttention(3, 3, 0), V,
     "AdditiveAttention: hidden_dim", "0"),
    ("AdditiveAttention query 2.5", lambda: nn.AdditiveAttention(2.5, 3, 4), T,
     "AdditiveAttention: query_dim", "2.5"),
    ("EncoderLayer nhead 0", lambda: nn.TransformerEncoderLayer(4, 0), V,
     "TransformerEncoderLayer: nhead", "0"),
    ("EncoderLayer dim_feedforward 2.5", lambda: nn.TransformerEncoderLayer(4, 2, 2.5), T,
     "TransformerEncoderLayer: dim_feedforward", "2.5"),
    ("EncoderLayer dropout 1.5", lambda: _layer(dropout=1.5), V,
     "TransformerEncoderLayer: dropout", "1.5"),
    ("DecoderLayer d_model -4", lambda: nn.TransformerDecoderLayer(-4, 2), V,
     "TransformerDecoderLayer: d_model", "-4"),
    ("DecoderLayer eps 'x'", lambda: nn.TransformerDecoderLayer(4, 2, layer_norm_eps="x"), T,
     "TransformerDecoderLayer: layer_norm_eps", "'x'"),
    ("Encoder num_layers -1", lambda: nn.TransformerEncoder(_layer(), -1), V,
     "TransformerEncoder: num_layers", "-1"),
    ("Encoder num_layers 2.5", lambda: nn.TransformerEncoder(_layer(), 2.5), T,
     "TransformerEncoder: num_layers", "2.5"),
    ("CrossEntropyLoss smoothing 2", lambda: nn.CrossEntropyLoss(label_smoothing=2.0), V,
     "CrossEntropyLoss: label_smoothing", "2.0"),
    ("CrossEntropyLoss ignore 1.5", lambda: nn.CrossEntropyLoss(ignore_index=1.5), T,
     "CrossEntropyLoss: ignore_index", "1.5"),
    ("NLLLoss ignore 'x'", lambda: nn.NLLLoss(ignore_index="x"), T, "NLLLoss: ignore_index", "'x'"),
    ("CTCLoss blank -1", lambda: nn.CTCLoss(blank=-1), V, "CTCLoss: blank", "-1"),
    ("CTCLoss blank 0.5", lambda: nn.CTCLoss(blank=0.5), T, "CTCLoss: blank", "0.5"),
    # ---- optim
    ("SGD lr 'x'", lambda: optim.SGD(_params(), lr="x"), T, "SGD: lr", "'x'"),
    ("SGD lr -1", lambda: optim.SGD(_params(), lr=-1.0), V, "SGD: lr", "-1.0"),
    ("SGD lr nan", lambda: optim.SGD(_params(), lr=float("nan")), V, "SGD: lr", "nan"),
    ("SGD momentum -0.5", lambda: optim.SGD(_params(), momentum=-0.5), V, "SGD: momentum", "-0.5"),
    ("SGD weight_decay 'x'", lambda: optim.SGD(_params(), weight_decay="x"), T,
     "SGD: weight_decay", "'x'"),
    ("SGD dampening None", lambda: optim.SGD(_params(), dampening=None), T, "SGD: dampening", "None"),
    ("Adam lr 'x'", lambda: optim.Adam(_params(), lr="x"), T, "Adam: lr", "'x'"),
    ("Adam lr -1", lambda: optim.Adam(_params(), lr=-1e-3), V, "Adam: lr", "-0.001"),
    ("Adam eps -1", lambda: optim.Adam(_params(), eps=-1.0), V, "Adam: eps", "-1.0"),
    ("Adam betas 1", lambda: optim.Adam(_params(), betas=(1.0, 0.9)), V, "Adam: betas[0]", "1.0"),
    ("Adam betas one", lambda: optim.Adam(_params(), betas=(0.9,)), V, "Adam: betas", "(0.9,)"),
    ("Adam betas 0.9", lambda: optim.Adam(_params(), betas=0.9), T, "Adam: betas", "0.9"),
    ("Adam betas 'x'", lambda: optim.Adam(_params(), betas=(0.9, "x")), T, "Adam: betas[1]", "'x'"),
    ("AdamW weight_decay -1", lambda: optim.AdamW(_params(), weight_decay=-1.0), V,
     "AdamW: weight_decay", "-1.0"),
    ("SparseAdam lr 0", lambda: optim.SparseAdam(_params(), lr=0.0), V, "SparseAdam: lr", "0.0"),
    ("SparseAdam eps 'x'", lambda: optim.SparseAdam(_params(), eps="x"), T, "SparseAdam: eps", "'x'"),
    ("RMSprop alpha -1", lambda: optim.RMSprop(_params(), alpha=-1.0), V, "RMSprop: alpha", "-1.0"),
    ("RMSprop momentum 'x'", lambda: optim.RMSprop(_params(), momentum="x"), T,
     "RMSprop: momentum", "'x'"),
    ("BatchNorm1d eps -1", lambda: nn.BatchNorm1d(3, eps=-1.0), V, "BatchNorm1d: eps", "-1.0"),
    ("BatchNorm1d momentum 'x'", lambda: nn.BatchNorm1d(3, momentum="x"), T,
     "BatchNorm1d: momentum", "'x'"),
    ("HuberLoss delta 0", lambda: nn.HuberLoss(delta=0.0), V, "HuberLoss: delta", "0.0"),
    ("SmoothL1Loss beta 'x'", lambda: nn.SmoothL1Loss(beta="x"), T, "SmoothL1Loss: beta", "'x'"),
    ("param group lr -1", lambda: _sgd().add_param_group({"params": _params(), "lr": -1.0}), V,
     "SGD: lr", "-1.0"),
    # ---- lr_scheduler
    ("StepLR step_size 0", lambda: lr_scheduler.StepLR(_sgd(), 0), V, "StepLR: step_size", "0"),
    ("StepLR step_size 'x'", lambda: lr_scheduler.StepLR(_sgd(), "x"), T, "StepLR: step_size", "'x'"),
    ("StepLR step_size -1.5", lambda: lr_scheduler.StepLR(_sgd(), -1.5), V, "StepLR: step_size", "-1.5"),
    ("StepLR gamma 'x'", lambda: lr_scheduler.StepLR(_sgd(), 2, gamma="x"), T, "StepLR: gamma", "'x'"),
    ("ExponentialLR gamma None", lambda: lr_scheduler.ExponentialLR(_sgd(), None), T,
     "ExponentialLR: gamma", "None"),
    ("CosineAnnealingLR T_max 0", lambda: lr_scheduler.CosineAnnealingLR(_sgd(), 0), V,
     "CosineAnnealingLR: T_max", "0"),
    ("CosineAnnealingLR eta_min 'x'", lambda: lr_scheduler.CosineAnnealingLR(_sgd(), 5, "x"), T,
     "CosineAnnealingLR: eta_min", "'x'"),
    ("LinearLR start 0", lambda: lr_scheduler.LinearLR(_sgd(), start_factor=0.0), V,
     "LinearLR: start_factor", "0.0"),
    ("LinearLR end 'x'", lambda: lr_scheduler.LinearLR(_sgd(), end_factor="x"), T,
     "LinearLR: end_factor", "'x'"),
    ("LinearLR total_iters None", lambda: lr_scheduler.LinearLR(_sgd(), total_iters=None), T,
     "LinearLR: total_iters", "None"),
    ("LinearLR total_iters -1", lambda: lr_scheduler.LinearLR(_sgd(), total_iters=-1), V,
     "LinearLR: total_iters", "-1"),
    ("ReduceLROnPlateau factor 1", lambda: lr_scheduler.ReduceLROnPlateau(_sgd(), factor=1.0), V,
     "ReduceLROnPlateau: factor", "1.0"),
    ("ReduceLROnPlateau patience 'x'", lambda: lr_scheduler.ReduceLROnPlateau(_sgd(), patience="x"),
     T, "ReduceLROnPlateau: patience", "'x'"),
    ("OneCycleLR total_steps 0", lambda: lr_scheduler.OneCycleLR(_sgd(), 1.0, total_steps=0), V,
     "OneCycleLR", "total_steps"),
    ("LambdaLR lr_lambda 3", lambda: lr_scheduler.LambdaLR(_sgd(), 3), T, "LambdaLR: lr_lambda", "3"),
    ("LambdaLR optimizer", lambda: lr_scheduler.LambdaLR(None, lambda e: 1.0), T,
     "LambdaLR", "NoneType"),
    ("last_epoch 1.5", lambda: lr_scheduler.ExponentialLR(_sgd(), 0.5, last_epoch=1.5), T,
     "ExponentialLR: last_epoch", "1.5"),
    ("last_epoch -2", lambda: lr_scheduler.ExponentialLR(_sgd(), 0.5, last_epoch=-2), V,
     "ExponentialLR: last_epoch", "-2"),
]


@pytest.mark.parametrize("call, error, names, got", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_argument_raises_a_clear_error(call, error, names, got):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert names in message and got in message, message


def test_type_errors_are_not_value_errors():
    """A wrong type and a wrong value stay distinguishable (torch's convention)."""
    for _, call, error, _, _ in CASES:
        with pytest.raises((T, V)) as info:
            call()
        other = V if error is T else T
        assert not isinstance(info.value, other), (info.value, error)


GOOD_CALLS = [
    lambda: ts.zeros(0), lambda: ts.arange(5, 0, -1), lambda: ts.arange(0.0, 1.0, 0.25),
    lambda: ts.arange(3, 3), lambda: ts.linspace(0, 1, 0), lambda: ts.eye(0),
    lambda: ts.randint(3, size=(2,)), lambda: nn.Linear(0, 3), lambda: nn.LSTM(0, 1),
    lambda: nn.LayerNorm([2, 3]), lambda: nn.Dropout(1), lambda: nn.Embedding(0, 0),
    lambda: optim.Adam(_params(), lr=0, betas=[0.0, 0.5]), lambda: nn.Softmax(dim=-1),
    lambda: lr_scheduler.CosineAnnealingLR(_sgd(), 0.5),
    lambda: lr_scheduler.LinearLR(_sgd(), total_iters=0),
    lambda: nn.TransformerEncoder(_layer(), 0),
    lambda: nn.BatchNorm1d(0), lambda: nn.SmoothL1Loss(beta=0.0),
    lambda: lr_scheduler.ReduceLROnPlateau(_sgd(), patience=0),
    lambda: lr_scheduler.OneCycleLR(_sgd(), 1.0, total_steps=1),
]


@pytest.mark.parametrize("call", GOOD_CALLS)
def test_edge_values_that_are_valid_still_work(call):
    call()
