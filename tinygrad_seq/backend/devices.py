"""Devices and moving arrays between them: NumPy for "cpu", CuPy for "cuda".

Everything outside backend/ asks this module for the array module of a device
(``xp(device)``) or of an array (``array_module(a)``), so the same code runs on both;
``to_device`` / ``to_numpy`` move arrays between host and GPU.

The default device comes from the environment variable ``TINYGRAD_SEQ_DEVICE``
(``cpu`` or ``cuda``), read once at import; ``set_default_device`` changes it for the
calling thread (as torch's, which is per thread too). A device that is asked for but cannot be
had is an error, never a silent fallback to the CPU.
"""
import os
import threading

import numpy

from ..errors import DeviceError

DEVICES = ("cpu", "cuda")
ENV_VAR = "TINYGRAD_SEQ_DEVICE"

_cupy = None          # the cupy module once "cuda" has been asked for and works


def _load_cupy():
    """Import CuPy and check that a GPU answers; raise DeviceError saying why not."""
    global _cupy
    if _cupy is not None:
        return _cupy
    try:
        import cupy
    except ImportError as e:
        raise DeviceError(
            "device 'cuda' needs CuPy, which is not installed: "
            'pip install "tinygrad_seq[gpu]" (CUDA 12; for CUDA 13 install cupy-cuda13x)'
        ) from e
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDA driver missing or broken
        raise DeviceError(f"device 'cuda': CuPy is installed but no usable GPU was found ({e})") from e
    if count < 1:
        raise DeviceError("device 'cuda': CuPy is installed but no GPU is visible")
    _cupy = cupy
    return cupy


class Device:
    """A device, ``ts.device("cpu")``, ``ts.device("cuda")``, ``ts.device("cuda:0")``,
    ``ts.device("cuda", 0)``, as torch.device: ``.type`` ("cpu" or "cuda") and
    ``.index`` (None unless given). Accepted wherever a device is; ``str()`` gives
    "cuda:0" / "cuda" / "cpu". It compares equal to the devices and device strings that
    name the same device. This framework drives one GPU, so "cuda" and "cuda:0" name
    the same one and compare equal (torch compares ``device("cuda") != device("cuda:0")``);
    tensors' ``.device`` stays the string "cpu" or "cuda", equal to these objects."""
    __slots__ = ("type", "index")

    def __init__(self, type, index=None):  # noqa: A002  torch.device's argument names
        if isinstance(type, Device):
            if index is not None:
                raise ValueError("device(): an index with a device object")
            type, index = type.type, type.index
        elif isinstance(type, int) and not isinstance(type, bool):
            type, index = "cuda", type             # torch.device(0) is cuda:0
        elif not isinstance(type, str):
            raise TypeError(f"device(): expected a string, got {type.__class__.__name__}")
        elif ":" in type:
            if index is not None:
                raise ValueError(f"device(): type (string) must not include an index because "
                                 f"index was passed explicitly: {type}")
            type, _, number = type.partition(":")
            if not number.isdigit():
                raise DeviceError(f"Invalid device string: {type}:{number!r}")
            index = int(number)
        if type not in DEVICES:
            raise DeviceError(f"unknown device type {type!r}: expected one of "
                              f"{', '.join(DEVICES)}")
        if index is not None and (not isinstance(index, int) or isinstance(index, bool)
                                  or index < 0):
            raise DeviceError(f"device(): the index must be a non-negative int, got {index!r}")
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "index", index)

    def __setattr__(self, name, value):
        raise AttributeError("device objects are immutable")

    def _key(self):
        return (self.type, 0 if self.index is None else self.index)

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = Device(other)
            except (DeviceError, ValueError):
                return False
        if not isinstance(other, Device):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __reduce__(self):
        return (Device, (self.type, self.index))


def check_device(device):
    """Return the canonical device string for `device` ("cpu", "cuda", "cuda:0", or a
    Device object)."""
    if device is None:
        return current_device()
    if isinstance(device, Device):
        name = device.type
    else:
        name = str(device)
        if name.startswith("cuda:"):
            name = "cuda"
    if name not in DEVICES:
        raise DeviceError(f"unknown device {device!r}: expected one of {', '.join(DEVICES)}")
    if name == "cuda":
        _load_cupy()
    return name


