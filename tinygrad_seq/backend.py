"""The array module behind each device: NumPy for "cpu", CuPy for "cuda".

This is the only core module that imports numpy or cupy by name; everything else
asks it for the array module of a device (``xp(device)``) or of an array
(``array_module(a)``), so the same code runs on both.

The default device comes from the environment variable ``TINYGRAD_SEQ_DEVICE``
(``cpu`` or ``cuda``), read once at import. A device that is asked for but cannot be
had is an error, never a silent fallback to the CPU.
"""
import os
import threading

import numpy

from .errors import DeviceError, DTypeError

DEVICES = ("cpu", "cuda")
ENV_VAR = "TINYGRAD_SEQ_DEVICE"

# dtypes are NumPy's dtype objects; CuPy uses the same ones.
float16 = numpy.dtype("float16")
float32 = numpy.dtype("float32")
float64 = numpy.dtype("float64")
int32 = numpy.dtype("int32")
int64 = numpy.dtype("int64")
bool_ = numpy.dtype("bool")
intp = numpy.dtype(numpy.intp)      # the index dtype of the platform
_DTYPE_NAMES = {"float16": float16, "half": float16, "float32": float32, "float": float32,
                "float64": float64, "double": float64, "int32": int32, "int": int32,
                "int64": int64, "long": int64, "bool": bool_}

_cupy = None          # the cupy module once "cuda" has been asked for and works
_default_dtype = float32


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
        return default_device
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


default_device = _device_from_env()


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


# ---------------------------------------------------------------- dtypes

def dtype(d):
    """Normalise a dtype given as a dtype, a NumPy type or a name; raise DTypeError."""
    if isinstance(d, str) and d in _DTYPE_NAMES:
        return _DTYPE_NAMES[d]
    try:
        return numpy.dtype(d)
    except TypeError as e:
        raise DTypeError(f"not a dtype: {d!r}") from e


def is_dtype_name(name):
    return name in _DTYPE_NAMES


def get_default_dtype():
    return _default_dtype


def set_default_dtype(d):
    """Set the float dtype of Python floats and float factories (float32 or float64)."""
    global _default_dtype
    d = dtype(d)
    if d.kind != "f":
        raise DTypeError(f"set_default_dtype: expected a float dtype, got {d}")
    _default_dtype = d


def is_float(d):
    return d.kind == "f"


def float_array(x, op):
    """`x` as a float array for a float op named `op`: float arrays pass, integers are
    promoted to the default float dtype, booleans are refused with a DTypeError."""
    kind = x.dtype.kind
    if kind == "f":
        return x
    if kind in "iu":
        return x.astype(_default_dtype)
    raise DTypeError(f"{op}: expected a float tensor, got {x.dtype}")


def sigmoid(x):
    """1 / (1 + exp(-x)) on a float array. For x below about -88 (float32) exp(-x)
    overflows to inf and the result is 0, the correctly rounded value up to denormals;
    NumPy's overflow warning for that is silenced. Four array passes, against nine for
    the overflow-free exp(-|x|) / where form."""
    mod = array_module(x)
    e = mod.negative(x)
    if mod is numpy:
        with numpy.errstate(over="ignore"):
            e = numpy.exp(e, out=e if e.ndim else None)
    else:
        e = mod.exp(e, out=e)
    if not e.ndim:           # NumPy gives 0-d results as scalars: no in-place update
        return 1 / (1 + e)
    e += 1
    return mod.reciprocal(e, out=e)


def result_type(*args):
    """NumPy's promotion rule (Python scalars are weak: float32 * 2.0 stays float32)."""
    return numpy.result_type(*args)


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}     # bool < integer < float < complex


def promote_types(a, b, a_has_dims=True, b_has_dims=True):
    """The dtype PyTorch gives a binary op of dtypes `a` and `b`.

    Between dimensioned tensors (or between two 0-d ones) the higher category wins
    (bool < integer < float: int64 with float32 gives float32, where NumPy gives
    float64) and within a category the larger type (NumPy's rule there). A 0-d tensor
    meeting a dimensioned one counts only when its category is higher: float32 with a
    0-d float64 stays float32, int64 with a 0-d float64 gives float64."""
    if a == b:
        return a
    ca, cb = _CATEGORY[a.kind], _CATEGORY[b.kind]
    if a_has_dims != b_has_dims:
        dims, zero = (a, b) if a_has_dims else (b, a)
        cd, cz = (ca, cb) if a_has_dims else (cb, ca)
        return zero if cz > cd else dims
    if ca != cb:
        return a if ca > cb else b
    return numpy.promote_types(a, b)


# ---------------------------------------------------------------- random numbers

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


# ---------------------------------------------------------------- kernels that differ by device

