"""User-defined differentiable ops in PyTorch's form: ``ts.Function`` subclasses with
static ``forward(ctx, ...)`` / ``backward(ctx, ...)``, ``ctx.save_for_backward`` /
``ctx.saved_tensors``, ``ctx.needs_input_grad``, ``MyOp.apply(...)``; checked with
gradcheck, double backward, several outputs, non-tensor arguments and misuse."""
import numpy as np
import pytest

import tinygrad_seq as ts


class Cube(ts.Function):
    """y = x ** 3, with a differentiable backward (written with Tensor ops)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x * x


class ScaledPower(ts.Function):
    """y = scale * x ** power, with non-tensor arguments."""

    @staticmethod
    def forward(ctx, x, power, scale):
        ctx.save_for_backward(x)
        ctx.power, ctx.scale = power, scale
        return x ** power * scale

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ctx.scale * ctx.power * x ** (ctx.power - 1), None, None


class SumAndProduct(ts.Function):
    """Two outputs: (a + b, a * b)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a + b, a * b

    @staticmethod
    def backward(ctx, grad_sum, grad_product):
        a, b = ctx.saved_tensors
        return grad_sum + grad_product * b, grad_sum + grad_product * a


def _x(values=(-1.5, 0.5, 2.0)):
    return ts.tensor(np.array(values), requires_grad=True)


def test_forward_value_grad_fn_name_and_backward():
    x = _x()
    y = Cube.apply(x)
    np.testing.assert_allclose(y.numpy(), x.numpy() ** 3)
    assert y.requires_grad and "grad_fn=<CubeBackward>" in repr(y)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * x.numpy() ** 2)


def test_gradcheck_and_gradgradcheck_of_a_custom_function():
    assert ts.gradcheck(Cube.apply, (_x(),))
    assert ts.gradgradcheck(Cube.apply, (_x(),))


def test_double_backward_through_a_custom_function():
    x = _x()
    (g,) = ts.grad(Cube.apply(x).sum(), x, create_graph=True)
    (gg,) = ts.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 6 * x.numpy())


def test_custom_function_composes_with_builtin_ops():
    x = _x()
    y = (Cube.apply(x.tanh()) * 2).sum()
    y.backward()
    t = np.tanh(x.numpy())
    np.testing.assert_allclose(x.grad.numpy(), 2 * 3 * t ** 2 * (1 - t ** 2))


def test_non_tensor_arguments():
    x = _x()
    y = ScaledPower.apply(x, 4, 0.5)
    np.testing.assert_allclose(y.numpy(), 0.5 * x.numpy() ** 4)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() ** 3)
    assert ts.gradcheck(lambda t: ScaledPower.apply(t, 3, 2.0), (_x(),))


def test_multiple_outputs_each_alone_and_together():
    a = ts.tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = ts.tensor(np.array([3.0, -1.0]), requires_grad=True)
    s, p = SumAndProduct.apply(a, b)
    (s.sum() + 2 * p.sum()).backward()
    np.testing.assert_allclose(a.grad.numpy(), 1 + 2 * b.numpy())
    np.testing.assert_allclose(b.grad.numpy(), 1 + 2 * a.numpy())

    a.grad = b.grad = None
    _, p = SumAndProduct.apply(a, b)          # the unused output's gradient is zeros
    p.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.numpy())
    assert ts.gradcheck(SumAndProduct.apply, (a, b))


def test_needs_input_grad_reports_which_inputs_require_grad():
    seen = []

    class Record(ts.Function):
        @staticmethod
        def forward(ctx, a, b, scale):
            seen.append(("forward", ctx.needs_input_grad))
            return a * b * scale

        @staticmethod
        def backward(ctx, grad):
            seen.append(("backward", ctx.needs_input_grad))
            return grad, None, None

    Record.apply(ts.ones(2, requires_grad=True), ts.ones(2), 3.0).sum().backward()
    assert seen == [("forward", (True, False, False)), ("backward", (True, False, False))]


