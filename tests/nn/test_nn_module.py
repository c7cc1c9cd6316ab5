"""Module and Parameter (DESIGN "Modules"): registration, dotted names as in PyTorch,
state_dict / load_state_dict, modes, gradients, dtype conversion and repr. Where
PyTorch is installed, names, orders and reprs are compared with torch.nn's."""
import copy
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_seq as ts
from tinygrad_seq import nn


class Block(nn.Module):
    """A custom module: a Linear, a ModuleList of Linears, a parameter and buffers."""

    def __init__(self, lib=nn):
        super().__init__()
        self.proj = lib.Linear(4, 3)
        self.layers = lib.ModuleList([lib.Linear(3, 3), lib.Linear(3, 3, bias=False)])
        self.scale = lib.Parameter(ts.ones(3) if lib is nn else _torch().ones(3))
        self.register_buffer("running", ts.zeros(3) if lib is nn else _torch().zeros(3))
        self.register_buffer("scratch", ts.zeros(2) if lib is nn else _torch().zeros(2),
                             persistent=False)

    def forward(self, x):
        x = self.proj(x)
        for layer in self.layers:
            x = layer(x).tanh()
        return x * self.scale


def _torch():
    return pytest.importorskip("torch")


class TorchBlock:
    """Block built from torch.nn, same structure and attribute names."""

    def __new__(cls):
        torch = _torch()

        class _Block(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = torch.nn.Linear(4, 3)
                self.layers = torch.nn.ModuleList([torch.nn.Linear(3, 3),
                                                   torch.nn.Linear(3, 3, bias=False)])
                self.scale = torch.nn.Parameter(torch.ones(3))
                self.register_buffer("running", torch.zeros(3))
                self.register_buffer("scratch", torch.zeros(2), persistent=False)

        _Block.__name__ = "Block"
        return _Block()


def nested(lib):
    """Sequential(Block, Linear, Sequential(Linear)) in either library."""
    block = Block() if lib is nn else TorchBlock()
    return lib.Sequential(block, lib.Linear(3, 2), lib.Sequential(lib.Linear(2, 2)))


def shapes(named):
    return [(k, tuple(v.shape)) for k, v in named]


# ---------------------------------------------------------------- names and traversal

def test_named_parameters_match_torch_for_a_nested_model():
    torch = _torch()
    ours, theirs = nested(nn), nested(torch.nn)
    expected = shapes(theirs.named_parameters())
    assert shapes(ours.named_parameters()) == expected
    assert expected[:3] == [("0.scale", (3,)), ("0.proj.weight", (3, 4)), ("0.proj.bias", (3,))]
    assert [k for k, _ in ours.named_buffers()] == [k for k, _ in theirs.named_buffers()] \
        == ["0.running", "0.scratch"]
    assert [k for k, _ in ours.named_modules()] == [k for k, _ in theirs.named_modules()]
    assert [k for k, _ in ours.named_children()] == ["0", "1", "2"]
    assert all(isinstance(p, nn.Parameter) for p in ours.parameters())
    assert [type(m).__name__ for m in ours.modules()] == \
        ["Sequential", "Block", "Linear", "ModuleList", "Linear", "Linear", "Linear",
         "Sequential", "Linear"]
    assert [k for k, _ in ours.named_parameters(prefix="net")][0] == "net.0.scale"
    assert [k for k, _ in ours[0].named_parameters(recurse=False)] == ["scale"]


def test_state_dict_keys_match_torch_including_buffers():
    torch = _torch()
    ours, theirs = nested(nn), nested(torch.nn)
    sd = ours.state_dict()
    assert shapes(sd.items()) == shapes(theirs.state_dict().items())
    assert "0.running" in sd and "0.scratch" not in sd   # non-persistent buffer left out
    assert "0.layers.1.bias" not in sd                    # bias=False: no entry
    assert list(ours.state_dict(prefix="model.")) == ["model." + k for k in sd]


def test_shared_parameters_counted_once_but_listed_under_every_name_in_state_dict():
    torch = _torch()
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.Linear(3, 3), shared)       # a module used twice
    model[1].weight = shared.weight                               # and a tied weight
    assert [k for k, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    assert model.num_parameters() == 9 + 3 + 3
    assert len(list(model.modules())) == 3

    tshared = torch.nn.Linear(3, 3)
    tmodel = torch.nn.Sequential(tshared, torch.nn.Linear(3, 3), tshared)
    tmodel[1].weight = tshared.weight
    assert [k for k, _ in model.named_parameters()] == [k for k, _ in tmodel.named_parameters()]
    assert list(model.state_dict()) == list(tmodel.state_dict()) == \
        ["0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"]
    # a state dict from torch (every alias present) loads strictly
    model.load_state_dict({k: v.numpy() for k, v in tmodel.state_dict().items()})
    np.testing.assert_array_equal(model[1].weight.numpy(), tshared.weight.detach().numpy())
    assert model[1].weight is model[0].weight


def test_state_dict_values_are_detached_and_share_memory():
    lin = nn.Linear(2, 2)
    sd = lin.state_dict()
    assert type(sd["weight"]) is ts.Tensor and not sd["weight"].requires_grad
    with ts.no_grad():
        lin.weight.fill_(3.0)
    assert sd["weight"].numpy().tolist() == [[3.0, 3.0], [3.0, 3.0]]
    kept = lin.state_dict(keep_vars=True)
    assert kept["weight"] is lin.weight
    dest = {}
    assert lin.state_dict(destination=dest) is dest and list(dest) == ["weight", "bias"]


def test_children_and_modules_skip_none_and_duplicates():
    m = nn.Module()
    a = nn.Linear(1, 1)
    m.a, m.b = a, a
    m.add_module("c", None)
    assert list(m.named_children()) == [("a", a)]
    assert list(m.children()) == [a]
    assert [n for n, _ in m.named_modules()] == ["", "a"]
    assert [n for n, _ in m.named_modules(remove_duplicate=False)] == ["", "a", "b"]


# ---------------------------------------------------------------- registration

def test_register_buffer_persistent_and_not():
    m = nn.Module()
    m.register_buffer("kept", ts.arange(3))
    m.register_buffer("tmp", ts.ones(2), persistent=False)
    m.register_buffer("absent", None)
    assert list(m.state_dict()) == ["kept"]
    assert [n for n, _ in m.named_buffers()] == ["kept", "tmp"]
    m.kept = ts.arange(4)                 # a plain Tensor replaces the buffer
    assert m.state_dict()["kept"].shape == (4,)
    m.register_buffer("tmp", ts.ones(2), persistent=True)    # becomes persistent
    assert list(m.state_dict()) == ["kept", "tmp"]
    with pytest.raises(TypeError, match="buffer 'kept'"):
        m.kept = [1, 2]
    with pytest.raises(TypeError, match="register_buffer"):
        m.register_buffer("x", np.ones(2))
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("training", ts.ones(1))
    with pytest.raises(KeyError, match="invalid name"):
        m.register_buffer("a.b", ts.ones(1))
    del m.tmp
    assert list(m.state_dict()) == ["kept"] and not hasattr(m, "tmp")


def test_assignment_rules():
    m = nn.Module()
    m.w = nn.Parameter(ts.ones(2))
    m.sub = nn.Linear(1, 1)
    m.note = "plain attribute"
    assert [n for n, _ in m.named_parameters()] == ["w", "sub.weight", "sub.bias"]
    with pytest.raises(TypeError, match="parameter 'w'"):
        m.w = ts.ones(2)                  # a plain Tensor cannot replace a Parameter
    with pytest.raises(TypeError, match="module 'sub'"):
        m.sub = 3
    m.w = None                            # None is allowed: the parameter is absent
    assert [n for n, _ in m.named_parameters()] == ["sub.weight", "sub.bias"]
    with pytest.raises(KeyError, match="already exists"):
        m.register_parameter("note", nn.Parameter(ts.ones(1)))
    with pytest.raises(TypeError, match="must be a Parameter"):
        m.register_parameter("v", ts.ones(1))
    with pytest.raises(TypeError, match="must be a Module"):
        m.add_module("x", nn.Parameter(ts.ones(1)))

    class Forgot(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(ts.ones(1))
    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Forgot()
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'nope'"):
        m.nope


def test_parameter_repr_and_requires_grad():
    torch = _torch()
    p = nn.Parameter(ts.tensor([1.0, 2.0], device="cpu"))
    assert p.requires_grad and p.is_leaf and isinstance(p, ts.Tensor)
    assert repr(p) == repr(torch.nn.Parameter(torch.tensor([1.0, 2.0])))
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    frozen = nn.Parameter(ts.ones(2, device="cpu"), requires_grad=False)
    assert not frozen.requires_grad
    assert repr(frozen).endswith("tensor([1., 1.])")
    t = ts.zeros(3)
    shared = nn.Parameter(t)                       # shares the array, as torch does
    assert shared.array is t.array
    assert nn.Parameter().shape == (0,)
    with pytest.raises(ts.DTypeError, match="requires_grad_"):
        nn.Parameter(ts.arange(3))                 # integers cannot require grad
    (p * p).sum().backward()
    assert p.grad.numpy().tolist() == [2.0, 4.0]
    assert type(p * 2) is ts.Tensor and type(p.detach()) is ts.Tensor


# ---------------------------------------------------------------- load_state_dict

def test_load_state_dict_roundtrip_numpy_and_tensors():
    src, dst = nested(nn), nested(nn)
    x = ts.randn(5, 4)
    numpy_sd = {k: v.numpy() for k, v in src.state_dict().items()}
    result = dst.load_state_dict(numpy_sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(dst(x).numpy(), src(x).numpy())
    other = nested(nn)
    other.load_state_dict(src.state_dict())      # Tensors work too
    np.testing.assert_array_equal(other(x).numpy(), src(x).numpy())
    # the copy is a copy: changing the source afterwards does not change dst
    with ts.no_grad():
        src[1].weight.fill_(0.0)
    assert dst[1].weight.numpy().any()


def test_load_state_dict_strictness():
    model = nested(nn)
    sd = model.state_dict()
    del sd["1.bias"]
    sd["extra.weight"] = np.zeros(1)
    with pytest.raises(KeyError) as info:
        model.load_state_dict(sd)
    assert "1.bias" in str(info.value) and "extra.weight" in str(info.value)
    before = model[1].weight.numpy()
    sd["1.weight"] = np.full((2, 3), 7.0)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert missing == ["1.bias"] and unexpected == ["extra.weight"]
    assert (model[1].weight.numpy() == 7.0).all() and not (before == 7.0).all()
    with pytest.raises(TypeError, match="load_state_dict"):
        model.load_state_dict([("1.weight", np.zeros((2, 3)))])


def test_load_state_dict_shape_mismatch_names_the_key_and_changes_nothing():
    model = nested(nn)
    sd = {k: v.numpy() for k, v in model.state_dict().items()}
    sd["0.proj.weight"] = sd["0.proj.weight"] + 1.0     # a good value, listed first
    sd["1.weight"] = np.zeros((3, 2))
    old = model[0].proj.weight.numpy()
    with pytest.raises(ts.ShapeError, match=r"'1.weight'.*\(3, 2\).*\(2, 3\)"):
        model.load_state_dict(sd)
    np.testing.assert_array_equal(model[0].proj.weight.numpy(), old)   # nothing written
    sd["1.weight"] = "not an array"
    with pytest.raises(ts.DTypeError, match="'1.weight'"):
        model.load_state_dict(sd)


def test_load_state_dict_casts_to_the_parameter_dtype():
    model = nn.Linear(3, 2)
    w64 = np.random.default_rng(0).standard_normal((2, 3))          # float64
    model.load_state_dict({"weight": w64, "bias": np.array([1, 2])})  # and int64
    assert model.weight.dtype == ts.float32 and model.bias.dtype == ts.float32
    np.testing.assert_allclose(model.weight.numpy(), w64.astype(np.float32))
    assert model.bias.numpy().tolist() == [1.0, 2.0]
    double = nn.Linear(3, 2).double()
    double.load_state_dict(model.state_dict())                       # float32 into float64
    assert double.weight.dtype == ts.float64
    np.testing.assert_array_equal(double.weight.numpy(), model.weight.numpy().astype(np.float64))


def test_load_state_dict_from_torch_tensors_directly():
    torch = _torch()
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))

    class Tanh(nn.Module):
        def forward(self, x):
            return x.tanh()

    model = nn.Sequential(nn.Linear(3, 4), Tanh(), nn.Linear(4, 2))
    model.load_state_dict(tmodel.state_dict())    # torch CPU tensors have __array__
    with pytest.raises(ts.DTypeError, match=r"'0.weight'.*requires grad"):
        model.load_state_dict(dict(tmodel.named_parameters()), strict=False)
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(model(ts.tensor(x)).numpy(),
                               tmodel(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_load_state_dict_writes_buffers_and_bumps_versions():
    model = Block()
    sd = model.state_dict()
    sd = {k: v.numpy() for k, v in sd.items()}
    sd["running"] = np.array([1.0, 2.0, 3.0])
    v = model.running._version_count
    model.load_state_dict(sd)
    assert model.running.numpy().tolist() == [1.0, 2.0, 3.0]
    assert model.running._version_count == v + 1


# ---------------------------------------------------------------- modes and gradients

def test_train_eval_propagate():
    model = nested(nn)
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model[0].train()
    assert model[0].layers[1].training and not model.training
    model.train()
    assert all(m.training for m in model.modules())
    with pytest.raises(TypeError, match="bool"):
        model.train("no")


def test_zero_grad_and_requires_grad():
    model = nested(nn)
    model(ts.randn(2, 4)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in model.parameters())
    model[1].weight.grad = ts.tensor([[float("nan"), 1.0, 2.0], [3.0, 4.0, 5.0]])
    model.zero_grad(set_to_none=False)
    assert not model[1].weight.grad.numpy().any()       # nan * 0 would stay nan
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model.requires_grad_(False)
    assert model.num_parameters(trainable_only=True) == 0
    model[1].requires_grad_(True)
    assert model.num_parameters(trainable_only=True) == 2 * 3 + 2


def test_num_parameters_matches_torch():
    torch = _torch()
    ours, theirs = nested(nn), nested(torch.nn)
    assert ours.num_parameters() == sum(p.numel() for p in theirs.parameters()) == \
        (4 * 3 + 3) + (9 + 3) + 9 + 3 + (3 * 2 + 2) + (2 * 2 + 2)


def test_apply_visits_children_first():
    model = nested(nn)
    seen = []
    model.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Sequential" and seen[0] == "Linear" and len(seen) == 9


# ---------------------------------------------------------------- dtype and device

def test_to_double_float_casts_float_tensors_only():
    model = Block()
    model.register_buffer("steps", ts.arange(3))            # int64 buffer stays int64
    params = list(model.parameters())
    model(ts.randn(2, 4)).sum().backward()
    assert model.to(ts.float64) is model
    assert all(p.dtype == ts.float64 for p in model.parameters())
    assert all(p.grad.dtype == ts.float64 for p in model.parameters())   # grads along
    assert model.running.dtype == ts.float64 and model.steps.dtype == ts.int64
    assert list(model.parameters()) == params              # same objects (optimizers)
    assert all(a is b for a, b in zip(model.parameters(), params))
    out = model(ts.randn(2, 4, dtype=ts.float64))
    assert out.dtype == ts.float64
    model.float()
    assert all(p.dtype == ts.float32 for p in model.parameters())
    model.double()
    assert model.proj.weight.dtype == ts.float64
    model.to("cpu", "float32")
    assert model.proj.weight.dtype == ts.float32 and model.proj.weight.device == "cpu"
    model.to(ts.zeros(1, dtype=ts.float64))
    assert model.proj.weight.dtype == ts.float64
    with pytest.raises(ts.DTypeError, match="floating-point"):
        model.to(ts.int64)
    with pytest.raises(ts.DeviceError, match="tpu"):
        model.to("tpu")


def test_to_device_roundtrip(device):
    model = nn.Linear(3, 2)
    w = model.weight.numpy()
    model.to(device)
    assert model.weight.device == device and model.bias.device == device
    out = model(ts.ones(1, 3, device=device))
    assert out.device == device
    np.testing.assert_allclose(model.cpu().weight.numpy(), w)


# ---------------------------------------------------------------- repr

def test_repr_matches_torch():
    torch = _torch()

    class TanhT(torch.nn.Module):
        def forward(self, x):
            return x.tanh()

    class Tanh(nn.Module):
        def forward(self, x):
            return x.tanh()
    TanhT.__name__ = "Tanh"
    ours = nested(nn)
    ours.append(Tanh())
    theirs = nested(torch.nn)
    theirs.append(TanhT())
    assert repr(ours) == repr(theirs)
    assert "(0-1)" not in repr(ours)    # the two layers of the ModuleList differ (bias)
    same = nn.ModuleList([nn.Linear(2, 2)] * 3 + [nn.Linear(2, 3)])
    tsame = torch.nn.ModuleList([torch.nn.Linear(2, 2)] * 3 + [torch.nn.Linear(2, 3)])
    assert repr(same) == repr(tsame)
    assert repr(same).splitlines()[1] == "  (0-2): 3 x Linear(in_features=2, out_features=2, bias=True)"
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList()) == "ModuleList()"

    class WithExtra(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(1, 1)

        def extra_repr(self):
            return "alpha=0.5"

    assert repr(WithExtra()) == ("WithExtra(\n  alpha=0.5\n"
                                 "  (lin): Linear(in_features=1, out_features=1, bias=True)\n)")


# ---------------------------------------------------------------- containers

def test_sequential_indexing_and_editing():
    torch = _torch()
    a, b, c = nn.Linear(2, 3), nn.Linear(3, 3), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert seq[0] is a and seq[-1] is c and len(seq) == 3 and list(seq) == [a, b, c]
    tail = seq[1:]
    assert isinstance(tail, nn.Sequential) and list(tail._modules) == ["1", "2"]  # as torch
    tseq = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 3), torch.nn.Linear(3, 1))
    assert list(tseq[1:]._modules) == list(tail._modules)
    with pytest.raises(IndexError, match="index 3 is out of range"):
        seq[3]
    with pytest.raises(TypeError, match="integers or slices"):
        seq["0"]
    named = nn.Sequential(OrderedDict([("enc", a), ("dec", b)]))
    assert [k for k, _ in named.named_parameters()] == ["enc.weight", "enc.bias", "dec.weight",
                                                        "dec.bias"]
    d = nn.Linear(3, 3)
    seq[1] = d
    assert seq[1] is d
    del seq[0]
    assert list(seq._modules) == ["0", "1"] and seq[0] is d
    seq.insert(0, a)
    assert list(seq) == [a, d, c]
    x = ts.randn(4, 2)
    np.testing.assert_allclose(seq(x).numpy(), c(d(a(x))).numpy())
    assert nn.Sequential()(x) is x


def test_module_list_editing():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert [k for k, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]
    extra = nn.Linear(2, 2)
    layers += [extra]
    assert len(layers) == 4 and layers[-1] is extra
    del layers[1]
    assert list(layers._modules) == ["0", "1", "2"] and layers[2] is extra
    layers.insert(1, nn.Linear(2, 5))
    assert layers[1].out_features == 5 and list(layers._modules) == ["0", "1", "2", "3"]
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    with pytest.raises(TypeError, match="must be a Module"):
        layers.append(3)
    with pytest.raises(TypeError, match="insert"):
        layers.insert(0, "x")
    with pytest.raises(NotImplementedError, match="ModuleList does not define forward"):
        layers(ts.ones(2))


def test_deepcopy_gives_independent_module():
    model = nested(nn)
    clone = copy.deepcopy(model)
    assert isinstance(clone[1].weight, nn.Parameter) and clone[1].weight.requires_grad
    assert clone[1].weight is not model[1].weight
    np.testing.assert_array_equal(clone[1].weight.numpy(), model[1].weight.numpy())
    with ts.no_grad():
        clone[1].weight.fill_(0.0)
    assert model[1].weight.numpy().any()
    assert list(clone.state_dict()) == list(model.state_dict())
