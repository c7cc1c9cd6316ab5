"""ts.Generator, ts.device, ts.cuda and the generator= argument of the random
factories, Tensor.uniform_/normal_ and nn.init, with torch's names and semantics."""
import pickle

import numpy as np
import pytest

import tinygrad_seq as ts
from tinygrad_seq import nn
from torch_ref import needs_torch, torch


# ---------------------------------------------------------------- Generator

def test_generator_defaults_and_seeding():
    g = ts.Generator()
    assert g.device == "cpu" and g.device.type == "cpu"
    assert g.initial_seed() == 67280421310721          # torch's default
    assert g.manual_seed(7) is g and g.initial_seed() == 7
    assert ts.Generator().manual_seed(-1).initial_seed() == 2 ** 64 - 1
    s = g.seed()
    assert isinstance(s, int) and g.initial_seed() == s


def test_same_seed_same_draws_and_independence_from_the_framework():
    a = ts.randn(4, generator=ts.Generator().manual_seed(3))
    ts.manual_seed(0)
    ts.randn(10)                                        # the framework's stream moves
    b = ts.randn(4, generator=ts.Generator().manual_seed(3))
    assert a.tolist() == b.tolist()
    ts.manual_seed(0)
    first = ts.randn(3).tolist()
    ts.manual_seed(0)
    ts.rand(5, generator=ts.Generator())               # does not touch the framework's
    assert ts.randn(3).tolist() == first


def test_every_factory_takes_a_generator():
    def draws(g):
        x = ts.empty(2, 3)
        return [ts.rand(2, generator=g), ts.randn(2, 2, generator=g, dtype=ts.float64),
                ts.randint(0, 10, (4,), generator=g), ts.randint(5, (2,), generator=g),
                ts.rand_like(x, generator=g), ts.randn_like(x, generator=g),
                ts.empty(3).uniform_(-1, 1, generator=g), ts.empty(3).normal_(2, 3, generator=g),
                nn.init.uniform_(ts.empty(2, 2), generator=g),
                nn.init.normal_(ts.empty(2, 2), generator=g),
                nn.init.xavier_uniform_(ts.empty(2, 2), generator=g),
                nn.init.xavier_normal_(ts.empty(2, 2), generator=g),
                nn.init.kaiming_uniform_(ts.empty(2, 2), generator=g),
                nn.init.kaiming_normal_(ts.empty(2, 2), generator=g),
                nn.init.orthogonal_(ts.empty(2, 2), generator=g)]
    a = draws(ts.Generator().manual_seed(1))
    b = draws(ts.Generator().manual_seed(1))
    c = draws(ts.Generator().manual_seed(2))
    assert all(x.tolist() == y.tolist() for x, y in zip(a, b))
    assert any(x.tolist() != y.tolist() for x, y in zip(a, c))
    with pytest.raises(TypeError):
        ts.rand(2, generator=np.random.default_rng(0))


def test_get_state_set_state_round_trip(tmp_path):
    g = ts.Generator().manual_seed(11)
    ts.rand(3, generator=g)
    state = g.get_state()
    pickle.dumps(state)                     # plain data
    ts.save(state, tmp_path / "state.ts")    # and ts.save can store it (no pickle)
    after = ts.rand(5, generator=g).tolist()
    h = ts.Generator().set_state(ts.load(tmp_path / "state.ts"))
    assert ts.rand(5, generator=h).tolist() == after
    assert g.set_state(state) is g and ts.rand(5, generator=g).tolist() == after
    assert h.initial_seed() == 11
    with pytest.raises(TypeError):
        g.set_state("nope")
    with pytest.raises(ValueError):
        g.set_state(dict(state, bit_generator="MT19937"))


def test_default_generator_and_framework_seed():
    assert ts.manual_seed(5) is ts.default_generator
    assert ts.initial_seed() == 5 and ts.default_generator.initial_seed() == 5
    a = ts.rand(3, generator=ts.default_generator).tolist()
    ts.manual_seed(5)
    assert ts.rand(3).tolist() == a
    state = ts.get_rng_state()
    b = ts.randn(4).tolist()
    ts.set_rng_state(state)
    assert ts.randn(4).tolist() == b
    s = ts.seed()
    assert ts.initial_seed() == s


def test_generator_device_type_must_match():
    if ts.cuda.is_available():
        with pytest.raises(ts.DeviceError):
            ts.rand(2, device="cuda", generator=ts.Generator())
    else:
        with pytest.raises(ts.DeviceError):
            ts.Generator("cuda")


