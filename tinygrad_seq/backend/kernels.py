"""Array kernels that differ by device or that several primitives share: the sigmoid,
scatter-adds of rows (the backward of gathers), a stable argsort."""
import numpy

from .devices import array_module


def _exp_in_place(e):
    """exp(e) into e (a 0-d array: a new scalar)."""
    return numpy.exp(e, out=e if e.ndim else None)


if numpy.lib.NumpyVersion(numpy.__version__) >= "2.0.0":
    # NumPy 2's errstate as a decorator sets the state for each call (a context
    # variable: thread-safe) and costs half of a `with` block, which builds an object
    # per call: on a small tensor the sigmoid is mostly this overhead
    _exp_quiet = numpy.errstate(over="ignore")(_exp_in_place)
else:
    def _exp_quiet(e):
        """exp(e) into e with NumPy's overflow warning off (NumPy 1's errstate object
        keeps the state it replaced, so one shared decorator is not thread-safe)."""
        with numpy.errstate(over="ignore"):
            return _exp_in_place(e)


def sigmoid(x, out=None):
    """1 / (1 + exp(-x)) on a float array: the framework's one sigmoid (the Sigmoid
    primitive, the gates of the fused RNN/GRU/LSTM, word2vec's step). `out`: the array
    to write the result into (``out=x`` computes in place, also on a strided view).

    For x below about -88 (float32) exp(-x) overflows to inf and the result is 0, the
    correctly rounded value up to denormals; NumPy's overflow warning for that is
    silenced. Four array passes, against nine for the overflow-free exp(-|x|) / where
    form; the tanh form 0.5 + 0.5 tanh(x / 2) also takes four but loses the relative
    accuracy of small results (float32: relative error 2e-4 at x = -10, 40% at -17)."""
    mod = array_module(x)
    # -x; into `out` as x * -1, since NumPy 2.4's float32 negative writes an `out` of
    # stride 16 bytes to the wrong elements (out=x for the slice a[:, 3:] of a (2, 4) array)
    e = mod.negative(x) if out is None else mod.multiply(x, -1.0, out=out)
    e = _exp_quiet(e) if mod is numpy else mod.exp(e, out=e)
    if not e.ndim:           # NumPy gives 0-d results as scalars: no in-place update
        return 1 / (1 + e)
    e += 1
    return mod.reciprocal(e, out=e)


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

def argsort_stable(a, axis):
    """Indices that sort `a` along `axis`, equal elements keeping their order (NumPy's
    stable kind; CuPy's sort is stable already and takes no kind)."""
    mod = array_module(a)
    if mod is numpy:
        return numpy.argsort(a, axis=axis, kind="stable")
    return mod.argsort(a, axis=axis)


def quiet():
    """A context in which NumPy's divide and invalid warnings are off (inf and nan are
    the values PyTorch gives there, silently; CuPy never warns)."""
    return numpy.errstate(divide="ignore", invalid="ignore")


def log(x):
    """log(x), with log(0) = -inf and log(negative) = nan and no warning (PyTorch is
    silent there; NumPy warns, CuPy does not)."""
    mod = array_module(x)
    if mod is numpy:
        with numpy.errstate(divide="ignore", invalid="ignore"):
            return numpy.log(x)
    return mod.log(x)