def test_forward_runs_without_recording_and_no_grad_apply_is_untracked():
    inside = []

    class Probe(ts.Function):
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            inside.append((ts.is_grad_enabled(), y.requires_grad))
            return y

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    x = _x()
    assert Probe.apply(x).requires_grad
    with ts.no_grad():
        assert not Probe.apply(x).requires_grad
    assert inside == [(False, False), (False, False)]


def test_wrong_number_of_returned_gradients_raises():
    class TwoInputsOneGrad(ts.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, grad):
            return grad

    y = TwoInputsOneGrad.apply(_x(), _x())
    with pytest.raises(ts.AutogradError, match=r"returned 1 gradients, expected 2"):
        y.sum().backward()


def test_gradient_of_the_wrong_shape_raises_shape_error():
    class SumsItsGradient(ts.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad.sum()

    with pytest.raises(ts.ShapeError, match=r"SumsItsGradient.*\(3,\)"):
        SumsItsGradient.apply(_x()).sum().backward()


def test_forward_returning_a_non_tensor_raises_type_error():
    class ReturnsArray(ts.Function):
        @staticmethod
        def forward(ctx, x):
            return x.numpy()

        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(TypeError, match="ReturnsArray.forward must return Tensors"):
        ReturnsArray.apply(_x())


def test_save_for_backward_refuses_non_tensors():
    class SavesAnArray(ts.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x.numpy())
            return x * 1

        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(TypeError, match="save_for_backward"):
        SavesAnArray.apply(_x())


def test_saved_tensor_modified_in_place_raises_at_backward():
    x = _x()
    y = Cube.apply(x)
    with ts.no_grad():
        x.mul_(2)
    with pytest.raises(ts.AutogradError, match="saved tensor 0.*in place"):
        y.sum().backward()


def test_saved_output_modified_in_place_is_detected():
    class MyExp(ts.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):
            (y,) = ctx.saved_tensors
            return grad * y

    x = ts.tensor([0.0, 1.0], requires_grad=True)
    out = MyExp.apply(x)
    out += 1
    with pytest.raises(ts.AutogradError):
        out.sum().backward()


def test_backward_returning_none_for_an_input_gives_it_no_gradient():
    class OnlyFirst(ts.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, grad):
            return grad, None

    a, b = _x(), _x()
    OnlyFirst.apply(a, b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [1.0, 1.0, 1.0])
    assert b.grad is None


# ---------------------------------------------------------------- once_differentiable

class _NumpyExp(ts.Function):
    """A backward that leaves the graph (NumPy), marked once-differentiable."""

    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    @ts.once_differentiable
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return ts.tensor(grad.numpy() * y.numpy())


def test_once_differentiable_first_gradient_is_right():
    x = ts.tensor([0.5, -1.0, 2.0], dtype=ts.float64, requires_grad=True)
    assert ts.gradcheck(_NumpyExp.apply, (x,))
    (g,) = ts.grad(_NumpyExp.apply(x).sum(), x)
    np.testing.assert_allclose(g.numpy(), np.exp(x.numpy()))
    assert not g.requires_grad


def test_once_differentiable_under_create_graph_raises_when_differentiated():
    x = ts.tensor([0.5, -1.0, 2.0], dtype=ts.float64, requires_grad=True)
    (g,) = ts.grad(_NumpyExp.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), np.exp(x.numpy()))     # the values are right
    assert g.requires_grad                                        # but using them raises
    with pytest.raises(ts.AutogradError, match="_NumpyExp.*once_differentiable"):
        g.sum().backward()
    with pytest.raises(ts.AutogradError, match="once_differentiable"):
        ts.gradgradcheck(_NumpyExp.apply, (x,))


def test_once_differentiable_runs_backward_without_recording():
    seen = []

    class Probe(ts.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        @ts.once_differentiable
        def backward(ctx, grad):
            seen.append(ts.is_grad_enabled())
            return grad * 2

    x = ts.ones(3, requires_grad=True)
    ts.grad(Probe.apply(x).sum(), x, create_graph=True)
    assert seen == [False]
