"""``ts.memory``: the host array pool, and an explicit option for glibc's malloc.

The pool (backend/pool.py) keeps the big buffers of the fused recurrent primitives
between training steps, per thread, and only arrays that nothing outside the engine
holds; it is on by default (``TINYGRAD_SEQ_POOL=0`` turns it off at import). Its
functions here are PyTorch's ``torch.cuda`` memory names where one exists
(``empty_cache``), for the host.

``retain_freed_memory()`` is not called by the framework: it changes how the whole
process allocates, so it is the user's choice to make. It helps models built from
primitives, whose large temporaries (a loss over a (T, N, H) output, the gradients of
it) the pool does not see: glibc returns freed blocks above its mmap threshold to the
kernel and trims the top of its heap, and each step then faults the same pages in
again (about 8% of a small composed LSTM step on the machine the README measures).
"""
import ctypes
import ctypes.util
import sys

from .backend import pool

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_MAX = 32 << 20          # the largest mmap threshold glibc accepts on 64-bit
_GLIBC_DEFAULT = 128 << 10    # glibc's initial trim and mmap thresholds


def empty_cache():
    """Free every array the calling thread's pool holds (as ``torch.cuda.empty_cache``)."""
    pool.empty()


def pool_stats():
    """The calling thread's pool: ``bytes`` and ``arrays`` held; ``hits`` (takes the
    pool served), ``misses``, ``kept`` (arrays given back and kept) and ``refused``
    (arrays given back while something else still held them: left to Python)."""
    return pool.stats()


def set_pool_limit(nbytes):
    """Keep at most `nbytes` per thread in the pool (default 512 MiB; the shapes given back least
    recently are freed to make room); 0 turns it off."""
    pool.set_limit(nbytes)


def pool_limit():
    """The pool's per-thread limit in bytes (0: off)."""
    return pool.limit()


def retain_freed_memory(enabled=True):
    """Ask glibc's malloc to keep freed memory in the process (True) or to give it back
    to the kernel as it does by default (False); returns whether the setting was
    applied (False off Linux/glibc). Process-wide and for every library in the process,
    so the framework never calls it itself.

    True sets the mmap threshold to its maximum (32 MiB: smaller blocks come from the
    heap, whose pages stay mapped) and the trim threshold to 1 GiB (the heap is not
    shrunk until that much is free at its top). False restores glibc's initial 128 KiB
    for both (glibc then no longer raises the mmap threshold by itself)."""
    if not isinstance(enabled, bool):
        raise TypeError(f"retain_freed_memory: expected True or False, got {enabled!r}")
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):   # not glibc (musl has no mallopt)
        return False
    mmap, trim = (_MMAP_MAX, 1 << 30) if enabled else (_GLIBC_DEFAULT, _GLIBC_DEFAULT)
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap)) and bool(mallopt(_M_TRIM_THRESHOLD, trim))
