"""``ts.cuda``, as ``torch.cuda``'s queries: whether the GPU device works (CuPy
installed and a GPU answering; never raises when CuPy is missing), how many GPUs this
framework uses (0 or 1: it drives one), and seeding the framework's CUDA stream."""
from . import backend


def is_available():
    """True when device "cuda" can be used: CuPy imports and sees a GPU."""
    try:
        backend._load_cupy()
    except Exception:           # DeviceError, or a broken CUDA install
        return False
    return True


def device_count():
    """The number of GPUs this framework can use: 1 when available, else 0."""
    return 1 if is_available() else 0


def current_device():
    """The index of the GPU in use (always 0)."""
    return 0


def manual_seed(seed):
    """Seed the framework's CUDA stream only (the CPU's is left as it is); lazily, so
    it is fine to call without a GPU, as torch."""
    seed = int(seed) % 2 ** 64
    backend.generator.seed_device("cuda", seed)


manual_seed_all = manual_seed


def initial_seed():
    """The seed of the framework's CUDA stream."""
    return backend.generator.initial_seed("cuda")