def _device_from_env():
    value = os.environ.get(ENV_VAR, "cpu").strip().lower() or "cpu"
    if value not in DEVICES:
        raise DeviceError(f"{ENV_VAR}={os.environ[ENV_VAR]!r} is not a device: allowed values are "
                          f"{' and '.join(DEVICES)}")
    if value == "cuda":
        _load_cupy()
    return value


default_device = _device_from_env()     # the process's default (TINYGRAD_SEQ_DEVICE)
_thread = threading.local()             # a thread's own default (set_default_device)


def current_device():
    """The device of new tensors in the calling thread: the one set_default_device
    gave it, else the process's default (TINYGRAD_SEQ_DEVICE)."""
    return getattr(_thread, "device", None) or default_device


def set_default_device(device):
    """``torch.set_default_device``: new tensors made by the calling thread without an
    explicit device go to `device` ("cpu", "cuda", a ``ts.device``); None goes back to
    the process's default. Other threads keep theirs."""
    _thread.device = None if device is None else check_device(device)


def xp(device):
    """The array module (numpy or cupy) of a device string."""
    return numpy if device == "cpu" else _load_cupy()


def array_module(a):
    """The array module of an array (numpy for anything that is not a CuPy array)."""
    if _cupy is not None and isinstance(a, _cupy.ndarray):
        return _cupy
    return numpy


def writeable(a):
    """Whether `a` may be written in place: NumPy's flag. CuPy arrays have none, so a
    broadcast view there (a zero stride over an axis longer than 1, whose elements
    share memory) counts as read-only."""
    flag = getattr(a.flags, "writeable", None)
    if flag is not None:
        return flag
    return all(s != 0 or n <= 1 for s, n in zip(a.strides, a.shape))


class DeviceName(str):
    """What ``Tensor.device`` gives: the device's name, the string "cpu" or "cuda" (so
    it compares, hashes and prints as the strings the framework passes around), with
    torch.device's ``.type`` and ``.index``, so that ``x.device.type == "cuda"`` and
    ``x.device.index`` work as in PyTorch programs."""
    __slots__ = ()

    @property
    def type(self):
        return str(self)

    @property
    def index(self):
        """None on the CPU, 0 on the GPU (torch's index of a CUDA tensor's device)."""
        return None if self == "cpu" else 0


DEVICE_NAMES = {name: DeviceName(name) for name in ("cpu", "cuda")}


def device_of(a):
    """"cuda" for a CuPy array, "cpu" for anything else."""
    if _cupy is not None and isinstance(a, _cupy.ndarray):
        return "cuda"
    return "cpu"


# NumPy returns scalars (not 0-d arrays) from reductions and 0-d arithmetic; tensors
# hold arrays, so ops turn these back into 0-d arrays.
numpy_scalar = numpy.generic
as_ndarray = numpy.asarray


def is_array(a):
    """True for a NumPy or CuPy array (and NumPy scalars, which behave as 0-d arrays)."""
    return isinstance(a, (numpy.ndarray, numpy.generic)) or (
        _cupy is not None and isinstance(a, _cupy.ndarray))


def to_device(a, device):
    """Move an array to a device; returns `a` itself when it is already there."""
    if device_of(a) == device:
        return a
    if device == "cpu":
        return a.get()
    return _load_cupy().asarray(a)


def follow_device(a, device, op, what):
    """`a` on `device` for an op: host (NumPy) data follows the device it meets, as
    PyTorch copies a scalar or a CPU index to the GPU; an array on another GPU device is
    a DeviceError naming `op` and `what` ("an operand", "an index", ...)."""
    where = device_of(a)
    if where == device:
        return a
    if where != "cpu":
        raise DeviceError(f"{op}: {what} on {where} with a tensor on {device}; move one "
                          "(x.to(...), cupy.asnumpy)")
    return to_device(a, device)


def host_array(data):
    """A host NumPy array of Python data (nested lists, scalars)."""
    return numpy.asarray(data)


def format_array(a):
    """NumPy's repr of the values with 4 decimals (as PyTorch prints tensors)."""
    with numpy.printoptions(precision=4):
        return repr(to_numpy(a))


def to_numpy(a):
    """A new host NumPy array with the values of `a` (always a copy)."""
    if _cupy is not None and isinstance(a, _cupy.ndarray):
        return a.get()
    return numpy.array(a, copy=True)