def scatter_add_rows(num_rows, index, values):
    """out[index[i]] += values[i] along axis 0, for an integer array `index`.

    Used by the backward of row gathers (embeddings). ``benchmarks/bench_scatter_add.py``
    measures the options. On NumPy, ``np.add.at`` on the flattened output with one flat
    index per element (``index * width + column``) takes NumPy's fast 1-D path: 1.8-5x
    faster than ``np.add.at`` on rows and up to 3.5x faster than sort + ``add.reduceat``
    in the cases measured; for narrow rows (width <= 16) with at least as many indices
    as rows, one ``np.bincount`` per column wins (it sums in float64). CuPy has an
    atomic scatter_add.
    """
    mod = array_module(values)
    row_shape = values.shape[index.ndim:]
    index = index.reshape(-1)
    values = values.reshape((index.shape[0],) + row_shape)
    out = mod.zeros((num_rows,) + row_shape, dtype=values.dtype)
    if mod is not numpy:
        return add_at(out, index, values)
    n, width = index.shape[0], int(numpy.prod(row_shape))
    if n == 0 or width == 0:
        return out
    lo, hi = int(index.min()), int(index.max())
    if lo < -num_rows or hi >= num_rows:
        raise IndexError(f"scatter_add_rows: index {lo if lo < -num_rows else hi} is out of "
                         f"bounds for {num_rows} rows")
    index = index.astype(numpy.intp, copy=False)
    values = values.reshape(n, width)
    if width <= 16 and n >= num_rows and values.dtype.kind == "f":
        if lo < 0:
            index = numpy.where(index < 0, index + num_rows, index)
        rows = out.reshape(num_rows, width)
        columns = numpy.ascontiguousarray(values.T)
        for j in range(width):
            rows[:, j] = numpy.bincount(index, weights=columns[j], minlength=num_rows)
    else:  # a negative row r gives flat indices r * width + column, which wrap to row r + num_rows
        add_rows(out.reshape(num_rows, width), index, values)
    return out


def add_rows(table, rows, values, index_out=None):
    """table[rows] += values in place along axis 0, repeated rows adding up, for 1-D
    integer `rows` and `values` of shape (len(rows), *table.shape[1:]); returns table.
    NumPy, C-contiguous table: one ``add.at`` on the flat table with one index per
    element (its fast 1-D path, see scatter_add_rows); `index_out`, an intp array of
    at least len(rows) * row size elements, receives those flat indices instead of a
    new array. Otherwise: ``add_at`` by rows (CuPy: an atomic scatter_add)."""
    n = rows.shape[0]
    if n == 0:
        return table
    if array_module(table) is not numpy or not table.flags.c_contiguous:
        return add_at(table, rows, values)
    width = table.size // table.shape[0]
    flat = numpy.empty((n, width), numpy.intp) if index_out is None else \
        index_out[:n * width].reshape(n, width)
    numpy.add(rows[:, None] * width, numpy.arange(width), out=flat)
    numpy.add.at(table.reshape(-1), flat.reshape(-1), values.reshape(-1))
    return table


def add_at(out, index, values, unique=False):
    """out[index] += values in place, with repeated indices adding up (NumPy's
    ``add.at``; CuPy's atomic ``cupyx.scatter_add``). Returns `out`. With
    ``unique=True`` (basic indexing: ints, slices; no repeats) a plain ``+=``."""
    if unique:
        out[index] += values
    elif array_module(out) is numpy:
        numpy.add.at(out, index, values)
    else:
        import cupyx  # only on the GPU path; cupyx comes with cupy
        cupyx.scatter_add(out, index, values)
    return out


# ---------------------------------------------------------------- row-sparse kernels
# (sparse.RowSparseGrad: a gradient that is zero outside some rows)

# (slot, dtype, array module) -> a flat buffer reused by add_scaled_rows, one set per
# thread: NumPy releases the GIL inside the update, so two threads stepping optimizers
# at once would otherwise write into one buffer
_SCRATCH = threading.local()
_CHUNK = 1 << 20      # bytes of table rows that add_scaled_rows updates at a time (in cache)


def _scratch(slot, size, dtype, mod):
    """A reusable flat buffer of at least `size` elements (never handed out to users)."""
    buffers = getattr(_SCRATCH, "buffers", None)
    if buffers is None:
        buffers = _SCRATCH.buffers = {}
    key = (slot, dtype, mod.__name__)
    buf = buffers.get(key)
    if buf is None or buf.size < size:
        buf = buffers[key] = mod.empty(max(size, 1), dtype=dtype)
    return buf[:size]


