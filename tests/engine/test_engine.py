"""The backward engine: deep graphs without recursion, shared subexpressions,
accumulation into ``.grad``, retain_graph, freeing of saved values, higher-order
gradients (create_graph) and the functional ``ts.grad``.

Reference values come from closed forms or from PyTorch (CPU, float64).
"""
import gc
import sys
import tracemalloc
import weakref

import numpy as np
import pytest
from torch_ref import needs_torch, torch

import tinygrad_seq as ts


def _stack_depth():
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    return depth


class _low_recursion_limit:
    """Allow only `headroom` more Python frames than the caller already uses: a
    recursive walk over a graph of thousands of nodes would hit RecursionError."""

    def __init__(self, headroom=100):
        self.headroom = headroom

    def __enter__(self):
        self.old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(_stack_depth() + self.headroom, 200))

    def __exit__(self, *exc):
        sys.setrecursionlimit(self.old)
        return False


# ---------------------------------------------------------------- deep graphs

def test_backward_through_a_10000_op_chain_with_a_low_recursion_limit():
    x = ts.tensor(1.0, dtype=ts.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001 + 0.0
    with _low_recursion_limit():
        y.backward()
    assert x.grad.item() == pytest.approx(1.0001 ** 10_000, rel=1e-9)


@needs_torch
def test_3000_step_unrolled_rnn_matches_torch_with_a_low_recursion_limit():
    rng = np.random.default_rng(0)
    steps, n_in, n_hidden = 3000, 3, 8
    W0 = rng.standard_normal((n_hidden, n_hidden)) * 0.3
    U0 = rng.standard_normal((n_in, n_hidden)) * 0.3
    b0 = rng.standard_normal(n_hidden) * 0.1
    xs0 = rng.standard_normal((steps, 1, n_in))

    W, U, b = (ts.tensor(a, requires_grad=True) for a in (W0, U0, b0))
    xs = ts.tensor(xs0)
    h = ts.zeros(1, n_hidden, dtype=ts.float64)
    for t in range(steps):
        h = (h @ W + xs[t] @ U + b).tanh()
    loss = (h * h).sum()
    with _low_recursion_limit():
        loss.backward()

    Wt, Ut, bt = (torch.tensor(a, requires_grad=True) for a in (W0, U0, b0))
    xt = torch.tensor(xs0)
    ht = torch.zeros(1, n_hidden, dtype=torch.float64)
    for t in range(steps):
        ht = torch.tanh(ht @ Wt + xt[t] @ Ut + bt)
    (ht * ht).sum().backward()

    assert loss.item() == pytest.approx((ht * ht).sum().item(), rel=1e-10)
    for mine, ref in ((W, Wt), (U, Ut), (b, bt)):
        np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), rtol=1e-8, atol=1e-12)


# ---------------------------------------------------------------- graph shapes

def test_diamond_adds_the_gradients_of_both_uses():
    x = ts.tensor([-1.5, 0.0, 2.0], requires_grad=True)
    (x * x + x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() + 1)


@needs_torch
def test_gradients_of_a_small_dag_match_torch():
    values = np.array([0.3, -0.7, 1.2])

    def f(x):
        a = x * 2
        b = a.exp()
        c = a + b          # a reaches d along three paths of different lengths
        d = c * a
        return (d.tanh() * x).sum() + (a * a).sum()

    x = ts.tensor(values, requires_grad=True)
    f(x).backward()
    xt = torch.tensor(values, requires_grad=True)
    f(xt).backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


def test_unused_output_of_a_multi_output_op_gets_zero_gradient():
    x = ts.tensor(np.arange(6.0), requires_grad=True)
    _, middle, _ = x.split(2)
    (middle * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 3, 3, 0, 0])


def test_gradient_of_a_float32_input_mixed_with_float64_stays_float32():
    a = ts.tensor([1.0, 2.0], requires_grad=True)
    b = ts.tensor(np.array([3.0, 4.0]), requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.dtype == ts.float32 and b.grad.dtype == ts.float64
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 4.0])


# ---------------------------------------------------------------- .grad accumulation

def test_two_backward_calls_accumulate_into_leaf_grad_and_none_resets():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 + 2 * x.numpy())
    x.grad = None
    (x * 5).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 5.0])


def test_backward_of_a_leaf_itself_gives_ones():
    s = ts.tensor(2.0, requires_grad=True)
    s.backward()
    assert s.grad.item() == 1.0


