"""Where PyTorch has a name, PyTorch's semantics: `.data`, `size()`, `max(dim)`, SDPA's
return, dtype promotion, in-place arguments, iteration and indexing, NumPy functions on
tensors that require grad. Each rule is checked on its own and, where torch is
installed, against torch 2.13 (values, gradients, dtypes)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_seq as ts
import tinygrad_seq.functional as F
from torch_ref import needs_torch, torch


# ---------------------------------------------------------------- .data and .array

def test_data_is_a_tensor_sharing_memory_outside_the_graph():
    w = ts.tensor([1.0, 2.0], requires_grad=True)
    d = w.data
    assert isinstance(d, ts.Tensor) and not d.requires_grad and d.grad_fn is None
    d[0] = 5.0                                   # shares memory
    assert w.tolist() == [5.0, 2.0]
    assert isinstance(w.array, np.ndarray) and w.array is d.array


def test_changes_through_data_are_not_seen_by_autograd_as_in_torch():
    w = ts.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()                           # saves w
    w.data.mul_(3.0)                            # own version counter: no error
    y.backward()
    np.testing.assert_allclose(w.grad.numpy(), [6.0, 12.0])     # 2 * (new w), as torch
    with pytest.raises(ts.AutogradError):       # detach() shares the counter: caught
        y = (w * w).sum()
        w.detach().mul_(2.0)
        y.backward()


def test_parameter_init_and_update_idioms_through_data():
    lin = ts.nn.Linear(3, 2)
    lin.weight.data.uniform_(-0.1, 0.1)
    assert float(lin.weight.abs().amax()) <= 0.1
    lin.bias.data.copy_(ts.tensor([1.0, 2.0]))
    assert lin.bias.tolist() == [1.0, 2.0]
    lin.bias.data.fill_(0)
    lin.weight.data = ts.ones(2, 3)             # assignment replaces the values
    assert lin.weight.tolist() == [[1.0] * 3] * 2 and isinstance(lin.weight, ts.nn.Parameter)
    x = ts.ones(1, 3)
    lin(x).sum().backward()
    lin.weight.data -= 0.5 * lin.weight.grad.data      # the pre-optimizer SGD idiom
    np.testing.assert_allclose(lin.weight.numpy(), 0.5)
    with pytest.raises(TypeError, match="data"):
        lin.weight.data = 3.0


def test_row_sparse_grad_data_is_the_same_kind_of_gradient():
    emb = ts.nn.Embedding(5, 2, sparse=True)
    emb(ts.tensor([1, 3])).sum().backward()
    g = emb.weight.grad.data
    assert getattr(g, "is_sparse", False) and g.shape == (5, 2)
    assert g.values is emb.weight.grad.values


@needs_torch
def test_data_behaviour_matches_torch():
    for lib in (ts, torch):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (w * w).sum()
        w.data.add_(1.0)
        y.backward()
        assert w.grad.tolist() == [4.0, 6.0]


# ---------------------------------------------------------------- size, dim, numel

def test_size_dim_numel_as_torch():
    x = ts.zeros(2, 3, 4)
    assert x.size() == (2, 3, 4) and isinstance(x.size(), ts.Size) and isinstance(x.shape, ts.Size)
    assert x.size(1) == 3 and x.size(-1) == 4 and x.dim() == 3
    assert x.numel() == x.nelement() == 24 and x.size().numel() == 24
    assert x.shape[1:] == (3, 4) and isinstance(x.shape[1:], ts.Size)
    assert repr(x.shape) == "tinygrad_seq.Size([2, 3, 4])" and str(x.shape) == "(2, 3, 4)"
    with pytest.raises(IndexError, match="out of range"):
        x.size(3)
    with pytest.raises(TypeError):
        x.size(1.0)


# ---------------------------------------------------------------- max / min

def test_max_with_dim_returns_values_and_indices_and_routes_the_gradient():
    x = ts.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    values, indices = x.max(1)
    out = x.max(dim=1)
    assert out.values.tolist() == [3.0, 2.0] and out.indices.tolist() == [1, 0]
    assert indices.dtype == ts.int64 and values.tolist() == [3.0, 2.0]
    values.sum().backward()
    assert x.grad.tolist() == [[0, 1, 0], [1, 0, 0]]      # the returned index only
    x.grad = None
    x.amax(1).sum().backward()                           # amax: ties share evenly
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [1 / 3] * 3])


def test_max_forms():
    x = ts.tensor([[1.0, 5.0], [4.0, 2.0]])
    assert x.max().item() == 5.0 and ts.max(x).item() == 5.0
    assert x.min(0, keepdim=True).values.shape == (1, 2)
    assert ts.min(x, dim=1).indices.tolist() == [0, 1]
    assert ts.max(x, ts.full((2, 2), 3.0)).tolist() == [[3.0, 5.0], [4.0, 3.0]]
    assert x.max(ts.zeros(2, 2)).tolist() == x.tolist()
    assert ts.maximum(x, ts.zeros(2, 2)).tolist() == x.tolist()
    _, pred = ts.tensor([[0.1, 0.9], [0.8, 0.2]]).max(1)       # the classifier idiom
    assert pred.tolist() == [1, 0]
    v, i = ts.tensor(3.0).max(0)
    assert v.item() == 3.0 and i.item() == 0
    with pytest.raises(IndexError):
        x.max(2)
    with pytest.raises(TypeError, match="amax"):
        x.max((0, 1))


@needs_torch
@given(data=st.data())
def test_max_min_with_dim_match_torch(data):
    shape = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3), label="shape")
    values = data.draw(st.lists(st.integers(-3, 3), min_size=int(np.prod(shape)),
                                max_size=int(np.prod(shape))), label="values")   # many ties
    a = np.array(values, dtype=np.float64).reshape(shape)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    keepdim = data.draw(st.booleans(), label="keepdim")
    for name in ("max", "min"):
        x, xt = ts.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        got, want = getattr(x, name)(dim, keepdim), getattr(xt, name)(dim, keepdim)
        np.testing.assert_array_equal(got.values.numpy(), want.values.detach().numpy())
        np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
        w = np.arange(got.values.numel(), dtype=np.float64).reshape(got.values.shape) + 1
        (got.values * ts.tensor(w)).sum().backward()
        (want.values * torch.tensor(w)).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())
        x.grad, xt.grad = None, None
        getattr(x, "a" + name)(dim).sum().backward()
        getattr(xt, "a" + name)(dim).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())


# ---------------------------------------------------------------- SDPA

def test_sdpa_returns_the_output_only_unless_weights_are_asked_for():
    q = ts.randn(2, 3, 4)
    out = F.scaled_dot_product_attention(q, q, q)
    assert isinstance(out, ts.Tensor) and out.shape == (2, 3, 4)
    out2, w = F.scaled_dot_product_attention(q, q, q, return_weights=True)
    np.testing.assert_allclose(out.numpy(), out2.numpy())
    assert w.shape == (2, 3, 3)


@needs_torch
def test_sdpa_grouped_query_attention_matches_torch():
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((2, 4, 3, 5)), rng.standard_normal((2, 2, 6, 5)), \
        rng.standard_normal((2, 2, 6, 5))
    got = F.scaled_dot_product_attention(*map(ts.tensor, (q, k, v)), enable_gqa=True)
    want = torch.nn.functional.scaled_dot_product_attention(*map(torch.tensor, (q, k, v)),
                                                            enable_gqa=True)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10)


# ---------------------------------------------------------------- dtype promotion

DTYPES = ["bool", "uint8", "int32", "int64", "float16", "float32", "float64"]


def _operand(lib, kind, dtype):
    if kind == "tensor":
        return lib.tensor(np.ones(2, dtype=dtype))
    if kind == "0-d":
        return lib.tensor(np.ones((), dtype=dtype))
    return {"bool": True, "uint8": 1, "int32": 1, "int64": 1}.get(dtype, 0.5)   # a Python scalar


def test_promotion_rules_named_in_the_contract():
    f32, i64 = ts.tensor([1.0, 2.0]), ts.tensor([1, 2])
    assert (f32 + 0.5).dtype == ts.float32
    assert (f32 + ts.tensor(0.5, dtype=ts.float64)).dtype == ts.float32
    assert (i64 + 0.5).dtype == ts.float32 and (i64 / 2).dtype == ts.float32
    assert (i64 * f32.double()).dtype == ts.float64 and (i64 + f32).dtype == ts.float32
    assert (ts.tensor([True]) + 1).dtype == ts.int64
    assert (i64 ** 0.5).dtype == ts.float32
    assert ts.cat([f32, f32.double()]).dtype == ts.float64
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    (x * ts.tensor(2.0, dtype=ts.float64)).sum().backward()
    assert x.grad.dtype == ts.float32


@needs_torch
@given(a=st.sampled_from(DTYPES), b=st.sampled_from(DTYPES),
       kinds=st.sampled_from([("tensor", "tensor"), ("tensor", "0-d"), ("0-d", "tensor"),
                              ("0-d", "0-d"), ("tensor", "scalar"), ("0-d", "scalar")]),
       op=st.sampled_from(["add", "mul", "truediv", "maximum"]))
def test_binary_op_dtypes_match_torch(a, b, kinds, op):
    def run(lib):
        x, y = _operand(lib, kinds[0], a), _operand(lib, kinds[1], b)
        if op == "maximum":
            return lib.maximum(x, y if not isinstance(y, (bool, int, float)) else lib.tensor(y))
        return getattr(x, f"__{op}__")(y)
    try:
        want = run(torch)
    except RuntimeError:                 # torch refuses it (e.g. bool - bool): skip
        return
    got = run(ts)
    assert str(got.dtype) == str(want.dtype).replace("torch.", ""), (a, b, kinds, op)


# ---------------------------------------------------------------- in place

def test_add_with_alpha_under_no_grad_updates_in_the_right_direction():
    p = ts.tensor([1.0, 2.0], requires_grad=True)
    (p * p).sum().backward()                    # grad 2p
    with ts.no_grad():
        p.add_(p.grad, alpha=-0.1)              # the documented SGD idiom
    np.testing.assert_allclose(p.detach().numpy(), [0.8, 1.6], rtol=1e-6)
    q = ts.tensor([1.0, 2.0])
    q.sub_(ts.tensor([1.0, 1.0]), alpha=2)
    assert q.tolist() == [-1.0, 0.0]
    assert ts.tensor([1.0]).add(ts.tensor([2.0]), alpha=3).tolist() == [7.0]
    assert ts.tensor([1.0]).sub(ts.tensor([2.0]), alpha=3).tolist() == [-5.0]


def test_in_place_arguments_and_forms():
    z = ts.zeros(3)
    z.addcmul_(ts.ones(3), ts.full((3,), 2.0), value=0.5)
    assert z.tolist() == [1.0] * 3
    z.addcdiv_(ts.ones(3), ts.full((3,), 4.0), value=2)
    assert z.tolist() == [1.5] * 3
    z.lerp_(ts.full((3,), 3.5), 0.5)
    assert z.tolist() == [2.5] * 3
    assert z.unsqueeze_(0).shape == (1, 3) and z.squeeze_().shape == (3,)
    a = ts.tensor([-7, 7])
    assert a.div(2, rounding_mode="trunc").tolist() == [-3, 3]
    assert a.div(2, rounding_mode="floor").tolist() == [-4, 3]
    with pytest.raises(ValueError, match="rounding_mode"):
        a.div(2, rounding_mode="round")


PROGRAMS = {
    "d += d * 2": lambda d: d.__iadd__(d * 2),
    "d += 3 * d": lambda d: d.__iadd__(3 * d),
    "d += d / 2": lambda d: d.__iadd__(d / 2),
    "d.mul_(2).add_(d, alpha=0.5)": lambda d: d.mul_(2).add_(d.detach(), alpha=0.5),
    "d.addcmul_(d, 2 * ones)": lambda d: d.addcmul_(d.detach() + 1, d.detach() * 0 + 2, value=0.5),
    "d.lerp_(end, 0.25)": lambda d: d.lerp_(d.detach() * 3, 0.25),
}


@needs_torch
@pytest.mark.parametrize("name", list(PROGRAMS))
def test_in_place_on_a_non_leaf_gives_torchs_gradient(name):
    grads = []
    for lib in (ts, torch):
        x = lib.tensor([1.0, -2.0, 3.0], dtype=lib.float64, requires_grad=True)
        d = x * 1.5
        PROGRAMS[name](d)
        (d * lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)).sum().backward()
        grads.append((d.detach().numpy(), x.grad.numpy()))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-12)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-12)


@needs_torch
def test_copy_into_a_non_leaf_is_differentiable_in_the_source_as_torch():
    grads = []
    for lib in (ts, torch):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        s = lib.tensor([3.0], dtype=lib.float64, requires_grad=True)
        d = x * 2
        d.copy_(s * 5)                          # broadcast (1,) -> (2,)
        (d * d).sum().backward()
        grads.append((x.grad, s.grad.numpy()))
    assert grads[0][0] is None or not grads[0][0].numpy().any()
    np.testing.assert_allclose(grads[0][1], grads[1][1])


# ---------------------------------------------------------------- iteration and indexing

def test_iteration_unpacking_and_sum_as_torch():
    t = ts.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    a, b = t
    assert a.tolist() == [1.0, 2.0] and b.tolist() == [3.0, 4.0]
    rows = list(t)
    assert len(rows) == 2 and all(isinstance(r, ts.Tensor) for r in rows)
    total = sum(t)
    assert total.tolist() == [4.0, 6.0]
    total.sum().backward()
    assert t.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    with pytest.raises(TypeError, match="0-d"):
        iter(ts.tensor(1.0))


def test_out_of_range_index_raises_index_error():
    t = ts.zeros(3, 2)
    for index in (3, -4, (0, 2), ts.tensor([0, 5])):
        with pytest.raises(IndexError):
            t[index]
    assert isinstance(ts.OutOfRangeError("x"), ts.ShapeError)


# ---------------------------------------------------------------- NumPy functions

def test_numpy_functions_refuse_a_tensor_that_requires_grad():
    w, x = ts.randn(3, 3, requires_grad=True), ts.randn(3)
    for call in (lambda: np.dot(w, x), lambda: np.copy(w), lambda: np.asarray(w),
                 lambda: np.array(w), lambda: np.sum(w)):
        with pytest.raises(RuntimeError, match="detach"):
            call()
    np.testing.assert_allclose(np.dot(w.detach(), x), w.detach().numpy() @ x.numpy(), rtol=1e-6)
    assert np.sum(x) == pytest.approx(float(x.sum()), rel=1e-6)
    assert isinstance(np.asarray(x), np.ndarray)


@needs_torch
def test_numpy_on_grad_tensors_raises_in_torch_too():
    with pytest.raises(RuntimeError):
        np.asarray(torch.ones(2, requires_grad=True))


# ---------------------------------------------------------------- module reprs

REPR_CASES = {
    "Linear": ((3, 4), {}), "Embedding": ((10, 3), {"padding_idx": 0}),
    "Dropout": ((0.1,), {}), "LayerNorm": ((4,), {"bias": False}), "ReLU": ((), {}),
    "Tanh": ((), {}), "Sigmoid": ((), {}), "GELU": ((), {"approximate": "tanh"}),
    "Softmax": ((), {"dim": 1}), "LogSoftmax": ((), {"dim": 1}), "Identity": ((), {}),
    "RNN": ((3, 4), {"num_layers": 2}), "GRU": ((3, 4), {"batch_first": True}),
    "LSTM": ((3, 4), {"bidirectional": True, "proj_size": 2}), "RNNCell": ((3, 4), {}),
    "GRUCell": ((3, 4), {}), "LSTMCell": ((3, 4), {}),
    "MultiheadAttention": ((8, 2), {"kdim": 3, "vdim": 5}),
    "TransformerEncoderLayer": ((8, 2), {"dim_feedforward": 16}),
    "TransformerDecoderLayer": ((8, 2), {"dim_feedforward": 16, "norm_first": True}),
    "CrossEntropyLoss": ((), {}), "NLLLoss": ((), {}), "BCELoss": ((), {}),
    "BCEWithLogitsLoss": ((), {}), "MSELoss": ((), {}),
    "SiLU": ((), {"inplace": True}), "Mish": ((), {}), "LeakyReLU": ((0.2,), {}),
    "ELU": ((), {"alpha": 0.5, "inplace": True}), "Hardtanh": ((-2.0, 2.0), {}),
    "L1Loss": ((), {}), "SmoothL1Loss": ((), {"beta": 0.5}), "HuberLoss": ((), {"delta": 2.0}),
    "BatchNorm1d": ((6,), {"momentum": None, "affine": False}),
}


@needs_torch
@pytest.mark.parametrize("name", list(REPR_CASES))
def test_module_repr_is_torchs(name):
    args, kwargs = REPR_CASES[name]
    assert repr(getattr(ts.nn, name)(*args, **kwargs)) == repr(getattr(torch.nn, name)(*args, **kwargs))


def test_dropout_inplace_writes_into_its_input():
    ts.manual_seed(0)
    x = ts.ones(1000) * 1.0
    out = ts.nn.Dropout(0.5, inplace=True)(x)
    assert out is x and 0 < int((x == 0).sum()) < 1000


# ---------------------------------------------------------------- IEEE results without warnings

def test_log_of_zero_is_minus_inf_without_a_warning():
    """torch.log(0) is -inf and log(-1) nan, silently; word_language_model builds its
    causal mask as torch.log(torch.tril(torch.ones(n, n))) (found by tests/conformance)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mask = ts.log(ts.tril(ts.ones(3, 3)))
        y = ts.tensor([-1.0, 0.0]).log()
    assert mask.tolist() == [[0.0, -np.inf, -np.inf], [0.0, 0.0, -np.inf], [0.0, 0.0, 0.0]]
    assert np.isnan(y[0].item()) and y[1].item() == -np.inf