@needs_torch
def test_generator_api_like_torch():
    for name in ("manual_seed", "seed", "initial_seed", "get_state", "set_state", "device"):
        assert hasattr(torch.Generator(), name) and hasattr(ts.Generator(), name)
    assert ts.Generator().initial_seed() == torch.Generator().initial_seed()
    assert ts.Generator().manual_seed(-1).initial_seed() == \
        torch.Generator().manual_seed(-1).initial_seed()


# ---------------------------------------------------------------- device

def test_device_objects():
    d = ts.device("cuda:0")
    assert (d.type, d.index, str(d), repr(d)) == ("cuda", 0, "cuda:0",
                                                  "device(type='cuda', index=0)")
    c = ts.device("cpu")
    assert (c.type, c.index, str(c), repr(c)) == ("cpu", None, "cpu", "device(type='cpu')")
    assert ts.device("cuda", 0) == d and ts.device(0) == d and ts.device(d) == d
    assert c == "cpu" and "cpu" == c and c != "cuda" and c != d
    assert ts.device("cuda") == d and hash(ts.device("cuda")) == hash(d)   # one GPU
    assert {c: 1}[ts.device("cpu")] == 1
    with pytest.raises(ts.DeviceError):
        ts.device("tpu")
    with pytest.raises(ValueError):
        ts.device("cuda:0", 0)
    with pytest.raises(AttributeError):
        c.type = "cuda"
    assert pickle.loads(pickle.dumps(d)) == d


def test_device_objects_are_accepted_wherever_devices_are(tmp_path):
    cpu = ts.device("cpu")
    x = ts.zeros(2, device=cpu)
    assert x.device == cpu and cpu == x.device and x.device == "cpu"
    for t in (ts.ones(2, device=cpu), ts.rand(2, device=cpu), ts.arange(3, device=cpu),
              ts.tensor([1.], device=cpu), ts.full((2,), 1., device=cpu),
              ts.randn(1, device=ts.device("cpu", 0))):
        assert t.device == cpu
    assert x.to(cpu) is x and x.to(cpu, ts.float64).dtype == ts.float64
    assert x.to(device=cpu) is x
    m = nn.Linear(2, 2).to(cpu)
    assert m.to(cpu, ts.float64).weight.dtype == ts.float64
    ts.save({"x": x}, tmp_path / "x.ts")
    assert ts.load(tmp_path / "x.ts", device=cpu)["x"].device == cpu
    assert ts.Generator(cpu).device == cpu


@needs_torch
def test_device_like_torch():
    for s in ("cpu", "cuda", "cuda:0"):
        a, b = ts.device(s), torch.device(s)
        assert (a.type, a.index, str(a), repr(a)) == (b.type, b.index, str(b), repr(b))


@needs_torch
def test_tensor_device_has_torch_devices_type_and_index():
    """PyTorch programs read x.device.type ("if x.device.type == 'cuda'") and pass
    x.device on; ours is the device's name with .type and .index."""
    x = ts.zeros(2, device="cpu")
    t = torch.zeros(2)
    assert (x.device.type, x.device.index) == (t.device.type, t.device.index)
    assert x.device == "cpu" and x.device == ts.device("cpu") and str(x.device) == "cpu"
    assert ts.device(x.device) == ts.device("cpu")
    assert ts.zeros(1, device=x.device).device == "cpu"
    assert {x.device: 1}["cpu"] == 1            # hashes as the string
    assert f"{x.device}" == "cpu"


# ---------------------------------------------------------------- cuda

def test_cuda_queries_never_raise():
    available = ts.cuda.is_available()
    assert isinstance(available, bool)
    assert ts.cuda.device_count() == (1 if available else 0)
    ts.cuda.manual_seed(3)                    # lazily, fine without a GPU
    assert ts.cuda.initial_seed() == 3
    ts.manual_seed(4)                         # reseeds every device
    assert ts.cuda.initial_seed() == 4


def test_cuda_manual_seed_leaves_the_cpu_stream_alone():
    ts.manual_seed(1)
    a = ts.rand(3).tolist()
    ts.manual_seed(1)
    ts.cuda.manual_seed(99)
    assert ts.rand(3).tolist() == a


@pytest.mark.skipif(not ts.cuda.is_available(), reason="no usable GPU (CuPy)")
def test_cuda_generator_draws():
    g = ts.Generator("cuda").manual_seed(2)
    a = ts.rand(4, device="cuda", generator=g)
    b = ts.rand(4, device=ts.device("cuda:0"), generator=ts.Generator("cuda").manual_seed(2))
    assert a.device == "cuda" and a.tolist() == b.tolist()
    ts.cuda.manual_seed(5)
    c = ts.randn(3, device="cuda").tolist()
    ts.cuda.manual_seed(5)
    assert ts.randn(3, device="cuda").tolist() == c
