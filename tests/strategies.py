"""Hypothesis strategies (and two graph helpers) shared by the primitive property tests.

Shapes are small (0-4 dims, sides 1-4, at most MAX_SIZE elements) so that gradcheck
compares the full Jacobian and every example runs in milliseconds. Data strategies
keep away from the points where a primitive is not differentiable: POSITIVE for
log/sqrt/pow, NONZERO for denominators, and `grid(offset)` for kinks and ties (values
on a 0.1-spaced grid shifted by `offset`, so two grids with different offsets never
meet, and values never sit on a kink at a multiple of 0.1 such as 0 or a clip bound).
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

MAX_SIZE = 24

SMOOTH = st.floats(-2, 2, allow_nan=False, allow_infinity=False)
POSITIVE = st.floats(0.5, 2)
NONZERO = st.floats(0.5, 2) | st.floats(-2, -0.5)


def grid(offset=0.5):
    """Values (k + offset) / 10 in [-2, 2]: 0.1 apart, never a multiple of 0.1 unless
    offset is 0 (distinct values stay apart under finite differences)."""
    return st.integers(-20, 19).map(lambda k: (k + offset) / 10)


AWAY_FROM_ZERO = grid(0.5)      # |x| >= 0.05: relu, abs


@st.composite
def shapes(draw, min_dims=0, max_dims=4, min_side=1, max_side=4, max_size=MAX_SIZE):
    """A shape with min_dims..max_dims dims and at most max_size elements."""
    ndim = draw(st.integers(min_dims, max_dims))
    shape, size = [], 1
    for _ in range(ndim):
        side = draw(st.integers(min_side, max(min_side, min(max_side, max_size // size))))
        shape.append(side)
        size *= side
    return tuple(draw(st.permutations(shape)))


@st.composite
def broadcastable_to(draw, target):
    """A shape that broadcasts to `target`: leading dims dropped, some sides set to 1."""
    kept = target[draw(st.integers(0, len(target))):]
    ones = draw(st.lists(st.booleans(), min_size=len(kept), max_size=len(kept)))
    return tuple(1 if one else n for n, one in zip(kept, ones))


# the combinations the issue names, tried before random ones
NAMED_SHAPE_PAIRS = [((3, 1), (4,)), ((2, 3), (1, 3)), ((), (2, 3)), ((2, 3), ()), ((), ())]


@st.composite
def broadcast_shapes(draw, n=2, max_dims=4):
    """n shapes that broadcast together (for n == 2 the named pairs come first)."""
    if n == 2 and draw(st.booleans()):
        return draw(st.sampled_from(NAMED_SHAPE_PAIRS))
    target = draw(shapes(0, max_dims))
    return tuple(draw(broadcastable_to(target)) for _ in range(n))


def arrays(shape, elements=SMOOTH, unique=False, dtype=np.float64):
    return hnp.arrays(dtype, shape, elements=elements, unique=unique)


@st.composite
def axes(draw, ndim):
    """A reduction axis argument for `ndim` dims: None, an int (maybe negative) or a
    non-empty tuple of distinct axes (maybe negative)."""
    if ndim == 0:
        return None
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    picked = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(a - ndim if draw(st.booleans()) else a for a in picked)


def reduced_count(shape, axis):
    """How many elements each output of a reduction over `axis` combines."""
    if axis is None:
        return int(np.prod(shape))
    axis = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axis]))


@st.composite
def reshape_targets(draw, shape):
    """Another shape with the same number of elements (maybe with a -1)."""
    size = int(np.prod(shape))
    factors, n, p = [], size, 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    factors = draw(st.permutations(factors))
    cuts = sorted(draw(st.lists(st.integers(0, len(factors)), max_size=3)))
    bounds = [0] + cuts + [len(factors)]
    target = [int(np.prod(factors[a:b])) for a, b in zip(bounds, bounds[1:])]
    if target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return tuple(target)


# ---------------------------------------------------------------- indices

@st.composite
def row_indices(draw, n_rows, max_len=5):
    """An integer array (1-D or 2-D) picking rows of axis 0, with repeats and negatives."""
    length = draw(st.integers(1, max_len))
    index_shape = draw(st.sampled_from([(length,), (2, 2)]))
    return draw(hnp.arrays(np.int64, index_shape, elements=st.integers(-n_rows, n_rows - 1)))


@st.composite
def advanced_indices(draw, shape, repeats=True):
    """An index with arrays: rows of axis 0 (embedding-style), an integer array on
    axis 1, a tuple of integer arrays, or a boolean mask over the leading axes.
    With repeats=False no element is picked twice (for assignments)."""
    kinds = ["rows", "mask"] + (["axis1"] if len(shape) >= 2 else []) + ["arrays"]
    kind = draw(st.sampled_from(kinds))
    if kind == "mask":
        k = draw(st.integers(1, len(shape)))
        return draw(hnp.arrays(np.bool_, shape[:k]))
    if kind == "arrays":
        result = draw(shapes(1, 2, max_size=6))
        index = draw(hnp.integer_array_indices(shape, result_shape=st.just(result)))
        if not repeats:
            flat = np.ravel_multi_index(tuple(i % n for i, n in zip(index, shape)), shape[:len(index)])
            if len(np.unique(flat)) != flat.size:
                index = tuple(i.reshape(-1)[:1] for i in index)
        return index
    n = shape[0] if kind == "rows" else shape[1]
    if repeats:
        rows = draw(row_indices(n))
    else:
        picked = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
        rows = np.array([i - n if draw(st.booleans()) else i for i in picked])
    return rows if kind == "rows" else (slice(None), rows)


def basic_indices(shape):
    """Ints (negative too), slices with steps, None and Ellipsis."""
    return hnp.basic_indices(shape, min_dims=0, allow_newaxis=True, allow_ellipsis=True)


def indices(shape, repeats=True):
    if not shape:
        return basic_indices(shape)
    return basic_indices(shape) | advanced_indices(shape, repeats=repeats)


# ---------------------------------------------------------------- graph helpers

def as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def ops_in_graph(*outputs):
    """The primitive classes recorded in the graph behind `outputs`."""
    found, seen = set(), set()
    stack = [o.grad_fn for o in outputs if o.grad_fn is not None]
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen.add(id(node))
            found.add(type(node))
            stack.extend(p for p in node.parents if p is not None)
    return found