def test_non_scalar_backward_without_gradient_raises_autograd_error():
    y = ts.tensor([1.0, 2.0, 3.0], requires_grad=True) * 2
    with pytest.raises(ts.AutogradError, match=r"scalar.*gradient=.*\(3,\)") as info:
        y.backward()
    assert isinstance(info.value, RuntimeError)


def test_non_scalar_backward_with_gradient_is_a_vector_jacobian_product():
    x = ts.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).backward(ts.tensor([1.0, 0.5, -1.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0, -6.0])


def test_backward_with_gradient_of_the_wrong_shape_raises_shape_error():
    y = ts.tensor([1.0, 2.0, 3.0], requires_grad=True) * 2
    with pytest.raises(ts.ShapeError, match=r"\(2,\).*\(3,\)"):
        y.backward(ts.ones(2))


def test_backward_of_a_tensor_without_grad_raises():
    with pytest.raises(ts.AutogradError, match="does not require grad"):
        ts.tensor([1.0, 2.0]).sum().backward()


def test_backward_from_an_integer_tensor_raises_dtype_error():
    with pytest.raises(ts.DTypeError):
        ts.tensor([1, 2]).sum().backward()


def test_leaf_grad_does_not_alias_the_gradient_passed_to_backward():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    upstream = ts.ones(2)
    (x + 0.0).backward(upstream)
    x.grad.zero_()
    np.testing.assert_array_equal(upstream.numpy(), [1.0, 1.0])


# ---------------------------------------------------------------- retain_graph and freeing

def test_retain_graph_allows_a_second_backward_that_accumulates():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * x.numpy())


def _backward_twice(x):
    y = (x * x).sum()
    y.backward()
    y.backward()


def _backward_through_a_freed_subgraph(x):
    y = (x * x).sum()
    y.backward()
    (y * 2).backward()


def _grad_twice(x):
    y = (x * x).sum()
    ts.grad(y, x)
    ts.grad(y, x)


def _backward_through_a_freed_multi_output_node(x):
    _, last = x.split(1)
    last.sum().backward()
    (last * 2).sum().backward()


@pytest.mark.parametrize("second_pass", [_backward_twice, _backward_through_a_freed_subgraph,
                                         _grad_twice, _backward_through_a_freed_multi_output_node])
def test_second_backward_without_retain_graph_raises(second_pass):
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ts.AutogradError, match="second time"):
        second_pass(x)


