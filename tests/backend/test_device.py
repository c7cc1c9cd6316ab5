"""Devices: TINYGRAD_SEQ_DEVICE is validated at import (checked in subprocesses), a
missing CuPy is a DeviceError with the install command, ``x.device`` is a string,
``.to()`` moves (or returns self), and the same code runs on every device the
`device` fixture offers (cuda cases skip without a GPU)."""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_seq as ts

from paths import REPO
HAS_CUPY = importlib.util.find_spec("cupy") is not None


def _import_with_device(value):
    env = {**os.environ, "TINYGRAD_SEQ_DEVICE": value}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    code = ("import tinygrad_seq as ts\n"
            "print(ts.default_device(), ts.zeros(1).device)")
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_invalid_device_variable_fails_at_import_naming_it_and_the_allowed_values():
    result = _import_with_device("tpu")
    assert result.returncode != 0
    assert "DeviceError" in result.stderr
    assert "TINYGRAD_SEQ_DEVICE" in result.stderr
    assert "'tpu'" in result.stderr
    assert "cpu" in result.stderr and "cuda" in result.stderr


def test_cpu_device_variable_imports_and_sets_the_default_device():
    result = _import_with_device("cpu")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["cpu", "cpu"]


@pytest.mark.skipif(HAS_CUPY, reason="CuPy is installed: the missing-CuPy error cannot happen")
def test_cuda_device_variable_without_cupy_fails_with_the_install_command():
    result = _import_with_device("cuda")
    assert result.returncode != 0
    assert "DeviceError" in result.stderr
    assert 'pip install "tinygrad_seq[gpu]"' in result.stderr


@pytest.mark.skipif(HAS_CUPY, reason="CuPy is installed")
@pytest.mark.parametrize("move", [lambda x: x.to("cuda"), lambda x: x.cuda(),
                                  lambda x: x.to(device="cuda:0"),
                                  lambda x: ts.zeros(2, device="cuda")],
                         ids=["to", "cuda", "to-device-kw", "factory"])
def test_asking_for_cuda_without_cupy_raises_device_error(move):
    with pytest.raises(ts.DeviceError, match=r'pip install "tinygrad_seq\[gpu\]"'):
        move(ts.ones(3, device="cpu"))


def test_unknown_device_keyword_raises_device_error():
    with pytest.raises(ts.DeviceError, match="tpu"):
        ts.ones(3).to(device="tpu")
    with pytest.raises(ts.DeviceError, match="tpu"):
        ts.zeros(2, device="tpu")


def test_unknown_device_positional_raises_device_error():
    with pytest.raises(ts.DeviceError):
        ts.ones(3).to("tpu")


def test_cpu_tensor_device_string_and_to_cpu_returns_self():
    x = ts.tensor([1.0, 2.0], device="cpu")
    assert x.device == "cpu" and isinstance(x.device, str)
    assert x.to("cpu") is x
    assert x.cpu() is x
    assert x.to(ts.float64) is not x and x.to(ts.float64).dtype == ts.float64


def test_default_device_matches_new_tensors():
    assert ts.default_device() in ("cpu", "cuda")
    assert ts.zeros(1).device == ts.default_device()


# ---------------------------------------------------------------- on every device

def test_factories_and_ops_stay_on_the_device(device):
    x = ts.randn(3, 4, device=device, requires_grad=True)
    w = ts.ones(4, 2, device=device)
    y = (x @ w).tanh()
    assert x.device == w.device == y.device == device
    y.sum().backward()
    assert x.grad.device == device
    assert isinstance(x.numpy(), np.ndarray)


def test_backward_on_the_device_matches_numpy(device):
    a = np.array([[0.5, -1.0], [2.0, 0.25]])
    x = ts.tensor(a, device=device, requires_grad=True)
    ((x * x).sum(axis=1).sqrt()).sum().backward()
    expected = a / np.sqrt((a * a).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


def test_to_round_trip_is_differentiable(device):
    x = ts.tensor([1.0, 2.0], device="cpu", requires_grad=True)
    moved = x.to(device)
    assert moved.device == device
    back = (moved * 3).to("cpu")
    back.sum().backward()
    assert x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def _cuda_missing():
    try:
        ts.backend.check_device("cuda")
    except ts.DeviceError as e:
        return str(e)
    return None


@pytest.mark.cuda
@pytest.mark.skipif(_cuda_missing() is not None, reason=f"no CUDA: {_cuda_missing()}")
def test_mixing_devices_raises_device_error_naming_both():
    with pytest.raises(ts.DeviceError) as info:
        ts.ones(3, device="cpu") + ts.ones(3, device="cuda")
    assert "cpu" in str(info.value) and "cuda" in str(info.value)


# ---------------------------------------------------------------- set_default_device

def test_set_default_device_is_per_thread_and_resets_with_none():
    """torch.set_default_device's rules: the calling thread's default changes, other
    threads keep the process's; None goes back. (A thread's setting is written
    directly here, so that no GPU is needed to see it.)"""
    import threading
    from tinygrad_seq.backend import devices
    seen = {}

    def worker():
        devices._thread.device = "cuda"
        seen["worker"] = ts.default_device()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen["worker"] == "cuda"
    assert ts.default_device() == "cpu" and ts.zeros(1).device == "cpu"
    ts.set_default_device(ts.device("cpu"))
    assert ts.get_default_device() == ts.device("cpu")
    assert repr(ts.get_default_device()) == "device(type='cpu')"
    ts.set_default_device(None)
    assert ts.default_device() == "cpu"


@pytest.mark.skipif(HAS_CUPY, reason="checks the error without CuPy")
def test_set_default_device_to_cuda_without_cupy_raises_and_changes_nothing():
    with pytest.raises(ts.DeviceError, match="CuPy"):
        ts.set_default_device("cuda")
    with pytest.raises(ts.DeviceError, match="unknown device 'tpu'"):
        ts.set_default_device("tpu")
    assert ts.default_device() == "cpu"


@pytest.mark.skipif(not HAS_CUPY, reason="needs CuPy and a GPU")
def test_set_default_device_moves_new_tensors_and_modules():
    try:
        ts.set_default_device("cuda")
        assert ts.zeros(2).device == "cuda" and ts.tensor([1.0]).device == "cuda"
        assert ts.nn.Linear(2, 3).weight.device == "cuda"
        assert ts.zeros(2, device="cpu").device == "cpu"      # an explicit device wins
    finally:
        ts.set_default_device(None)


def test_variable_is_a_detached_tensor_as_in_torch():
    from tinygrad_seq.autograd import Variable
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    v = Variable(y)
    assert isinstance(x, Variable) and isinstance(v, ts.Tensor)
    assert v.grad_fn is None and not v.requires_grad
    assert np.shares_memory(v.array, y.array)
    w = Variable(ts.tensor([2.0]), requires_grad=True)
    (w * w).sum().backward()
    assert w.grad.item() == 4.0
    with pytest.raises(TypeError, match="Variable data has to be a tensor, but got list"):
        Variable([1.0])
