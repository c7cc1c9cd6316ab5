"""Empty inputs give empty results, as in PyTorch: recurrent layers and cells with a
batch of 0 (outputs and states of batch 0, zero weight gradients), softmax and
log_softmax over a zero-length axis (empty), logsumexp of nothing (-inf)."""
import numpy as np
import pytest

import tinygrad_seq as ts
import tinygrad_seq.functional as F
from torch_ref import needs_torch, torch

LAYERS = ["RNN", "GRU", "LSTM"]
CELLS = ["RNNCell", "GRUCell", "LSTMCell"]


def _layer_shapes(module, name, batch_first, **options):
    """(output shape, state shapes, input grad shape, weight_hh_l0 grad) of a two-layer
    bidirectional layer (input 3, hidden 4) on 5 steps of an empty batch (`options`:
    ours only, fused=)."""
    layer = getattr(module.nn, name)(3, 4, num_layers=2, batch_first=batch_first,
                                     bidirectional=True, **options)
    x = module.zeros(*((0, 5, 3) if batch_first else (5, 0, 3)), requires_grad=True)
    out, state = layer(x)
    states = state if isinstance(state, tuple) else (state,)
    (out.sum() + sum(s.sum() for s in states)).backward()
    grad = layer.weight_hh_l0.grad
    return (tuple(out.shape), [tuple(s.shape) for s in states], tuple(x.grad.shape),
            None if grad is None else np.asarray(grad.numpy()))


def _cell_shapes(module, name, **options):
    cell = getattr(module.nn, name)(3, 4, **options)
    x = module.zeros(0, 3, requires_grad=True)
    state = cell(x)
    states = state if isinstance(state, tuple) else (state,)
    sum(s.sum() for s in states).backward()
    grad = cell.weight_hh.grad
    return ([tuple(s.shape) for s in states], tuple(x.grad.shape),
            None if grad is None else np.asarray(grad.numpy()))


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("name", LAYERS)
def test_recurrent_layers_take_an_empty_batch(name, batch_first, fused):
    out, states, x_grad, w_grad = _layer_shapes(ts, name, batch_first, fused=fused)
    assert out == ((0, 5, 8) if batch_first else (5, 0, 8))
    assert states == [(4, 0, 4)] * (2 if name == "LSTM" else 1)
    assert x_grad == ((0, 5, 3) if batch_first else (5, 0, 3))
    gates = {"RNN": 1, "GRU": 3, "LSTM": 4}[name]
    np.testing.assert_array_equal(w_grad, np.zeros((4 * gates, 4)))


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("name", CELLS)
def test_recurrent_cells_take_an_empty_batch(name, fused):
    states, x_grad, w_grad = _cell_shapes(ts, name, fused=fused)
    assert states == [(0, 4)] * (2 if name == "LSTMCell" else 1)
    assert x_grad == (0, 3)
    gates = {"RNNCell": 1, "GRUCell": 3, "LSTMCell": 4}[name]
    np.testing.assert_array_equal(w_grad, np.zeros((4 * gates, 4)))


@needs_torch
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("name", LAYERS)
def test_empty_batch_layers_match_torch(name, batch_first):
    ours, theirs = _layer_shapes(ts, name, batch_first), _layer_shapes(torch, name, batch_first)
    assert ours[:3] == theirs[:3]
    np.testing.assert_array_equal(ours[3], theirs[3])


@needs_torch
@pytest.mark.parametrize("name", CELLS)
def test_empty_batch_cells_match_torch(name):
    ours, theirs = _cell_shapes(ts, name), _cell_shapes(torch, name)
    assert ours[:2] == theirs[:2]
    np.testing.assert_array_equal(ours[2], theirs[2])


EMPTY_AXES = [((3, 0), 1), ((0,), 0), ((0, 3), 1), ((3, 0), 0), ((2, 0, 4), 1)]


def _softmax_family(module, functional, fn, shape, dim):
    x = module.zeros(*shape, requires_grad=True)
    y = getattr(functional, fn)(x, dim=dim)
    y.sum().backward()
    return tuple(y.shape), tuple(x.grad.shape)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, dim", EMPTY_AXES)
def test_softmax_over_an_empty_axis_is_empty(fn, shape, dim):
    assert _softmax_family(ts, F, fn, shape, dim) == (shape, shape)
    x = ts.zeros(*shape)
    assert tuple(getattr(x, fn)(dim).shape) == shape      # the Tensor methods too


@needs_torch
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, dim", EMPTY_AXES)
def test_softmax_over_an_empty_axis_matches_torch(fn, shape, dim):
    assert _softmax_family(ts, F, fn, shape, dim) == \
        _softmax_family(torch, torch.nn.functional, fn, shape, dim)


@pytest.mark.parametrize("shape, dim", [((3, 0), 1), ((0,), 0), ((0, 3), 1)])
def test_logsumexp_of_nothing_is_minus_infinity(shape, dim):
    x = ts.zeros(*shape, requires_grad=True)
    y = x.logsumexp(dim)
    y.sum().backward()
    expected = np.full(np.zeros(shape).sum(axis=dim).shape, -np.inf, np.float32)
    np.testing.assert_array_equal(y.numpy(), expected)
    assert tuple(x.grad.shape) == shape
    if torch is not None:
        np.testing.assert_array_equal(torch.zeros(*shape).logsumexp(dim).numpy(), expected)
