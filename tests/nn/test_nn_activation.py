"""Activation modules give the functions of the same name, and line up with torch's
Sequential state-dict keys."""
import numpy as np
import pytest

import tinygrad_seq as ts
import tinygrad_seq.functional as F
from tinygrad_seq import nn


@pytest.mark.parametrize("module, fn", [
    (nn.ReLU(), F.relu), (nn.Tanh(), F.tanh), (nn.Sigmoid(), F.sigmoid),
    (nn.GELU(), F.gelu), (nn.Softmax(dim=0), lambda x: F.softmax(x, axis=0)),
    (nn.LogSoftmax(dim=1), lambda x: F.log_softmax(x, axis=1)), (nn.Identity(), lambda x: x),
])
def test_module_equals_function(module, fn):
    x = ts.tensor(np.linspace(-3, 3, 12).reshape(3, 4))
    np.testing.assert_allclose(module(x).numpy(), fn(x).numpy())
    assert module.num_parameters() == 0


def test_gelu_tanh_approximation_differs_from_exact():
    x = ts.tensor([1.0])
    assert nn.GELU("tanh")(x).item() != nn.GELU()(x).item()
    assert "approximate='tanh'" in repr(nn.GELU("tanh"))


def test_torch_sequential_with_activations_loads():
    torch = pytest.importorskip("torch")
    tm = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2),
                             torch.nn.Softmax(dim=-1))
    ours = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2), nn.Softmax(dim=-1))
    ours.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(ts.tensor(x)).numpy(), tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    assert repr(ours) == repr(tm)
