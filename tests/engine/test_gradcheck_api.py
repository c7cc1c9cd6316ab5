"""The public gradient checker: ``ts.gradcheck`` / ``ts.gradgradcheck`` return True for
correct gradients, and for wrong ones raise GradcheckError naming the worst entry (or
return False with raise_exception=False), on the full-Jacobian path and on the
random-projection path for large inputs."""
import re

import numpy as np
import pytest

import tinygrad_seq as ts


def _f64(shape, seed=0):
    return ts.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def _wrong_by_factor(factor):
    """A custom op y = 2 x whose backward multiplies by `factor` (an array) instead."""

    class Wrong(ts.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, grad):
            return grad * ts.tensor(factor)

    return Wrong.apply


class CubeWithConstantBackward(ts.Function):
    """First derivative right, but computed from a detached copy of x, so the second
    derivative (through create_graph) is wrong."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ts.tensor(3 * x.numpy() ** 2)


def test_gradcheck_returns_true_for_correct_gradients():
    assert ts.gradcheck(lambda x: (x.tanh() * x).sum(axis=1), (_f64((3, 4)),)) is True
    assert ts.gradcheck(lambda a, b: (a @ b).exp(), (_f64((2, 3)), _f64((3, 2), 1))) is True


def test_gradcheck_accepts_a_single_tensor_and_non_tensor_arguments():
    assert ts.gradcheck(lambda x: x.sigmoid(), _f64(3))
    assert ts.gradcheck(lambda x, k: x ** k, (_f64(3), 3))


def test_gradcheck_ignores_inputs_that_do_not_require_grad():
    constant = ts.tensor(np.array([1.0, -2.0, 3.0]))
    assert ts.gradcheck(lambda a, c: a * c, (_f64(3), constant))


def test_gradcheck_with_tuple_outputs_of_different_shapes():
    def fn(x, y):
        return x.tanh(), (x * y).sum(), (x @ y.T).softmax(axis=-1)

    assert ts.gradcheck(fn, (_f64((2, 3)), _f64((2, 3), 1)))


def test_gradcheck_leaves_the_inputs_unchanged():
    x = _f64((2, 3))
    before = x.numpy()
    ts.gradcheck(lambda t: t.exp(), (x,))
    np.testing.assert_array_equal(x.numpy(), before)
    assert x.grad is None


def test_gradcheck_error_names_the_worst_entry_with_both_values():
    factor = np.full((2, 3), 2.0)
    factor[0, 0] = 2.5
    factor[1, 2] = 7.0
    with pytest.raises(ts.GradcheckError) as info:
        ts.gradcheck(_wrong_by_factor(factor), (_f64((2, 3)),))
    message = str(info.value)
    assert "index (1, 2)" in message
    assert "output element 5" in message
    analytic = float(re.search(r"analytic (\S+),", message).group(1))
    numeric = float(re.search(r"numeric (\S+) ", message).group(1))
    assert analytic == pytest.approx(7.0) and numeric == pytest.approx(2.0, rel=1e-6)
    assert "2 of 36 entries" in message


def test_gradcheck_raise_exception_false_returns_false():
    factor = np.full(3, 2.0)
    factor[1] = 2.1
    assert ts.gradcheck(_wrong_by_factor(factor), (_f64(3),), raise_exception=False) is False


def test_gradcheck_tolerances_are_applied():
    factor = np.full(3, 2.0)
    factor[1] = 2.0 + 1e-3           # relative error 5e-4
    assert ts.gradcheck(_wrong_by_factor(factor), (_f64(3),), rtol=1e-3)
    assert not ts.gradcheck(_wrong_by_factor(factor), (_f64(3),), rtol=1e-4,
                            raise_exception=False)


def test_gradcheck_of_a_large_input_uses_random_projections():
    x = _f64((100, 100))
    assert ts.gradcheck(lambda t: (t.tanh() * 2).sum(axis=0), (x,))
    factor = np.full((100, 100), 2.0)
    factor[37, 5] = 40.0
    wrong = _wrong_by_factor(factor)
    assert ts.gradcheck(lambda t: wrong(t).sum(axis=0), (x,), raise_exception=False) is False
    with pytest.raises(ts.GradcheckError, match="projection"):
        ts.gradcheck(lambda t: wrong(t).sum(axis=0), (x,))


def test_gradcheck_rejects_float32_inputs_that_require_grad():
    x32 = ts.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ts.DTypeError, match="float64"):
        ts.gradcheck(lambda t: t * 2, (x32,))


def test_gradcheck_without_inputs_requiring_grad_raises():
    with pytest.raises(ValueError, match="requires grad"):
        ts.gradcheck(lambda t: t * 2, (ts.tensor(np.ones(2)),))


def test_gradgradcheck_passes_for_correct_second_derivatives():
    assert ts.gradgradcheck(lambda x: (x.tanh() * x).sum(axis=0), (_f64((3, 2)),))
    assert ts.gradgradcheck(lambda a, b: (a * b).sigmoid(), (_f64(3), _f64(3, 1)))


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable():
    x = _f64(4)
    assert ts.gradcheck(CubeWithConstantBackward.apply, (x,))
    with pytest.raises(ts.GradcheckError):
        ts.gradgradcheck(CubeWithConstantBackward.apply, (x,))
    assert ts.gradgradcheck(CubeWithConstantBackward.apply, (x,), raise_exception=False) is False
