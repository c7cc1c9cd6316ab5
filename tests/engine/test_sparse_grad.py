"""The gradient protocol (sparse_grad.py): IndexedGrad, RowSparseGrad and ProductGrad
are implementations of one interface (add, add to dense, densify, scale, finite check),
and the engine and the optimizers test for the protocol only."""
import re

import numpy as np
import pytest

from tinygrad_seq.indexed_grad import IndexedGrad
from tinygrad_seq.product_grad import ProductGrad
from tinygrad_seq.sparse import RowSparseGrad
from tinygrad_seq.sparse_grad import SparseGrad

from paths import PACKAGE
SHAPE = (5, 3)
ROWS = np.array([3, 0, 3, 4])


def values(seed=0):
    return np.random.default_rng(seed).standard_normal((len(ROWS), SHAPE[1]))


def dense(vals):
    out = np.zeros(SHAPE)
    np.add.at(out, ROWS, vals)
    return out


def indexed(vals):
    return IndexedGrad(SHAPE, vals.dtype, [(ROWS[:2], vals[:2], False), (ROWS[2:], vals[2:], False)])


def row_sparse(vals):
    return RowSparseGrad(ROWS, vals, SHAPE)


def product(vals):
    """The same sum as a sum of products: one-hot rows^T @ values, in two pairs."""
    onehot_t = np.zeros((SHAPE[0], len(ROWS)))
    onehot_t[ROWS, np.arange(len(ROWS))] = 1.0
    return ProductGrad(SHAPE, vals.dtype, [(onehot_t[:, :2], vals[:2]), (onehot_t[:, 2:], vals[2:])])


KINDS = {"IndexedGrad": indexed, "RowSparseGrad": row_sparse, "ProductGrad": product}


@pytest.mark.parametrize("make", list(KINDS.values()), ids=list(KINDS))
def test_one_interface_two_implementations(make):
    vals = values()
    g = make(vals.copy())
    assert isinstance(g, SparseGrad) and g.is_sparse and tuple(g.shape) == SHAPE
    np.testing.assert_allclose(make(vals.copy()).dense_array(), dense(vals))       # densify
    table = np.ones(SHAPE)
    assert make(vals.copy()).add_to_(table, alpha=-0.5) is table                   # add to dense
    np.testing.assert_allclose(table, 1 - 0.5 * dense(vals))
    np.testing.assert_allclose(make(vals.copy()).mul_(3.0).dense_array(), 3 * dense(vals))   # scale
    total = make(vals.copy()) + np.full(SHAPE, 2.0)                                # add
    total = total.dense_array() if isinstance(total, SparseGrad) else total
    np.testing.assert_allclose(total, dense(vals) + 2)
    both = make(vals.copy()) + make(values(1))
    np.testing.assert_allclose(both.dense_array(), dense(vals) + dense(values(1)))
    assert make(vals.copy()).is_finite()                                            # finite check
    bad = vals.copy()
    bad[1, 2] = np.nan
    assert not make(bad).is_finite()


def test_only_row_sparse_is_kept_in_grad():
    assert RowSparseGrad.kept_in_grad and not IndexedGrad.kept_in_grad
    assert not ProductGrad.kept_in_grad


def test_a_weight_in_every_step_gets_its_products_summed_once():
    """W used at T steps: its gradient is the sum of T products, made as one product of
    the factors side by side; equal to the study engine's dense sum, also with a dense
    gradient joining, hooks, ts.grad and create_graph."""
    import tinygrad_seq as ts
    from tinygrad_seq import reference_engine
    rng = np.random.default_rng(0)
    W = ts.tensor(rng.standard_normal((4, 6)), requires_grad=True)
    V = ts.tensor(rng.standard_normal((6, 4)), requires_grad=True)
    xs = [ts.tensor(rng.standard_normal((6, 3))) for _ in range(5)]

    def loss():
        h = ts.zeros(4, 3, dtype=ts.float64)
        for x in xs:
            h = (W @ x + h).tanh()
            h = h + (V @ h).sum() * 0.01      # V used at every step too (second operand)
        return (h * h).sum() + (W * W).sum()  # a dense gradient joins W's products
    want = reference_engine.grad(loss(), [W, V])
    got = ts.grad(loss(), [W, V])
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-12)
    W.grad = V.grad = None
    seen = []
    W.register_hook(lambda g: seen.append(type(g).__name__))
    loss().backward()
    assert seen == ["Tensor"]                 # hooks see a dense Tensor
    np.testing.assert_allclose(W.grad.numpy(), want[0].numpy(), rtol=1e-12)
    (gw,) = ts.grad(loss(), [W], create_graph=True)
    np.testing.assert_allclose(gw.detach().numpy(), want[0].numpy(), rtol=1e-12)


@pytest.mark.parametrize("path", ["autograd.py", "optim/optimizer.py", "optim/sgd.py",
                                  "optim/adam.py", "optim/clip.py"])
def test_engine_and_optimizers_test_the_protocol_only(path):
    source = (PACKAGE / path).read_text()
    for pattern in [r"type\(\w+\) is (IndexedGrad|RowSparseGrad)",
                    r"isinstance\([^)]*(IndexedGrad|RowSparseGrad)", r"getattr\([^)]*is_sparse",
                    r"import .*(IndexedGrad|RowSparseGrad)"]:
        assert not re.search(pattern, source), f"{path}: {pattern}"
    assert "isinstance(g, SparseGrad)" in source or "SparseGrad" in source