# ---------------------------------------------------------------- the legacy constructor

@needs_torch
def test_tensor_class_called_as_torchs_legacy_constructor():
    """torch.Tensor(data) is always the default float dtype (the char-RNN tutorial's
    `loss = torch.Tensor([0])`, then `loss += l`); torch.Tensor(2, 3) a shape; ts.tensor
    infers the dtype (found by tests/conformance)."""
    for data in ([0], [1, 2], [[1.5, 2.0]], np.arange(3), np.arange(3.0)):
        ours, theirs = ts.Tensor(data), torch.Tensor(data)
        assert ours.dtype == ts.float32 and theirs.dtype == torch.float32
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ts.Tensor(2, 3).shape == tuple(torch.Tensor(2, 3).shape) == (2, 3)
    assert ts.Tensor(7).shape == tuple(torch.Tensor(7).shape) == (7,)
    assert ts.Tensor().shape == tuple(torch.Tensor().shape) == (0,)
    assert ts.Tensor().dtype == ts.float32
    ts.set_default_dtype(ts.float64)
    try:
        assert ts.Tensor([0]).dtype == ts.float64
    finally:
        ts.set_default_dtype(ts.float32)
    loss = ts.Tensor([0])
    w = ts.tensor([2.0], requires_grad=True)
    loss += (w * 3).sum()
    loss.backward()
    assert loss.dtype == ts.float32 and w.grad.tolist() == [3.0]
    assert ts.tensor([1, 2]).dtype == ts.int64        # ts.tensor keeps inferring
    assert ts.Tensor([1, 2], dtype=ts.int64).dtype == ts.int64   # ours: dtype= given wins
    with pytest.raises(TypeError):
        ts.Tensor(2, "a")
