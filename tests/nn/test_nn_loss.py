"""Loss modules: equal to the functional losses for every reduction, equal to torch.nn's
modules with the same arguments (values and input gradients in float64), the same
state_dict keys (weight / pos_weight buffers) and repr, and construction errors."""
import numpy as np
import pytest

import tinygrad_seq as ts
import tinygrad_seq.functional as F
from tinygrad_seq import nn

REDUCTIONS = ["mean", "sum", "none"]


def _log_softmax(x, axis=1):
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


def _data(kind, rng, ignore_index=-100):
    """(input, target) NumPy arrays for one kind of loss; class targets have two entries
    equal to ignore_index."""
    if kind == "regression":
        return rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    if kind == "probability":
        return rng.uniform(0.05, 0.95, (4, 3)), rng.uniform(0, 1, (4, 3))
    if kind == "logits":
        return 3 * rng.standard_normal((4, 3)), (rng.uniform(0, 1, (4, 3)) > 0.5).astype(np.float64)
    if kind in ("logprob", "classes", "classes_2d"):
        shape = (6, 4, 3) if kind == "classes_2d" else (6, 4)
        x = rng.standard_normal(shape)
        target = rng.integers(0, 4, (shape[0],) + shape[2:])
        target.reshape(-1)[[1, 4]] = ignore_index
        return (_log_softmax(x) if kind == "logprob" else x), target
    if kind == "class_probs":
        x = rng.standard_normal((5, 4))
        return x, np.exp(_log_softmax(rng.standard_normal((5, 4))))
    raise AssertionError(kind)


W3 = np.array([0.5, 2.0, 1.5])
W4 = np.array([0.3, 1.0, 2.5, 0.7])
W43 = np.random.default_rng(7).uniform(0.2, 2.0, (4, 3))

# (module name, functional, kind of data, module arguments); array arguments become
# tensors of each framework.
CASES = [
    ("MSELoss", F.mse_loss, "regression", {}),
    ("BCELoss", F.binary_cross_entropy, "probability", {}),
    ("BCELoss", F.binary_cross_entropy, "probability", {"weight": W3}),
    ("BCELoss", F.binary_cross_entropy, "probability", {"weight": W43}),
    ("BCEWithLogitsLoss", F.binary_cross_entropy_with_logits, "logits", {}),
    ("BCEWithLogitsLoss", F.binary_cross_entropy_with_logits, "logits", {"weight": W3}),
    ("BCEWithLogitsLoss", F.binary_cross_entropy_with_logits, "logits", {"pos_weight": W3[::-1].copy()}),
    ("BCEWithLogitsLoss", F.binary_cross_entropy_with_logits, "probability",
     {"weight": W43, "pos_weight": W3}),
    ("NLLLoss", F.nll_loss, "logprob", {}),
    ("NLLLoss", F.nll_loss, "logprob", {"weight": W4}),
    ("NLLLoss", F.nll_loss, "logprob", {"weight": W4, "ignore_index": 2}),
    ("CrossEntropyLoss", F.cross_entropy, "classes", {}),
    ("CrossEntropyLoss", F.cross_entropy, "classes", {"weight": W4}),
    ("CrossEntropyLoss", F.cross_entropy, "classes", {"ignore_index": 1, "label_smoothing": 0.2}),
    ("CrossEntropyLoss", F.cross_entropy, "classes_2d",
     {"weight": W4, "label_smoothing": 0.1}),
    ("CrossEntropyLoss", F.cross_entropy, "class_probs", {"weight": W4, "label_smoothing": 0.3}),
]
IDS = [f"{name}-{kind}-{'-'.join(kwargs) or 'plain'}" for name, _, kind, kwargs in CASES]


