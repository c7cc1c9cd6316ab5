"""Word2Vec's settings: one check per argument, shared by the constructor and
``Word2Vec.load``, and the settings each version of the save format holds. A wrong
type raises TypeError, a wrong value ValueError, each naming the argument and what it
got: a value that would train nothing or garbage (``sample=-1``, a NaN ``alpha``,
``window=0``) is refused before any work."""
import math
import numbers

import numpy as np

def _is_int(x):
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _is_real(x):
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _integer(low, high=None):
    """A check: an int (not a bool) in [low, high]."""
    def check(name, x):
        if not _is_int(x):
            raise TypeError(f"Word2Vec: {name} must be an int, got {type(x).__name__} {x!r}")
        if x < low or (high is not None and x > high):
            span = f">= {low}" if high is None else f"in [{low}, {high}]"
            raise ValueError(f"Word2Vec: {name} must be {span}, got {x!r}")
        return int(x)
    return check


def _real(low=None, positive=False):
    """A check: a finite real number (not a bool), >= low, or > 0 with `positive`."""
    def check(name, x):
        if not _is_real(x):
            raise TypeError(f"Word2Vec: {name} must be a number, got {type(x).__name__} {x!r}")
        x = float(x)
        if not math.isfinite(x):
            raise ValueError(f"Word2Vec: {name} must be finite, got {x!r}")
        if positive and x <= 0:
            raise ValueError(f"Word2Vec: {name} must be > 0, got {x!r}")
        if low is not None and x < low:
            raise ValueError(f"Word2Vec: {name} must be >= {low}, got {x!r}")
        return x
    return check


def _optional(check):
    """A check that also lets None through."""
    return lambda name, x: None if x is None else check(name, x)


def _flag(name, x):
    """A check: True/False, or the ints 0/1."""
    if not isinstance(x, (bool, numbers.Integral, np.bool_)):
        raise TypeError(f"Word2Vec: {name} must be True/False or 0/1, got "
                        f"{type(x).__name__} {x!r}")
    if x not in (0, 1):
        raise ValueError(f"Word2Vec: {name} must be True/False or 0/1, got {x!r}")
    return bool(x)


def _binary_choice(name, x):
    """sg and cbow_mean: 0 or 1 (gensim's ints)."""
    return int(_flag(name, x))


# the settings of each file-format version of Word2Vec.save; a later version adds its
# new settings here, and an older file loads with their defaults
SETTING_CHECKS = {
    "vector_size": _integer(1), "window": _integer(1), "min_count": _integer(0),
    "max_vocab_size": _optional(_integer(1)), "sg": _binary_choice, "negative": _integer(0),
    "ns_exponent": _real(), "sample": _real(low=0.0), "alpha": _real(positive=True),
    "min_alpha": _real(low=0.0), "epochs": _integer(0), "batch_words": _integer(1),
    "seed": _integer(0), "progress": _flag, "cbow_mean": _binary_choice,
    "batch_examples": _integer(1), "shared_negatives": _flag, "fast_path": _flag,
    # version 2
    "max_pair_repeats": _optional(_real(positive=True)),
    # version 3
    "hs": _binary_choice, "workers": _integer(1), "compute_loss": _flag,
    "max_final_vocab": _optional(_integer(1)), "sorted_vocab": _binary_choice,
    "shrink_windows": _flag,
}
_ORDER = tuple(SETTING_CHECKS)
SETTINGS_OF_VERSION = {1: _ORDER[:18], 2: _ORDER[:19], 3: _ORDER}
FORMAT_VERSION = 3


def check_objectives(hs, negative):
    """gensim's rule: at least one of hierarchical softmax and negative sampling."""
    if not hs and not negative:
        raise ValueError("Word2Vec: hs=0 and negative=0 train nothing: set hs=1 (hierarchical "
                         "softmax) or negative >= 1 (negative sampling), or both")


def check_compiled(name, x):
    """compiled: None (use the kernel where it can run), or True/False (0/1). A choice of
    the machine, not of the model: not saved."""
    if x is None:
        return None
    if not isinstance(x, (bool, numbers.Integral, np.bool_)):
        raise TypeError(f"Word2Vec: {name} must be None, True/False or 0/1, got "
                        f"{type(x).__name__} {x!r}")
    if x not in (0, 1):
        raise ValueError(f"Word2Vec: {name} must be None, True/False or 0/1, got {x!r}")
    return bool(x)


def check_callable(name, x):
    """trim_rule: None or a callable (word, count, min_count) -> RULE_*."""
    if x is not None and not callable(x):
        raise TypeError(f"Word2Vec: {name} must be None or a callable, got "
                        f"{type(x).__name__} {x!r}")
    return x


def check_callbacks(name, x):
    """callbacks: a sequence of objects with gensim's CallbackAny2Vec methods."""
    if x is None:
        return ()
    if isinstance(x, (str, bytes)) or not hasattr(x, "__iter__"):
        raise TypeError(f"Word2Vec: {name} must be a sequence of callbacks, got "
                        f"{type(x).__name__} {x!r}")
    x = tuple(x)
    for cb in x:
        if not any(hasattr(cb, m) for m in ("on_epoch_begin", "on_epoch_end",
                                            "on_train_begin", "on_train_end")):
            raise TypeError(f"Word2Vec: {name} holds {cb!r}, which has none of "
                            "on_epoch_begin/on_epoch_end/on_train_begin/on_train_end")
    return x


def checked_settings(settings):
    """The settings with each one checked (TypeError for a wrong type, ValueError for a
    wrong value, naming the argument and what it got) and normalised."""
    return {k: SETTING_CHECKS[k](k, v) for k, v in settings.items()}