def _graph_nodes(t):
    nodes, stack = [], [t.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or any(node is n for n in nodes):
            continue
        nodes.append(node)
        stack.extend(getattr(node, "parents", ()))
    return nodes


@pytest.mark.parametrize("retain", [False, True])
def test_backward_releases_every_node_unless_retain_graph(retain):
    x = ts.randn(4, 3, requires_grad=True)
    w = ts.randn(3, 2, requires_grad=True)
    loss = ((x @ w).tanh().exp() * 2).sum()
    nodes = _graph_nodes(loss)
    assert len(nodes) == 5
    loss.backward(retain_graph=retain)
    assert all(n.released is not retain for n in nodes)


def test_intermediate_tensors_are_collected_after_backward():
    x = ts.randn(10, requires_grad=True)
    a = x * 2
    b = a * a                       # Mul saves `a`
    ref = weakref.ref(a)
    del a
    gc.collect()
    assert ref() is not None
    b.sum().backward()
    gc.collect()
    assert ref() is None


def test_backward_frees_the_saved_arrays():
    # host arrays: tracemalloc sees NumPy's allocations, not the GPU's
    x = ts.randn(1000, requires_grad=True, device="cpu")
    column = ts.ones(1000, 1, device="cpu")
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        h = x * column                  # (1000, 1000) float32: 4 MB
        loss = h.tanh().sum()           # tanh saves its 4 MB output for backward
        del h
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - baseline
        loss.backward()
        gc.collect()
        left = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert held > 3_900_000, held       # the graph kept at least tanh's output
    assert left < 100_000, left         # and backward let all of it go


def _training_step(w, keep):
    h = ts.randn(32, 64, device=w.device)
    for _ in range(4):
        h = (h @ w).tanh()
    loss = (h * h).mean()
    loss.backward(retain_graph=keep is not None)
    if keep is not None:
        keep.append(loss)
    with ts.no_grad():
        w -= 0.01 * w.grad
    w.grad = None


@pytest.mark.parametrize("leak", [False, True])
def test_memory_stays_flat_over_a_training_loop(leak):
    ts.manual_seed(0)
    w = ts.randn(64, 64, requires_grad=True, device="cpu")    # tracemalloc sees host memory
    with ts.no_grad():
        w *= 0.1
    keep = [] if leak else None
    for _ in range(3):
        _training_step(w, keep)
    tracemalloc.start()
    try:
        gc.collect()
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(30):
            _training_step(w, keep)
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    if leak:   # the control: keeping retained graphs alive does show up
        assert growth > 500_000
    else:
        assert growth < 100_000


# ---------------------------------------------------------------- higher order

def test_second_derivative_of_cube_through_backward_create_graph():
    x = ts.tensor([-1.0, 0.5, 2.0], dtype=ts.float64, requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    first = x.grad
    np.testing.assert_allclose(first.numpy(), 3 * x.numpy() ** 2)
    assert first.requires_grad and first.grad_fn is not None
    x.grad = None
    first.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy())


def test_third_derivative_of_cube_through_grad():
    x = ts.tensor([-1.0, 0.5, 2.0], dtype=ts.float64, requires_grad=True)
    (g1,) = ts.grad((x ** 3).sum(), x, create_graph=True)
    (g2,) = ts.grad(g1.sum(), x, create_graph=True)
    (g3,) = ts.grad(g2.sum(), x)
    np.testing.assert_allclose(g2.numpy(), 6 * x.numpy())
    np.testing.assert_allclose(g3.numpy(), [6.0, 6.0, 6.0])


def test_hessian_vector_product_matches_closed_form():
    x = ts.tensor([1.0, 2.0, 3.0], dtype=ts.float64, requires_grad=True)
    v = ts.tensor([0.5, -1.0, 2.0], dtype=ts.float64)
    f = (x ** 3).sum() + x[0] * x[1] * x[2]
    (g,) = ts.grad(f, x, create_graph=True)
    (hv,) = ts.grad((g * v).sum(), x)
    x0, x1, x2 = x.numpy()
    hessian = np.diag(6 * x.numpy()) + np.array([[0, x2, x1], [x2, 0, x0], [x1, x0, 0]])
    np.testing.assert_allclose(hv.numpy(), hessian @ v.numpy(), rtol=1e-12)


@needs_torch
def test_hessian_vector_product_of_a_tanh_layer_matches_torch():
    rng = np.random.default_rng(1)
    W0, x0, v0 = rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal(3)

    def f(W, x):
        h = (W @ x).tanh()
        return (h * h).sum() + (x * x * x).sum()

    x = ts.tensor(x0, requires_grad=True)
    (g,) = ts.grad(f(ts.tensor(W0), x), x, create_graph=True)
    (hv,) = ts.grad((g * ts.tensor(v0)).sum(), x)
    _, hv_ref = torch.autograd.functional.hvp(lambda t: f(torch.tensor(W0), t),
                                              torch.tensor(x0), torch.tensor(v0))
    np.testing.assert_allclose(hv.numpy(), hv_ref.numpy(), rtol=1e-10)


# ---------------------------------------------------------------- ts.grad

def test_grad_returns_a_tuple_and_leaves_dot_grad_alone():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    w = ts.tensor([3.0, 4.0], requires_grad=True)
    w.grad = ts.tensor([9.0, 9.0])
    result = ts.grad((x * w).sum(), x)
    assert isinstance(result, tuple) and len(result) == 1
    np.testing.assert_allclose(result[0].numpy(), [3.0, 4.0])
    assert x.grad is None
    np.testing.assert_array_equal(w.grad.numpy(), [9.0, 9.0])


def test_grad_of_several_inputs_and_outputs():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    y = ts.tensor([3.0, -1.0], requires_grad=True)
    gx, gy = ts.grad([(x * y).sum(), (x * x).sum()], [x, y])
    np.testing.assert_allclose(gx.numpy(), y.numpy() + 2 * x.numpy())
    np.testing.assert_allclose(gy.numpy(), x.numpy())


def test_grad_with_grad_outputs_for_a_non_scalar_output():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    (g,) = ts.grad(x * 3, x, grad_outputs=ts.tensor([1.0, 10.0]))
    np.testing.assert_allclose(g.numpy(), [3.0, 30.0])


def test_grad_unused_input_raises_unless_allow_unused():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    unused = ts.tensor([5.0], requires_grad=True)
    with pytest.raises(ts.AutogradError, match="allow_unused"):
        ts.grad((x * 2).sum(), [x, unused])
    gx, gu = ts.grad((x * 2).sum(), [x, unused], allow_unused=True)
    np.testing.assert_allclose(gx.numpy(), [2.0, 2.0])
    assert gu is None


def test_grad_of_an_input_that_does_not_require_grad_raises():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    c = ts.tensor([1.0, 2.0])
    with pytest.raises(ts.AutogradError, match="input 1"):
        ts.grad((x * c).sum(), [x, c])


def test_grad_with_respect_to_a_non_leaf_intermediate():
    x = ts.tensor([1.0, -2.0], requires_grad=True)
    z = x * 2
    out = (z * z).sum() + z.sum()
    gz, gx = ts.grad(out, [z, x])
    np.testing.assert_allclose(gz.numpy(), 2 * z.numpy() + 1)
    np.testing.assert_allclose(gx.numpy(), 2 * (2 * z.numpy() + 1))
    assert x.grad is None


def test_grad_retain_graph_allows_a_second_call():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    (g1,) = ts.grad(y, x, retain_graph=True)
    (g2,) = ts.grad(y, x)
    np.testing.assert_allclose(g1.numpy(), g2.numpy())


def test_grad_without_create_graph_gives_untracked_tensors():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    (g,) = ts.grad((x ** 3).sum(), x)
    assert not g.requires_grad and g.grad_fn is None
    (g,) = ts.grad((x ** 3).sum(), x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None


@pytest.mark.parametrize("in_place_bytes", [0, None], ids=["every sum in place", "default"])
def test_gradient_sums_in_place_never_touch_an_array_passed_on(monkeypatch, in_place_bytes):
    """A tensor's gradients are summed in place once the engine made the sum; a sum
    handed to a rule is no longer the engine's alone (Add passes one array to both
    inputs), so later gradients must not be added into it. Random graphs of shared
    intermediates (every value used by several later ones, in every order), checked
    against the study engine, which sums out of place. (These arrays are small: the
    first case lowers the size from which sums are made in place to every sum.)"""
    import random

    import tinygrad_seq as ts
    from tinygrad_seq import autograd, reference_engine
    if in_place_bytes is not None:
        monkeypatch.setattr(autograd, "SUM_IN_PLACE_BYTES", in_place_bytes)
    rng = random.Random(0)
    for trial in range(150):
        a = ts.tensor([1.0, -2.0, 0.5], dtype=ts.float64, requires_grad=True)
        values = [a, a * 2.0]
        for _ in range(rng.randint(3, 9)):
            x, y = rng.choice(values), rng.choice(values)
            op = rng.choice(["add", "sub", "mul", "scale"])
            values.append(x + y if op == "add" else x - y if op == "sub" else
                          x * y * 0.1 if op == "mul" else x * rng.choice([2.0, -1.0, 0.5]))
        used = rng.sample(values[1:], rng.randint(1, min(4, len(values) - 1)))
        loss = sum((v * float(k + 1)).sum() for k, v in enumerate(used))
        (want,) = reference_engine.grad(loss, [a])
        (got,) = ts.grad(loss, [a])
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12,
                                   err_msg=f"trial {trial}")


def test_a_weight_used_at_every_step_sums_its_gradients_correctly():
    import tinygrad_seq as ts
    w = ts.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    x = ts.tensor(np.ones((3, 4)))
    h = ts.zeros(2, 4)
    for t in range(5):
        h = (w @ x) * float(t + 1) + h
    h.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.full((2, 3), 4.0 * 15.0))


def test_a_once_differentiable_primitive_refuses_create_graph_and_only_that():
    """Node.once_differentiable wraps the class's rule (own or inherited): the plain
    gradient works, create_graph raises naming the primitive."""
    from tinygrad_seq.autograd import Node

    class Triple(Node):
        """y = 3 x;  dx = 3 dy (an array-only rule: np.multiply)"""
        reads_inputs = False

        def forward(self, x):
            return x * 3.0

        def backward(self, g):
            return (np.multiply(g, 3.0),)

    class TripleOnce(Triple):
        once_differentiable = True

    x = ts.tensor([1.0, 2.0], requires_grad=True)
    (g,) = ts.grad(TripleOnce.apply(x).sum(), x)
    np.testing.assert_array_equal(g.numpy(), [3.0, 3.0])
    with pytest.raises(ts.AutogradError, match="TripleOnce is differentiable once"):
        ts.grad(TripleOnce.apply(x).sum(), x, create_graph=True)
    with pytest.raises(TypeError):   # the parent class is not wrapped: its rule meets Tensors
        ts.grad(Triple.apply(x).sum(), x, create_graph=True)
