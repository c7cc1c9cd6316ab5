"""Random generators as ``torch.Generator``: ``ts.Generator(device="cpu")``, and the
framework's own, ``ts.default_generator`` (reseeded, on every device, by
``ts.manual_seed``).

A Generator holds one random stream of its device's array module (NumPy's PCG64 on
"cpu", CuPy's on "cuda"), started from its seed. Functions that take ``generator=``
draw from ``generator.rng_for(device)``; as in torch, the generator's device type must
be the device's.

State: ``get_state()`` returns a plain dict (ints and strings, no pickle; ``ts.save``
can store it), ``{"seed": initial seed, "device": "cpu", "bit_generator": "PCG64",
"state": NumPy's bit-generator state}``; ``set_state`` takes such a dict back. The
state of a CUDA stream cannot be read from CuPy: on "cuda" ``get_state`` raises
NotImplementedError (``manual_seed`` restarts a stream there).
"""
import copy

from . import backend
from .errors import DeviceError

DEFAULT_SEED = 67280421310721     # torch.Generator()'s initial seed


def _seed_value(seed, op):
    if isinstance(seed, bool) or not hasattr(seed, "__index__"):
        try:
            seed = int(seed)
        except (TypeError, ValueError):
            raise TypeError(f"{op}: seed must be an int, got {type(seed).__name__}") from None
    return int(seed) % 2 ** 64            # torch wraps negative seeds the same way


class Generator:
    """``Generator(device="cpu")``: an independent random stream, seeded with torch's
    default initial seed until ``manual_seed``. See the module docstring."""

    def __init__(self, device="cpu"):
        dev = backend.Device(device if device is not None else "cpu")
        backend.check_device(dev)                 # "cuda" needs CuPy and a GPU
        self.device = dev
        self._seed = DEFAULT_SEED
        self._rng = None

    def manual_seed(self, seed):
        """Restart the stream from `seed` (an int; negative ones wrap modulo 2**64).
        Returns self."""
        self._seed = _seed_value(seed, "Generator.manual_seed")
        self._rng = None
        return self

    def seed(self):
        """Seed from the operating system's randomness; returns that seed."""
        self._seed = backend.fresh_seed()
        self._rng = None
        return self._seed

    def initial_seed(self):
        """The seed the stream started from."""
        return self._seed

    def rng_for(self, device):
        """The backend random generator (NumPy's or CuPy's) to draw from for a tensor on
        `device`; DeviceError when the device type is not this generator's, as torch."""
        device = backend.check_device(device)
        if device != self.device.type:
            raise DeviceError(f"Expected a '{device}' device type for generator but found "
                              f"'{self.device.type}'")
        if self._rng is None:
            self._rng = backend.random_stream(device, self._seed)
        return self._rng

    def get_state(self):
        """The state as a plain dict (see the module docstring)."""
        if self.device.type != "cpu":
            raise NotImplementedError("Generator.get_state: CuPy does not expose the state of "
                                      "a CUDA random stream; use manual_seed to restart it")
        bits = self.rng_for("cpu").bit_generator
        return {"seed": self._seed, "device": "cpu", "bit_generator": type(bits).__name__,
                "state": copy.deepcopy(bits.state)}

    def set_state(self, new_state):
        """Restore a state from get_state(). Returns self."""
        if not isinstance(new_state, dict) or set(new_state) != {"seed", "device",
                                                                "bit_generator", "state"}:
            raise TypeError("Generator.set_state: expected a dict from Generator.get_state()")
        if new_state["device"] != self.device.type:
            raise DeviceError(f"Generator.set_state: a state of a {new_state['device']} "
                              f"generator given to a {self.device.type} one")
        rng = backend.random_stream(self.device.type, 0)
        if new_state["bit_generator"] != type(rng.bit_generator).__name__:
            raise ValueError(f"Generator.set_state: a {new_state['bit_generator']} state, "
                             f"expected {type(rng.bit_generator).__name__}")
        try:
            rng.bit_generator.state = copy.deepcopy(new_state["state"])
        except (TypeError, ValueError, KeyError) as e:
            raise ValueError(f"Generator.set_state: not a valid state ({e})") from e
        self._seed = _seed_value(new_state["seed"], "Generator.set_state")
        self._rng = rng
        return self

    def __repr__(self):
        return f"<tinygrad_seq.Generator object, device={str(self.device)!r}>"


class _DefaultGenerator(Generator):
    """``ts.default_generator``: the framework's streams (one per device) seen as a
    Generator; its manual_seed reseeds every device (as ``ts.manual_seed``)."""

    def __init__(self):
        self.device = backend.Device("cpu")

    @property
    def _seed(self):
        return backend.generator.initial_seed("cpu")

    def manual_seed(self, seed):
        backend.manual_seed(_seed_value(seed, "manual_seed"))
        return self

    def seed(self):
        s = backend.fresh_seed()
        backend.manual_seed(s)
        return s

    def rng_for(self, device):
        return backend.generator(backend.check_device(device))

    def set_state(self, new_state):
        gen = Generator("cpu").set_state(new_state)
        backend.generator.replace("cpu", gen.initial_seed(), gen.rng_for("cpu"))
        return self


default_generator = _DefaultGenerator()


def manual_seed(seed):
    """Seed the framework's random generators on every device; returns the default
    generator (as torch.manual_seed)."""
    return default_generator.manual_seed(seed)


def seed():
    """Seed every device from the operating system's randomness; returns the seed."""
    return default_generator.seed()


def initial_seed():
    """The seed of the framework's cpu stream."""
    return default_generator.initial_seed()


def get_rng_state():
    """``default_generator.get_state()``."""
    return default_generator.get_state()


def set_rng_state(new_state):
    """``default_generator.set_state(new_state)``."""
    default_generator.set_state(new_state)
