"""nn.ModuleDict, nn.ParameterList, nn.ParameterDict; the torch paths
tinygrad_seq.nn.functional (F.linear, F.pad, F.softplus) and nn.utils
(clip_grad_*, parameters_to_vector, vector_to_parameters); against torch."""
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_seq as ts
import tinygrad_seq.nn.functional as F
from tinygrad_seq import nn
from torch_ref import needs_torch, torch


# ---------------------------------------------------------------- ModuleDict

def test_module_dict_registration_and_dict_methods():
    md = nn.ModuleDict({"z": nn.Linear(1, 2), "a": nn.ReLU()})
    assert list(md) == ["z", "a"] and list(md.keys()) == ["z", "a"] and len(md) == 2
    assert "z" in md and isinstance(md["z"], nn.Linear)
    assert list(md.state_dict()) == ["z.weight", "z.bias"]
    md["q"] = nn.Linear(2, 2)
    md.update([("r", nn.Tanh())])
    md.update(OrderedDict(s=nn.ReLU()))
    assert list(md) == ["z", "a", "q", "r", "s"]
    assert [n for n, _ in md.named_parameters()] == ["z.weight", "z.bias", "q.weight", "q.bias"]
    assert isinstance(md.pop("z"), nn.Linear) and "z" not in md
    del md["a"]
    assert list(md) == ["q", "r", "s"]
    assert [type(v).__name__ for v in md.values()] == ["Linear", "Tanh", "ReLU"]
    md.clear()
    assert len(md) == 0 and repr(md) == "ModuleDict()"
    with pytest.raises(KeyError):
        md["nope"]
    with pytest.raises(ValueError, match="has length 1; 2 is required"):
        md.update([("q",)])
    with pytest.raises(TypeError):
        md.update(3)
    with pytest.raises(TypeError):
        md["x"] = 3


