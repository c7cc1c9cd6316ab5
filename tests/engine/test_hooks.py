"""Tensor hooks: ``register_hook`` on leaves and non-leaves (observing and replacing the
gradient, removal through the handle) and ``retain_grad`` on non-leaves."""
import numpy as np
import pytest

import tinygrad_seq as ts


def test_leaf_hook_replaces_the_gradient_stored_in_grad():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [30.0, 30.0])


def test_leaf_hook_runs_once_with_the_total_gradient():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    (x * 2 + x * 3).sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], [5.0, 5.0])
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 5.0])


def test_non_leaf_hook_sees_its_gradient_and_its_replacement_flows_upstream():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    seen = []

    def hook(g):
        seen.append(g.numpy().copy())
        return ts.ones(2)

    y.register_hook(hook)
    (y * y).sum().backward()
    np.testing.assert_allclose(seen[0], 2 * y.numpy())
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])     # d(2x)/dx * 1


def test_hooks_run_in_registration_order_each_on_the_previous_result():
    x = ts.tensor([1.0], requires_grad=True)
    x.register_hook(lambda g: g + 1)
    x.register_hook(lambda g: g * 10)
    (x * 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [20.0])


def test_hook_on_the_output_itself():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2).sum()
    y.register_hook(lambda g: g * 5)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [10.0, 10.0])


def test_removed_hook_no_longer_runs_and_remove_twice_is_harmless():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    calls = []
    handle = x.register_hook(lambda g: calls.append(1) or g * 10)
    y = x * 2
    handle_y = y.register_hook(lambda g: calls.append(2) or g * 10)
    handle.remove()
    handle_y.remove()
    handle.remove()
    y.sum().backward()
    assert calls == []
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_hook_on_a_tensor_without_grad_raises():
    with pytest.raises(ts.AutogradError, match="does not require grad"):
        ts.ones(2).register_hook(lambda g: g)


def test_hook_output_is_differentiable_with_create_graph():
    x = ts.tensor([1.0, 2.0], dtype=ts.float64, requires_grad=True)
    x.register_hook(lambda g: g * 2)
    (x ** 2).sum().backward(create_graph=True)
    first = x.grad
    np.testing.assert_allclose(first.numpy(), 4 * x.numpy())
    assert first.requires_grad


def test_retain_grad_keeps_the_gradient_of_a_non_leaf():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    z = x * 4
    (y * y + z).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * y.numpy())
    np.testing.assert_allclose(x.grad.numpy(), 3 * 2 * y.numpy() + 4)
    assert z.grad is None


def test_retain_grad_accumulates_over_retained_backward_calls():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    loss = (y * y).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * 2 * y.numpy())


def test_retain_grad_on_a_leaf_changes_nothing():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    x.retain_grad()
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_retain_grad_twice_does_not_double_the_gradient():
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.retain_grad()
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * y.numpy())
