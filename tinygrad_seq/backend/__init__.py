"""The array side of the framework, NumPy for "cpu" and CuPy for "cuda", one job per
module (read in this order; each imports only the ones before it):

- ``dtypes``: the dtype objects and names, the default float dtype, type promotion
- ``devices``: which array module a device or an array has, moving arrays between devices
- ``generators``: the random generators, one per device, and ``ts.Generator``'s streams
- ``kernels``: the sigmoid, a quiet log, row scatter-adds, a stable argsort
- ``row_sparse``: the kernels of row-sparse gradients (the optimizer's row update)
- ``pool``: the per-thread pool of large arrays the engine alone owned, reused by the
  next step (the fused recurrent primitives' workspaces)

backend/ is the only part of the package that imports numpy or cupy by name; everything
else asks it for the array module (``backend.xp(device)``, ``backend.array_module(a)``),
so the same code runs on both. Every name is re-exported here, so the rest of the package
writes ``backend.X`` without knowing which module X lives in.
"""
# every name, re-exported
from .dtypes import (  # noqa: F401
    bool_, dtype, float16, float32, float64, float_array, get_default_dtype, int32, int64,
    intp, is_dtype_name, is_float, promote_types, result_type, set_default_dtype)
from .devices import (  # noqa: F401
    DEVICES, DEVICE_NAMES, ENV_VAR, Device, DeviceName, _load_cupy, array_module, as_ndarray, check_device,
    current_device, default_device, device_of, follow_device, format_array, host_array, is_array,
    numpy_scalar, set_default_device, to_device, to_numpy, writeable, xp)
from .generators import fresh_seed, generator, manual_seed, random_stream, rng  # noqa: F401
from . import pool  # noqa: F401  (the array pool: backend.pool.take, give)
from .kernels import add_at, add_rows, argsort_stable, log, quiet, scatter_add_rows, sigmoid  # noqa: F401
from .row_sparse import add_scaled_rows, coalesce_rows, flat_rows  # noqa: F401
from . import devices, dtypes, generators, kernels, row_sparse  # noqa: F401,E402

_STATE = {"_cupy": devices, "_default_dtype": dtypes}


def __getattr__(name):
    """Module state that is rebound after import (the cupy module once loaded, the
    default dtype) is read from its own module, so ``backend._cupy`` stays current."""
    if name in _STATE:
        return getattr(_STATE[name], name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