def test_containers_nest_in_modules_and_optimizers_see_them():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 1)})
            self.scales = nn.ParameterList([ts.ones(1), ts.ones(1)])
            self.extra = nn.ParameterDict({"bias": ts.zeros(1)})

        def forward(self, x):
            return sum(self.heads[k](x) * s for k, s in zip("ab", self.scales)) + self.extra["bias"]

    net = Net()
    assert list(net.state_dict()) == ["heads.a.weight", "heads.a.bias", "heads.b.weight",
                                      "heads.b.bias", "scales.0", "scales.1", "extra.bias"]
    net(ts.ones(3, 2)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net2 = Net()
    net2.load_state_dict(net.state_dict())


# ---------------------------------------------------------------- ParameterList / Dict

def test_parameter_list():
    t = ts.zeros(2)
    pl = nn.ParameterList([t, nn.Parameter(ts.ones(3)), 5])
    assert len(pl) == 3 and isinstance(pl[0], nn.Parameter) and pl[0].requires_grad
    assert pl[-1] == 5 and list(pl.state_dict()) == ["0", "1"]
    assert [p.shape for p in pl.parameters()] == [(2,), (3,)]
    sl = pl[1:]
    assert isinstance(sl, nn.ParameterList) and len(sl) == 2 and sl[0] is pl[1]
    pl.append(ts.ones(4))
    pl += [ts.ones(5)]
    assert len(pl) == 5 and list(pl.state_dict()) == ["0", "1", "3", "4"]
    pl[0] = ts.full((2,), 7.)
    assert pl[0].tolist() == [7., 7.] and isinstance(pl[0], nn.Parameter)
    with pytest.raises(IndexError, match="index 9 is out of range"):
        pl[9]
    assert [type(p).__name__ for p in pl] == ["Parameter", "Parameter", "int", "Parameter",
                                              "Parameter"]


def test_parameter_dict():
    pd = nn.ParameterDict({"b": nn.Parameter(ts.zeros(2)), "a": ts.ones(3, 2)})
    assert list(pd) == ["a", "b"]                  # a plain dict: sorted keys, as torch
    assert isinstance(pd["a"], nn.Parameter) and list(pd.state_dict()) == ["a", "b"]
    pd2 = nn.ParameterDict(OrderedDict(b=ts.zeros(1), a=ts.zeros(1)))
    assert list(pd2) == ["b", "a"]
    pd["c"] = ts.zeros(1)
    assert list(pd.keys()) == ["a", "b", "c"] and "c" in pd and len(pd) == 3
    assert list(reversed(pd)) == ["c", "b", "a"]
    assert pd.get("zz", 3) == 3 and pd.get("a") is pd["a"]
    assert pd.setdefault("d", ts.ones(1)).tolist() == [1.]
    assert pd.pop("d").tolist() == [1.] and "d" not in pd
    k, v = pd.popitem()
    assert k == "c" and list(pd) == ["a", "b"]
    both = pd | nn.ParameterDict(OrderedDict(e=ts.zeros(1)))
    assert list(both) == ["a", "b", "e"] and list(pd) == ["a", "b"]
    pd |= {"f": ts.zeros(1)}
    assert list(pd) == ["a", "b", "f"]
    assert [p.shape for p in pd.values()] == [(3, 2), (2,), (1,)]
    assert [k for k, _ in pd.items()] == ["a", "b", "f"]
    cp = pd.copy()
    assert list(cp) == list(pd) and cp["a"] is pd["a"]
    del pd["a"]
    assert list(pd.state_dict()) == ["b", "f"]
    with pytest.raises(KeyError):
        pd["a"]
    pd.clear()
    assert len(pd) == 0 and list(pd.parameters()) == []


@needs_torch
def test_container_reprs_and_names_match_torch():
    cases = [
        (lambda m, T: m.ModuleDict({"z": m.Linear(1, 2), "a": m.ReLU()})),
        (lambda m, T: m.ParameterList([T.zeros(2, 3), m.Parameter(T.ones(3)), 5])),
        (lambda m, T: m.ParameterList([T.zeros(1)])),
        (lambda m, T: m.ParameterDict({"b": T.zeros(2), "a": T.ones(3, 2)})),
        (lambda m, T: m.ParameterList()),
        (lambda m, T: m.ParameterDict()),
        (lambda m, T: m.Sequential(m.ModuleDict({"x": m.ParameterList([T.zeros(1)])}))),
    ]
    for make in cases:
        ours, theirs = make(nn, ts), make(torch.nn, torch)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        expected = repr(theirs).replace("torch.float32", "float32").replace("torch.FloatTensor",
                                                                             "FloatTensor")
        assert repr(ours) == expected


# ---------------------------------------------------------------- nn.functional

def test_nn_functional_is_functional():
    import tinygrad_seq.functional as G
    from tinygrad_seq.nn import functional as H
    assert F is G is H is nn.functional
    for name in ("relu", "softmax", "cross_entropy", "linear", "pad", "softplus", "dropout",
                 "embedding", "layer_norm", "scaled_dot_product_attention", "ctc_loss"):
        assert callable(getattr(F, name))


def test_linear_and_pad_and_softplus_gradcheck():
    rng = np.random.default_rng(0)
    x = ts.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    w = ts.tensor(rng.standard_normal((5, 4)), requires_grad=True)
    b = ts.tensor(rng.standard_normal(5), requires_grad=True)
    assert ts.gradcheck(lambda x, w, b: F.linear(x, w, b), (x, w, b))
    assert ts.gradcheck(lambda x, w: F.linear(x, w), (x, w))
    for mode in ("constant", "reflect", "replicate", "circular"):
        assert ts.gradcheck(lambda x: F.pad(x, (1, 2, 2, 1), mode=mode), (x,))
        assert ts.gradgradcheck(lambda x: F.pad(x, (2, 1), mode=mode), (x,))
    assert ts.gradcheck(lambda x: F.pad(x, (-1, 2, 0, 0, 1, 0), value=3.), (x,))
    z = ts.tensor(rng.standard_normal((3, 4)) * 5, requires_grad=True)
    for beta, threshold in ((1., 20.), (2., 3.), (0.5, 1.)):
        assert ts.gradcheck(lambda z: F.softplus(z, beta, threshold), (z,))
        assert ts.gradgradcheck(lambda z: F.softplus(z, beta, threshold), (z,))
    with pytest.raises(ts.DTypeError):
        F.softplus(ts.tensor([1, 2]))


def test_pad_errors():
    x = ts.zeros(1, 2, 3)
    with pytest.raises(RuntimeError, match="divisible by 2"):
        F.pad(x, (1,))
    with pytest.raises(RuntimeError, match="less than or equal to two times"):
        F.pad(x, (1,) * 8)
    with pytest.raises(NotImplementedError, match="Unrecognised padding mode"):
        F.pad(x, (1, 1), mode="foo")
    with pytest.raises(NotImplementedError, match="Padding size 6 is not supported"):
        F.pad(x, (1,) * 6, mode="reflect")
    with pytest.raises(RuntimeError, match="Padding size should be less than"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(RuntimeError, match="wrapping around more than once"):
        F.pad(x, (4, 0), mode="circular")
    with pytest.raises(RuntimeError, match="doesn't take in value"):
        F.pad(x, (1, 1), mode="reflect", value=2.)


@needs_torch
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", [(1, 2), (2, 0, 1, 1), (0, 1, 2, 1, 1, 0), (-1, 2), (1, -2, 0, 1)])
@pytest.mark.parametrize("ndim", [2, 3, 4, 5])
def test_pad_matches_torch(mode, pad, ndim):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4, 3, 4)[:ndim])
    xt, tx = ts.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    kw = {"value": 1.5} if mode == "constant" else {}
    try:
        expected = torch.nn.functional.pad(tx, pad, mode=mode, **kw)
    except (RuntimeError, NotImplementedError) as e:
        with pytest.raises(type(e)):
            F.pad(xt, pad, mode=mode, **kw)
        return
    out = F.pad(xt, pad, mode=mode, **kw)
    np.testing.assert_array_equal(out.numpy(), expected.detach().numpy())
    w = rng.standard_normal(tuple(expected.shape))
    (out * ts.tensor(w)).sum().backward()
    (expected * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


@needs_torch
def test_pad_integer_constant_matches_torch():
    out = F.pad(ts.arange(3), (1, 1), value=2.7)
    assert out.tolist() == torch.nn.functional.pad(torch.arange(3), (1, 1), value=2.7).tolist()
    assert out.dtype == ts.int64


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("beta,threshold", [(1., 20.), (2., 3.), (0.5, 1.), (3., 20.)])
def test_softplus_matches_torch(dtype, beta, threshold):
    x = np.concatenate([np.linspace(-60, 60, 97), [0., -1e-3, 10., 1.5, 6., 2.]]).astype(dtype)
    xt, tx = ts.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = F.softplus(xt, beta, threshold)
    expected = torch.nn.functional.softplus(tx, beta, threshold)
    assert out.dtype == getattr(ts, dtype)
    tol = 1e-6 if dtype == "float32" else 1e-14
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=tol, atol=0)
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=1e-30)


