"""Names a PyTorch tutorial uses with ``torch`` renamed to ``tinygrad_seq``: each is
checked against torch 2.13 (values, dtypes, gradients, reprs, errors)."""
import numpy as np
import pytest
from torch_ref import needs_torch, torch

import tinygrad_seq as ts
import tinygrad_seq.functional as F
from tinygrad_seq import nn


def _both(fn):
    """fn(lib) run on torch and tinygrad_seq; the two results."""
    return fn(torch), fn(ts)


# ---------------------------------------------------------------- __format__

@needs_torch
@pytest.mark.parametrize("value, spec", [(1.5, ".4f"), (3, "5d"), (2.0, ""), (0.125, "e"),
                                         (True, "")])
def test_format_zero_dim_formats_the_item(value, spec):
    want = format(torch.tensor(value), spec)
    assert format(ts.tensor(value), spec) == want
    assert f"{ts.tensor(value):{spec}}" == want


@needs_torch
@pytest.mark.parametrize("data", [[1.5], [1.5, 2.0]])
def test_format_of_a_non_scalar_tensor(data):
    with pytest.raises(TypeError):
        format(torch.tensor(data), ".4f")
    with pytest.raises(TypeError):
        format(ts.tensor(data), ".4f")
    assert format(ts.tensor(data)) == str(ts.tensor(data))


def test_format_keeps_the_graph_alone():
    x = ts.tensor(2.0, requires_grad=True)
    loss = x * 3
    assert f"loss {loss:.3f}" == "loss 6.000"
    loss.backward()
    assert x.grad.item() == 3.0
