"""Checks of numeric arguments, shared by the constructors of ``nn``, ``optim`` and
``optim.lr_scheduler`` and by the factories: a wrong type raises TypeError, a wrong
value ValueError (PyTorch's convention), and every message names the function, the
argument and what it got, e.g. ``LSTM: hidden_size must be a positive integer, got -1``.

Each check returns the value (an int as a Python int), so that a constructor can
check and store in one line. Booleans are refused where a number is expected: True
as a size or a learning rate is a slip, not an intent.
"""
import math
import numbers
import operator


def _got(value):
    """The value as the message shows it, with its type when the type is the problem."""
    return f"{value!r} ({type(value).__name__})"


def is_int(value):
    """An integer that is not a bool (Python or NumPy)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value):
    """A real number that is not a bool (Python or NumPy; nan and inf included)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(value, name, op, minimum=None, what=None):
    """`value` as an int; TypeError if it is not an integer, ValueError if below
    `minimum` (None: no bound). `what` words the requirement in the message."""
    what = what or ("an integer" if minimum is None else f"an integer >= {minimum}")
    if not is_int(value):
        raise TypeError(f"{op}: {name} must be {what}, got {_got(value)}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{op}: {name} must be {what}, got {value!r}")
    return int(value)


def check_positive_int(value, name, op):
    """An integer >= 1 (sizes that cannot be empty: hidden sizes, layer counts...)."""
    return check_int(value, name, op, 1, "a positive integer")


def check_nonnegative_int(value, name, op):
    """An integer >= 0 (sizes that may be empty, counts)."""
    return check_int(value, name, op, 0, "a non-negative integer")


def check_real(value, name, op, low=None, high=None, *, low_open=False, high_open=False,
               what=None):
    """`value` as given; TypeError if it is not a real number, ValueError if it is nan
    or outside [low, high] (an end open with low_open / high_open; None: unbounded)."""
    what = what or _interval(low, high, low_open, high_open)
    if not is_real(value):
        raise TypeError(f"{op}: {name} must be {what}, got {_got(value)}")
    inside = not math.isnan(value)
    if inside and low is not None:
        inside = value > low if low_open else value >= low
    if inside and high is not None:
        inside = value < high if high_open else value <= high
    if not inside:
        raise ValueError(f"{op}: {name} must be {what}, got {value!r}")
    return value


def _interval(low, high, low_open, high_open):
    if low is None and high is None:
        return "a real number"
    if high is None:
        return f"a number {'>' if low_open else '>='} {low}"
    if low is None:
        return f"a number {'<' if high_open else '<='} {high}"
    return f"a number in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"


def check_positive(value, name, op):
    """A real number > 0 (eps of SparseAdam, factors that divide)."""
    return check_real(value, name, op, 0, low_open=True, what="a positive number")


def check_nonnegative(value, name, op):
    """A real number >= 0 (learning rates, weight decays, eps)."""
    return check_real(value, name, op, 0, what="a non-negative number")


def check_finite(value, name, op):
    """A real number that is neither nan nor infinite (arange's bounds)."""
    check_real(value, name, op)
    if math.isinf(value):
        raise ValueError(f"{op}: {name} must be finite, got {value!r}")
    return value


def check_probability(value, name, op):
    """A real number in [0, 1] (dropout rates, label smoothing)."""
    return check_real(value, name, op, 0, 1, what="a probability in [0, 1]")


def check_betas(betas, op):
    """Adam's (beta1, beta2): a pair of numbers, each in [0, 1)."""
    if not isinstance(betas, (tuple, list)):
        raise TypeError(f"{op}: betas must be a pair of numbers, got {_got(betas)}")
    if len(betas) != 2:
        raise ValueError(f"{op}: betas must be a pair of numbers, got {betas!r}")
    for i, beta in enumerate(betas):
        check_real(beta, f"betas[{i}]", op, 0, 1, high_open=True)
    return tuple(betas)


def check_sizes(shape, op):
    """A shape of integers >= 0 (anything with __index__ but a bool counts as an
    integer, as in a reshape), as a tuple of Python ints."""
    sizes = []
    for n in shape:
        if isinstance(n, bool) or not hasattr(n, "__index__"):
            raise TypeError(f"{op}: sizes must be non-negative integers, got {_got(n)} in "
                            f"{tuple(shape)!r}")
        n = operator.index(n)
        if n < 0:
            raise ValueError(f"{op}: sizes must be non-negative integers, got {n} in "
                             f"{tuple(shape)!r}")
        sizes.append(n)
    return tuple(sizes)
