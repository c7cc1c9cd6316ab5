"""dtypes and type promotion: the dtype objects (NumPy's; CuPy uses the same ones),
dtype names ("float", "long", ...), the default float dtype, and PyTorch's promotion
rule for binary ops."""
import numpy

from ..errors import DTypeError

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

_default_dtype = float32


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

