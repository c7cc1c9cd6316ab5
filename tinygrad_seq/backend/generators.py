"""Random generators: one per device for the framework (reseeded by ``manual_seed``),
and the streams behind ``ts.Generator``: NumPy's default_rng (PCG64) or CuPy's."""
import os

from .devices import xp

def fresh_seed():
    """A non-deterministic 64-bit seed (the operating system's randomness)."""
    return int.from_bytes(os.urandom(8), "little")


def random_stream(device, seed):
    """A new random generator of `device`'s array module seeded with `seed`: NumPy's
    default_rng (PCG64) or CuPy's."""
    return xp(device).random.default_rng(seed)


class _Generators:
    """One random generator per device, all reseeded by manual_seed; ``seed_device``
    reseeds one (``ts.cuda.manual_seed``). Without a seed one comes from the
    operating system, so that ``initial_seed()`` can report it."""

    def __init__(self, seed=None):
        self._device_seeds = {}
        self.seed(seed)

    def seed(self, seed):
        self._seed = fresh_seed() if seed is None else seed
        self._device_seeds = {}
        self._by_device = {}

    def seed_device(self, device, seed):
        self._device_seeds[device] = seed
        self._by_device.pop(device, None)

    def replace(self, device, seed, stream):
        """Make `stream` (started from `seed`) the generator of `device`."""
        self._device_seeds[device] = seed
        self._by_device[device] = stream

    def initial_seed(self, device="cpu"):
        return self._device_seeds.get(device, self._seed)

    def __call__(self, device):
        gen = self._by_device.get(device)
        if gen is None:
            gen = random_stream(device, self.initial_seed(device))
            self._by_device[device] = gen
        return gen


generator = _Generators()


def manual_seed(seed):
    """Seed the framework's random generators on every device."""
    generator.seed(int(seed) % 2 ** 64)


def rng(device, gen=None):
    """The random generator to draw from on `device`: the framework's (`gen` None) or
    that of a ``ts.Generator`` (its ``rng_for(device)``)."""
    if gen is None:
        return generator(device)
    rng_for = getattr(gen, "rng_for", None)
    if rng_for is None:
        raise TypeError(f"generator must be a tinygrad_seq Generator or None, got "
                        f"{type(gen).__name__}")
    return rng_for(device)