def _args(kwargs, make):
    return {k: make(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, fn, kind, kwargs", CASES, ids=IDS)
def test_module_equals_functional(name, fn, kind, kwargs, reduction):
    x, y = _data(kind, np.random.default_rng(0), kwargs.get("ignore_index", -100))
    x, y = ts.tensor(x), ts.tensor(y)
    args = _args(kwargs, ts.tensor)
    got = getattr(nn, name)(**args, reduction=reduction)(x, y)
    want = fn(x, y, **args, reduction=reduction)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, fn, kind, kwargs", CASES, ids=IDS)
def test_module_matches_torch(name, fn, kind, kwargs, reduction):
    torch = pytest.importorskip("torch")
    x, y = _data(kind, np.random.default_rng(1), kwargs.get("ignore_index", -100))
    mine = getattr(nn, name)(**_args(kwargs, ts.tensor), reduction=reduction)
    theirs = getattr(torch.nn, name)(**_args(kwargs, torch.from_numpy), reduction=reduction)
    xs, xt = ts.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = mine(xs, ts.tensor(y)), theirs(xt, torch.from_numpy(y))
    seed = np.random.default_rng(2).standard_normal(tuple(out.shape))
    out.backward(ts.tensor(seed))
    tout.backward(torch.from_numpy(seed))
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert repr(mine) == repr(theirs) == f"{name}()"


STATE_CASES = [
    ("MSELoss", {}),
    ("BCELoss", {}), ("BCELoss", {"weight": W3}),
    ("BCEWithLogitsLoss", {}), ("BCEWithLogitsLoss", {"weight": W3}),
    ("BCEWithLogitsLoss", {"pos_weight": W3}), ("BCEWithLogitsLoss", {"pos_weight": W3, "weight": W43}),
    ("NLLLoss", {}), ("NLLLoss", {"weight": W4}),
    ("CrossEntropyLoss", {}), ("CrossEntropyLoss", {"weight": W4}),
]


@pytest.mark.parametrize("name, kwargs", STATE_CASES)
def test_state_dict_keys_and_round_trip(name, kwargs):
    mine = getattr(nn, name)(**_args(kwargs, ts.tensor))
    keys = [k for k in ("weight", "pos_weight") if k in kwargs]    # torch's buffer order
    assert list(mine.state_dict()) == keys
    assert list(mine.parameters()) == []
    for k in ("weight", "pos_weight"):
        if k in keys:
            np.testing.assert_array_equal(getattr(mine, k).numpy(), kwargs[k])
        elif name != "MSELoss" and (k == "weight" or name == "BCEWithLogitsLoss"):
            assert getattr(mine, k) is None
    # load_state_dict round-trips: new values come in, the module uses them
    other = getattr(nn, name)(**_args(kwargs, lambda a: ts.tensor(np.ones_like(a))))
    assert other.load_state_dict(mine.state_dict()) == ([], [])
    for k in keys:
        np.testing.assert_array_equal(getattr(other, k).numpy(), kwargs[k])
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.nn, name)(**_args(kwargs, torch.from_numpy))
    assert list(theirs.state_dict()) == keys
    other.load_state_dict({k: v.numpy() * 2 for k, v in theirs.state_dict().items()})
    for k in keys:
        np.testing.assert_array_equal(getattr(other, k).numpy(), kwargs[k] * 2)


def test_loaded_weight_changes_the_loss():
    rng = np.random.default_rng(3)
    x, y = ts.tensor(rng.standard_normal((6, 4))), ts.tensor(rng.integers(0, 4, 6))
    loss = nn.CrossEntropyLoss(weight=ts.tensor(np.ones(4)))
    loss.load_state_dict({"weight": W4})
    np.testing.assert_array_equal(loss(x, y).numpy(), F.cross_entropy(x, y, weight=ts.tensor(W4)).numpy())


def test_weight_is_a_buffer_cast_by_to_and_assignable():
    loss = nn.NLLLoss(weight=ts.tensor(W4.astype(np.float32)))
    assert loss.weight.dtype == ts.float32
    loss.double()
    assert loss.weight.dtype == ts.float64
    plain = nn.CrossEntropyLoss()
    assert plain.state_dict() == {} and plain.weight is None
    plain.weight = ts.tensor(W4)            # torch: assigning to a None buffer fills it
    assert list(plain.state_dict()) == ["weight"]


def test_array_weights_are_wrapped_as_float_tensors():
    loss = nn.BCEWithLogitsLoss(weight=[1, 2, 3], pos_weight=np.array([2.0, 1.0, 0.5]))
    assert loss.weight.dtype.kind == "f" and loss.pos_weight.dtype == ts.float64
    np.testing.assert_array_equal(loss.weight.numpy(), [1, 2, 3])


@pytest.mark.parametrize("name", ["MSELoss", "BCELoss", "BCEWithLogitsLoss", "NLLLoss",
                                  "CrossEntropyLoss"])
def test_bad_reduction_names_the_class(name):
    with pytest.raises(ValueError, match=rf"{name}: reduction must be 'mean', 'sum' or 'none', "
                                         r"got 'avg'"):
        getattr(nn, name)(reduction="avg")


@pytest.mark.parametrize("name", ["MSELoss", "BCELoss", "BCEWithLogitsLoss", "NLLLoss",
                                  "CrossEntropyLoss"])
def test_positional_settings_after_weight_are_refused(name):
    # torch's second positional argument is the deprecated size_average: refuse, not guess
    with pytest.raises(TypeError):
        getattr(nn, name)(None, "sum")
