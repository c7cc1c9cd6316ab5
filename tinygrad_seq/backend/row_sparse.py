"""Row-sparse kernels, for ``sparse.RowSparseGrad`` (a gradient that is zero outside
some rows): the optimizer's in-place row update and coalescing repeated rows."""
import threading

from .devices import array_module, device_of
from .dtypes import bool_
from .kernels import add_at

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

