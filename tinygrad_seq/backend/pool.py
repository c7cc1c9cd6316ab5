"""A per-thread pool of large host arrays that the engine alone owned, for the next
training step to reuse (the idea of PyTorch's and CuPy's caching allocators, for the
few big buffers a fused primitive allocates every step).

Why: a training step allocates the same large buffers every time (the fused LSTM's
gate pre-activations, its states, the rows of its gate gradients). glibc's malloc hands
a block above its mmap threshold (128 KiB, raised as blocks are freed, at most 32 MiB)
back to the kernel when it is freed, and trims the top of its heap, so the next step
faults the same pages in again: about 15% of a small LSTM step here. The pool keeps
such arrays between steps instead.

Ownership rule, the only one: an array is given back only when nothing outside the
engine can reach it. ``give`` counts the array's references: a Tensor holding it, a
view of it (a view keeps its base), a user's variable, a node of a retained graph (a
retained node keeps its arrays and never gives them) each add one, and any one of
them keeps the array out of the pool, to be freed by Python as usual. The count is
calibrated once against a fresh array passed the same way, so that it does not depend
on how this interpreter counts references on the call path.

Rules: only NumPy arrays that own their memory, are C-contiguous and writeable, and
hold at least ``MIN_BYTES``; at most ``PER_SHAPE`` arrays per (shape, dtype) and
``limit()`` bytes per thread (512 MiB by default): to make room, the arrays of the
shape given back least recently are freed (batches of varying sequence lengths leave
shapes that may never come back). Per thread
(DESIGN.md's thread policy): a thread takes only what it gave. On CuPy ``take`` is
``cupy.empty``, which draws from CuPy's own memory pool, and ``give`` keeps nothing.
``TINYGRAD_SEQ_POOL=0`` in the environment, or ``set_limit(0)``, turns the pool off.
"""
import os
import sys
import threading
from collections import OrderedDict

import numpy

MIN_BYTES = 1 << 16          # 64 KiB: smaller blocks stay on malloc's heap anyway
PER_SHAPE = 4                # a step takes a few arrays of one shape, not more
_DEFAULT_LIMIT = 0 if os.environ.get("TINYGRAD_SEQ_POOL", "1") == "0" else 512 << 20

_limit = [_DEFAULT_LIMIT]


class _ThreadPool(threading.local):
    def __init__(self):
        self.free = OrderedDict()     # (shape, dtype) -> list of arrays, oldest first
        self.nbytes = 0
        self.hits = self.misses = self.kept = self.refused = 0


_pool = _ThreadPool()


def serves(mod):
    """Whether the pool keeps arrays of array module `mod` (NumPy, while it is on)."""
    return mod is numpy and _limit[0] > 0


def take(mod, shape, dtype):
    """An array of `shape` and `dtype` with undefined contents (as ``empty``): one the
    pool holds, or a new one."""
    if mod is numpy and _limit[0]:
        arrays = _pool.free.get((shape, numpy.dtype(dtype)))
        if arrays:
            a = arrays.pop()
            _pool.nbytes -= a.nbytes
            _pool.hits += 1
            return a
        _pool.misses += 1
    return mod.empty(shape, dtype=dtype)


def _refcount(a):
    return sys.getrefcount(a)


def _give(a):
    """The path every given array takes (so that the calibration counts the same)."""
    return _keep(a, _refcount(a))


def give(*arrays):
    """Offer arrays back to the pool; each is kept only if the engine was its only
    owner (see the module docstring), else left to Python. Pass arrays that no
    variable of the caller holds (``give(node.__dict__.pop(name))``): the caller's own
    reference counts as another owner, and the array is refused (safe, only slower)."""
    for a in arrays:
        if a is not None and type(a) is numpy.ndarray:
            _give(a)


def _keep(a, count):
    if count != _UNSHARED or not _limit[0] or a.nbytes < MIN_BYTES:
        if count != _UNSHARED:
            _pool.refused += 1
        return False
    if a.base is not None or not a.flags.c_contiguous or not a.flags.writeable:
        return False
    if a.nbytes > _limit[0]:
        return False
    key = (a.shape, a.dtype)
    arrays = _pool.free.get(key)
    if arrays is None:
        arrays = _pool.free[key] = []
    elif len(arrays) >= PER_SHAPE:
        return False
    _pool.free.move_to_end(key)             # the most recently given shape goes last
    while _pool.nbytes + a.nbytes > _limit[0]:
        if not _evict_oldest(key):
            return False
    arrays.append(a)
    _pool.nbytes += a.nbytes
    _pool.kept += 1
    return True


def _evict_oldest(keep):
    """Free the arrays of the shape given back least recently other than `keep` (a
    shape of earlier batches, e.g. another sequence length); False if there is none."""
    key = next((k for k, v in _pool.free.items() if v and k != keep), None)
    if key is None:
        return False
    for a in _pool.free.pop(key):
        _pool.nbytes -= a.nbytes
    return True


def _calibrate():
    """The count `_give` sees for an array that only the loop in ``give`` holds."""
    seen = []

    def keep(a, count):
        seen.append(count)
        return False
    global _keep
    real, _keep = _keep, keep
    try:
        give(numpy.empty(1))
    finally:
        _keep = real
    return seen[0]


_UNSHARED = _calibrate()


def limit():
    """The most bytes the pool keeps per thread (0: off)."""
    return _limit[0]


def set_limit(nbytes):
    """Keep at most `nbytes` per thread (0 turns the pool off and empties it)."""
    if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
        raise ValueError(f"set_limit: expected a byte count >= 0, got {nbytes!r}")
    _limit[0] = nbytes
    if nbytes == 0:
        empty()


def empty():
    """Free every array this thread's pool holds."""
    _pool.free.clear()
    _pool.nbytes = 0


def stats():
    """This thread's pool: bytes held, arrays held, and counts of takes served from it
    (hits) or not (misses), arrays kept and arrays refused because someone else held
    them."""
    return {"bytes": _pool.nbytes, "arrays": sum(len(v) for v in _pool.free.values()),
            "hits": _pool.hits, "misses": _pool.misses, "kept": _pool.kept,
            "refused": _pool.refused}
