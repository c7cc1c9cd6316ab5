"""Switches of the engine: grad mode (record the graph or not) and anomaly mode
(remember where each node was created, check backward for nan/inf). Context managers
that also work as decorators, PyTorch's names.

As in PyTorch, grad mode is per thread (``no_grad()`` in one thread does not stop
another thread's recording) and anomaly mode is process-wide: ``_state`` is a
thread-local object whose ``grad_enabled`` each thread sets for itself, while
``anomaly`` is a class attribute, one value that every thread reads.
"""
import functools
import threading


class _State(threading.local):
    grad_enabled = True     # record the graph? (per thread: the class value is the default)
    anomaly = False         # keep creation traces, check backward (process-wide: set on the
    #                         class; the engine reads _State.anomaly, a plain class lookup,
    #                         cheaper than the thread-local instance's)


_state = _State()


def _target(flag):
    """Where `flag` lives: the thread's own state, or the class for process-wide flags."""
    return _State if flag == "anomaly" else _state


def is_grad_enabled():
    return _state.grad_enabled


class _Mode:
    """A context manager (and decorator) that sets one flag of _state and restores it."""

    def __init__(self, flag, value):
        self.flag, self.value, self._saved = flag, value, {}

    def __enter__(self):
        # the previous value is kept per thread: one `mode = no_grad()` object may be
        # entered by several threads at once
        target = _target(self.flag)
        self._saved.setdefault(threading.get_ident(), []).append(getattr(target, self.flag))
        setattr(target, self.flag, self.value)
        return self

    def __exit__(self, *exc):
        stack = self._saved[threading.get_ident()]
        setattr(_target(self.flag), self.flag, stack.pop())
        if not stack:
            del self._saved[threading.get_ident()]
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _Mode(self.flag, self.value):
                return fn(*args, **kwargs)
        return wrapper


def no_grad():
    """Context manager / decorator: operations inside record no graph."""
    return _Mode("grad_enabled", False)


def inference_mode(mode=True):
    """Context manager / decorator: as ``no_grad()`` (``inference_mode(False)`` as
    ``enable_grad()``), per thread. Tensors made inside are ordinary tensors (PyTorch
    marks them as inference tensors and refuses them in autograd later)."""
    return _Mode("grad_enabled", not mode)


def is_inference_mode_enabled():
    return not _state.grad_enabled


def enable_grad():
    """Context manager / decorator: record the graph again (inside no_grad)."""
    return _Mode("grad_enabled", True)


class set_grad_enabled:
    """Set grad mode now (``ts.set_grad_enabled(False)``); used as a context manager,
    the previous mode comes back on exit, as in PyTorch."""

    def __init__(self, mode):
        self.previous, self.mode = _state.grad_enabled, bool(mode)
        _state.grad_enabled = self.mode

    def __enter__(self):
        _state.grad_enabled = self.mode
        return self

    def __exit__(self, *exc):
        _state.grad_enabled = self.previous
        return False

    def __call__(self, fn):
        """As a decorator: undo the immediate setting, apply the mode per call."""
        _state.grad_enabled = self.previous
        return _Mode("grad_enabled", self.mode)(fn)


def detect_anomaly(check_nan=True):
    """Context manager / decorator: every node remembers where it was created, and a
    backward rule that yields nan or inf raises an AutogradError naming the op and
    that place. Slows things down; for debugging."""
    return _Mode("anomaly", bool(check_nan))


def set_detect_anomaly(mode):
    _State.anomaly = bool(mode)


def is_anomaly_enabled():
    return _state.anomaly
