"""float16 inputs: reductions, norms, variances and losses accumulate in float32 and
return float16, as PyTorch on the CPU. Every case is built so that a float16
intermediate (a partial sum, a square, x^3) overflows while the result fits; the
values and gradients must be finite, float16, and within float16 tolerance of torch's.
"""
import numpy as np
import pytest

import tinygrad_seq as ts
import tinygrad_seq.functional as F
from torch_ref import needs_torch, torch

H = np.float16
RTOL, ATOL = 4e-3, 1e-4       # a few float16 ulps (eps = 9.8e-4)


def _rng():
    return np.random.default_rng(0)


def _normal(shape, scale, shift=0.0):
    return (_rng().standard_normal(shape) * scale + shift).astype(H)


def _class_targets(n, classes):
    return _rng().integers(0, classes, n)


# name -> (function of (ts or torch module, its functional module, tensors), input arrays)
# the first array is differentiated (the others are constants)
CASES = {
    "sum_cancelling": (lambda m, f, x: x.sum(), [np.array([6e4, 6e4, -6e4, -6e4] * 8, H)]),
    "mean": (lambda m, f, x: x.mean(), [np.full(1000, 100, H)]),
    "mean_axis": (lambda m, f, x: x.mean(1), [np.full((3, 1000), 100, H)]),
    "var": (lambda m, f, x: x.var(), [_normal(1000, 50, shift=300)]),
    "var_axis": (lambda m, f, x: x.var(1, keepdim=True), [_normal((2, 800), 40, shift=400)]),
    "std": (lambda m, f, x: x.std(), [_normal(1000, 300)]),
    "softmax": (lambda m, f, x: f.softmax(x, dim=-1) * 1e4, [np.zeros((2, 70000), H)]),
    "log_softmax": (lambda m, f, x: f.log_softmax(x, dim=-1), [np.zeros((2, 70000), H)]),
    "logsumexp": (lambda m, f, x: x.logsumexp(1), [np.zeros((2, 70000), H)]),
    "layer_norm": (lambda m, f, x, w, b: f.layer_norm(x, (64,), w, b),
                   [_normal((4, 64), 300), _normal(64, 1, 1), _normal(64, 1)]),
    "layer_norm_large_rows": (lambda m, f, x: f.layer_norm(x, (4000,)),
                              [_normal((2, 4000), 30, shift=100)]),
    "cosine_similarity": (lambda m, f, a, b: f.cosine_similarity(a, b),
                          [_normal((3, 16), 100), _normal((3, 16), 100)]),
    "bce_with_logits": (lambda m, f, x, y: f.binary_cross_entropy_with_logits(x, y),
                        [np.array([1e4, -1e4] * 8, H), np.array([0, 1] * 8, H)]),
    "bce_with_logits_pos_weight": (
        lambda m, f, x, y, w: f.binary_cross_entropy_with_logits(x, y, pos_weight=w),
        [np.array([1e4, -1e4] * 8, H), np.array([0, 1] * 8, H), np.array([2.0], H)]),
    "binary_cross_entropy": (lambda m, f, p, y: f.binary_cross_entropy(p, y),
                             [np.full(20000, 1e-3, H), np.ones(20000, H)]),
    "mse_loss": (lambda m, f, x, y: f.mse_loss(x, y), [np.full(1000, 200, H), np.zeros(1000, H)]),
    "cross_entropy": (lambda m, f, x, t: f.cross_entropy(x, t),
                      [_normal((40000, 4), 3), _class_targets(40000, 4)]),
    "nll_loss": (lambda m, f, x, t: f.nll_loss(x, t),
                 [np.full((30000, 3), -3, H), _class_targets(30000, 3)]),
    "gelu_tanh": (lambda m, f, x: f.gelu(x, approximate="tanh"),
                  [np.array([1e4, -1e4, 3.0, 50.0, -50.0], H)]),
    "gelu": (lambda m, f, x: f.gelu(x), [np.array([1e4, -1e4, 3.0, 50.0, -50.0], H)]),
}


# torch 2.13's CPU kernels of these still accumulate float16 in float16 and overflow
# (log_softmax of 70,000 zeros is -inf, the nll mean of 30,000 losses of 3 is inf): the
# reference for them is torch in float64 on the same float16 inputs, rounded to float16
TORCH_HALF_OVERFLOWS = {"log_softmax", "logsumexp", "nll_loss", "cross_entropy"}


def _run(module, functional, case, dtype=None):
    fn, arrays = CASES[case]
    if dtype is not None:
        arrays = [a.astype(dtype) if a.dtype == H else a for a in arrays]
    tensors = [module.tensor(a, requires_grad=i == 0) for i, a in enumerate(arrays)]
    out = fn(module, functional, *tensors)
    out.sum().backward()
    return out, tensors[0].grad


def _numpy(t):
    """A torch result as float16 values (float64 references rounded as a float16 result is)."""
    return t.detach().numpy().astype(H).astype(np.float32)


@pytest.mark.parametrize("case", sorted(CASES))
def test_float16_results_are_finite_float16(case):
    with np.errstate(over="ignore"):         # inf inputs of nothing: only the result matters
        out, grad = _run(ts, F, case)
    assert out.dtype == ts.float16 and grad.dtype == ts.float16
    assert np.isfinite(out.array).all(), out.array
    assert np.isfinite(grad.array).all(), grad.array


@needs_torch
@pytest.mark.parametrize("case", sorted(CASES))
def test_float16_matches_torch(case):
    with np.errstate(over="ignore"):
        out, grad = _run(ts, F, case)
    if case in TORCH_HALF_OVERFLOWS:
        ref_out, ref_grad = _run(torch, torch.nn.functional, case, np.float64)
    else:
        ref_out, ref_grad = _run(torch, torch.nn.functional, case)
        assert ref_out.dtype == torch.float16
    np.testing.assert_allclose(out.array.astype(np.float32), _numpy(ref_out),
                               rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(grad.array.astype(np.float32), _numpy(ref_grad),
                               rtol=RTOL, atol=ATOL)


def test_float32_reductions_keep_their_dtype_and_path():
    x = ts.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    for y in (x.sum(), x.mean(), x.var(), x.std(), x.logsumexp(1), F.softmax(x, dim=1)):
        assert y.dtype == ts.float32
    # no cast nodes are added for float32: the mean is the sum times 1/n
    assert type(x.mean().grad_fn).__name__ != "Cast"


@needs_torch
def test_float16_lstm_matches_torch():
    torch.manual_seed(0)
    ref = torch.nn.LSTM(4, 8).half()
    lstm = ts.nn.LSTM(4, 8)
    lstm.load_state_dict({k: ts.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    lstm = lstm.half()
    x = (_rng().standard_normal((300, 3, 4)) * 30).astype(H)
    out, _ = lstm(ts.tensor(x))
    ref_out, _ = ref(torch.tensor(x))
    out.sum().backward()
    ref_out.sum().backward()
    assert out.dtype == ts.float16
    np.testing.assert_allclose(out.array.astype(np.float32), ref_out.detach().numpy(), atol=8e-3)
    g, ref_g = lstm.weight_hh_l0.grad.array, ref.weight_hh_l0.grad.numpy()
    assert np.isfinite(g).all()
    np.testing.assert_allclose(g.astype(np.float32), ref_g.astype(np.float32), rtol=2e-2, atol=0.5)