def _take_rows(table, rows, out):
    """out[...] = table[rows] (rows along axis 0) without a temporary array."""
    if device_of(table) == "cpu":     # mode="wrap": NumPy buffers `out` for mode="raise"
        array_module(table).take(table, rows, axis=0, out=out, mode="wrap")
    else:
        out[...] = table[rows]


def flat_rows(index, width):
    """Flat element positions of rows `index` in a C-ordered (rows, width) array."""
    mod = array_module(index)
    return (index[:, None] * width + mod.arange(width, dtype=index.dtype)).reshape(-1)


def _first_occurrences(idx):
    """(positions of the first occurrence of each row, positions of the repeats), or
    (None, None) when no row repeats."""
    mod = array_module(idx)
    n = idx.shape[0]
    order = mod.argsort(idx, kind="stable")
    ordered = idx[order]
    first = mod.empty(n, dtype=bool_)
    first[0] = True
    mod.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    if bool(first.all()):
        return None, None
    is_first = mod.zeros(n, dtype=bool_)
    is_first[order[first]] = True
    return mod.flatnonzero(is_first), order[~first]


def add_scaled_rows(array, idx, values, alpha=1.0, unique=False):
    """array[idx[i]] += alpha * values[i] along axis 0 in place (repeats add up, in
    stored order, as PyTorch's index_add_); `unique`: idx has no repeats. Returns array.

    The optimizer's hot path (``SGD`` on an embedding table). NumPy has no fused row
    scatter-add (``np.add.at`` on rows is ~10x slower), and ``table[rows] +=`` reads
    the rows from memory, then writes them back in a second random pass. So the first
    occurrence of each row is updated in chunks of ~1 MB (gather, add, scatter) while
    the chunk is still in cache, through scratch buffers that live between calls (a
    fresh 5 MB temporary costs as much in page faults as the update itself); the few
    repeated rows are then added with ``add_at``. On the GPU it is one atomic
    scatter-add."""
    n = idx.shape[0]
    if n == 0:
        return array
    mod = array_module(values)
    width = values[0].size if values.ndim > 1 else 1
    flat_values = values.reshape(n, width)
    if device_of(array) != "cpu" or (array.ndim > 2 and not array.flags.c_contiguous):
        return add_at(array, idx, (values * alpha).astype(array.dtype, copy=False))
    table = array if array.ndim == 2 else array.reshape(array.shape[0], width)
    firsts, again = (None, None) if unique else _first_occurrences(idx)
    positions = mod.arange(n) if firsts is None else firsts
    step = max(1, _CHUNK // (width * table.itemsize))
    current = _scratch(0, min(step, n) * width, table.dtype, mod)
    update = _scratch(1, min(step, n) * width, table.dtype, mod)
    for start in range(0, positions.shape[0], step):
        pos = positions[start:start + step]
        k = pos.shape[0]
        cur, upd = current[:k * width].reshape(k, width), update[:k * width].reshape(k, width)
        rows = idx[pos]
        _take_rows(table, rows, cur)
        if firsts is None:
            mod.multiply(flat_values[start:start + k], alpha, out=upd, casting="same_kind")
        else:
            if flat_values.dtype == table.dtype:
                _take_rows(flat_values, pos, upd)
            else:
                upd[...] = flat_values[pos]
            upd *= alpha
        cur += upd
        table[rows] = cur
    if again is not None:          # the repeats, added after their first occurrence
        repeats = (flat_values[again] * alpha).astype(table.dtype, copy=False)
        if table.flags.c_contiguous:
            add_at(table.reshape(-1), flat_rows(idx[again], width), repeats.reshape(-1))
        else:
            add_at(table, idx[again], repeats)
    return array


def coalesce_rows(idx, values):
    """(sorted unique rows, their summed values) for rows `idx` (repeats allowed) of
    `values`; repeats are added in the order they were stored."""
    mod = array_module(values)
    n = idx.shape[0]
    if n == 0:
        return idx, values
    order = mod.argsort(idx, kind="stable")
    ordered = idx[order]
    first = mod.empty(n, dtype=bool_)
    first[0] = True
    mod.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    starts = mod.flatnonzero(first)
    rows = values[order[starts]]                    # one copy of each row's first value
    if starts.shape[0] < n:                         # add the repeats to their rows
        group = mod.cumsum(first) - 1
        repeat = ~first
        width = rows[0].size if rows.ndim > 1 else 1
        add_at(rows.reshape(-1), flat_rows(group[repeat], width),
               values[order[repeat]].reshape(-1))
    return ordered[starts], rows


def argsort_stable(a, axis):
    """Indices that sort `a` along `axis`, equal elements keeping their order (NumPy's
    stable kind; CuPy's sort is stable already and takes no kind)."""
    if array_module(a) is numpy:
        return numpy.argsort(a, axis=axis, kind="stable")
    return _cupy.argsort(a, axis=axis)
