"""Grad mode (no_grad / enable_grad / set_grad_enabled, as context managers and as
decorators) and anomaly detection (detect_anomaly names the op and where it was made)."""
import os

import numpy as np
import pytest

import tinygrad_seq as ts

THIS_FILE = os.path.basename(__file__)


@pytest.fixture(autouse=True)
def _modes_are_restored():
    """Every test here must leave grad mode on and anomaly mode off."""
    yield
    enabled, anomaly = ts.is_grad_enabled(), ts.is_anomaly_enabled()
    ts.autograd._state.grad_enabled = True      # don't let one failure cascade
    ts.set_detect_anomaly(False)
    assert enabled and not anomaly


def _leaf():
    return ts.tensor([1.0, 2.0], requires_grad=True)


# ---------------------------------------------------------------- grad mode

def test_no_grad_context_records_nothing():
    x = _leaf()
    with ts.no_grad():
        assert not ts.is_grad_enabled()
        y = x * 2
    assert ts.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf


def test_no_grad_decorator_records_nothing_and_keeps_the_function_name():
    x = _leaf()

    @ts.no_grad()
    def double(t):
        return t * 2, ts.is_grad_enabled()

    y, enabled_inside = double(x)
    assert not enabled_inside and not y.requires_grad
    assert double.__name__ == "double"
    assert ts.is_grad_enabled()


def test_enable_grad_inside_no_grad_records_and_restores_the_outer_mode():
    x = _leaf()
    with ts.no_grad():
        with ts.enable_grad():
            y = x * 2
            assert ts.is_grad_enabled()
        assert not ts.is_grad_enabled()
        z = x * 2
    assert y.requires_grad and y.grad_fn is not None
    assert not z.requires_grad


def test_enable_grad_decorator_inside_no_grad():
    x = _leaf()

    @ts.enable_grad()
    def double(t):
        return t * 2

    with ts.no_grad():
        y = double(x)
        assert not ts.is_grad_enabled()
    assert y.requires_grad


@pytest.mark.parametrize("mode", [False, True])
def test_set_grad_enabled_context_and_decorator(mode):
    x = _leaf()
    with ts.no_grad() if mode else ts.enable_grad():
        with ts.set_grad_enabled(mode):
            assert ts.is_grad_enabled() is mode
            assert (x * 2).requires_grad is mode
        assert ts.is_grad_enabled() is not mode

    @ts.set_grad_enabled(mode)
    def inside():
        return ts.is_grad_enabled()

    assert inside() is mode
    assert ts.is_grad_enabled()


def test_set_grad_enabled_called_as_a_function_sets_the_mode():
    try:
        ts.set_grad_enabled(False)
        assert not ts.is_grad_enabled()
    finally:
        ts.set_grad_enabled(True)
    assert ts.is_grad_enabled()


def test_modes_are_restored_after_an_exception_in_a_context_manager():
    with pytest.raises(ValueError):
        with ts.no_grad():
            with ts.enable_grad():
                raise ValueError("boom")
    assert ts.is_grad_enabled()


def test_modes_are_restored_after_an_exception_in_a_decorated_function():
    @ts.no_grad()
    def fails():
        raise KeyError("boom")

    with pytest.raises(KeyError):
        fails()
    assert ts.is_grad_enabled()


def test_one_no_grad_object_can_be_nested_and_reused():
    ng = ts.no_grad()
    with ng:
        with ng:
            assert not ts.is_grad_enabled()
        assert not ts.is_grad_enabled()
    assert ts.is_grad_enabled()
    with ng:
        assert not ts.is_grad_enabled()
    assert ts.is_grad_enabled()


def test_backward_under_no_grad_still_computes_gradients():
    x = _leaf()
    y = (x * x).sum()
    with ts.no_grad():
        y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


# ---------------------------------------------------------------- anomaly detection

def test_detect_anomaly_names_sqrt_backward_and_the_creating_line():
    x = ts.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        with ts.detect_anomaly():
            y = x.sqrt()
            with pytest.raises(ts.AutogradError) as info:
                y.sum().backward()
    message = str(info.value)
    assert "SqrtBackward" in message
    assert "nan or inf" in message
    assert THIS_FILE in message and "y = x.sqrt()" in message


def test_detect_anomaly_names_log_backward():
    x = ts.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        with ts.detect_anomaly():
            with pytest.raises(ts.AutogradError, match="LogBackward") as info:
                x.log().sum().backward()
    assert THIS_FILE in str(info.value)


def test_without_anomaly_mode_a_nan_gradient_passes_silently():
    x = ts.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        (x * x.log()).sum().backward()
    assert np.isnan(x.grad.numpy()[0])
    assert x.grad.numpy()[1] == pytest.approx(1.0)


def test_detect_anomaly_as_a_decorator_and_is_anomaly_enabled():
    @ts.detect_anomaly()
    def run():
        assert ts.is_anomaly_enabled()
        x = ts.tensor([0.0, 4.0], requires_grad=True)
        x.sqrt().sum().backward()

    assert not ts.is_anomaly_enabled()
    with np.errstate(divide="ignore", invalid="ignore"):
        with pytest.raises(ts.AutogradError, match="SqrtBackward"):
            run()
    assert not ts.is_anomaly_enabled()


def test_set_detect_anomaly_switches_the_mode():
    ts.set_detect_anomaly(True)
    try:
        x = ts.tensor([0.0], requires_grad=True)
        with np.errstate(divide="ignore"):
            with pytest.raises(ts.AutogradError, match="SqrtBackward"):
                x.sqrt().sum().backward()
    finally:
        ts.set_detect_anomaly(False)
    assert not ts.is_anomaly_enabled()


def test_detect_anomaly_names_a_custom_function():
    class NanGrad(ts.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, grad):
            return grad * float("nan")

    with ts.detect_anomaly():
        out = NanGrad.apply(ts.ones(2, requires_grad=True))
        with pytest.raises(ts.AutogradError, match="NanGradBackward") as info:
            out.sum().backward()
    assert THIS_FILE in str(info.value)


def test_version_error_without_anomaly_mode_suggests_it():
    x = _leaf()
    y = x.exp()
    y += 1
    with pytest.raises(ts.AutogradError, match="detect_anomaly"):
        y.sum().backward()