@needs_torch
def test_linear_matches_torch():
    rng = np.random.default_rng(2)
    for xs, ws, bias in (((3, 4), (5, 4), True), ((2, 3, 4), (5, 4), False), ((4,), (5, 4), True),
                         ((2, 4), (4,), False)):
        x, w = rng.standard_normal(xs), rng.standard_normal(ws)
        b = rng.standard_normal(ws[:1] if len(ws) == 2 else ()) if bias else None
        ours = F.linear(ts.tensor(x), ts.tensor(w), None if b is None else ts.tensor(b))
        theirs = torch.nn.functional.linear(torch.tensor(x), torch.tensor(w),
                                            None if b is None else torch.tensor(b))
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    with pytest.raises(ts.ShapeError):
        F.linear(ts.zeros(2, 3), ts.zeros(4, 4))


# ---------------------------------------------------------------- nn.utils

def test_parameters_to_vector_and_back():
    m = nn.Linear(3, 2)
    v = nn.utils.parameters_to_vector(m.parameters())
    assert v.shape == (8,)
    np.testing.assert_array_equal(v.numpy()[:6], m.weight.numpy().reshape(-1))
    nn.utils.vector_to_parameters(ts.arange(8.), m.parameters())
    assert m.weight.tolist() == [[0., 1., 2.], [3., 4., 5.]] and m.bias.tolist() == [6., 7.]
    (nn.utils.parameters_to_vector(m.parameters()) * ts.arange(8.)).sum().backward()
    assert m.bias.grad.tolist() == [6., 7.]
    with pytest.raises(TypeError):
        nn.utils.vector_to_parameters([1., 2.], m.parameters())
    with pytest.raises(ts.ShapeError):
        nn.utils.vector_to_parameters(ts.zeros(7), m.parameters())


@needs_torch
def test_clip_grad_at_torch_path_matches_torch():
    rng = np.random.default_rng(3)
    g = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    ours = [nn.Parameter(ts.zeros(*a.shape, dtype=ts.float64)) for a in g]
    theirs = [torch.nn.Parameter(torch.zeros(a.shape, dtype=torch.float64)) for a in g]
    for p, q, a in zip(ours, theirs, g):
        p.grad, q.grad = ts.tensor(a), torch.tensor(a)
    n1 = nn.utils.clip_grad_norm_(ours, 0.5)
    n2 = torch.nn.utils.clip_grad_norm_(theirs, 0.5)
    assert abs(n1.item() - n2.item()) < 1e-12
    nn.utils.clip_grad_value_(ours, 0.1)
    torch.nn.utils.clip_grad_value_(theirs, 0.1)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)
    v1 = nn.utils.parameters_to_vector(ours)
    v2 = torch.nn.utils.parameters_to_vector(theirs)
    assert v1.tolist() == v2.tolist()
