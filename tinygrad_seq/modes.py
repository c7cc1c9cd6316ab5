"""Global switches of the engine: grad mode (record the graph or not) and anomaly mode
(remember where each node was created, check backward for nan/inf). Context managers
that also work as decorators, PyTorch's names."""
import functools


class _State:
    grad_enabled = True     # record the graph?
    anomaly = False         # keep creation traces and check backward for nan/inf


_state = _State()


def is_grad_enabled():
    return _state.grad_enabled


class _Mode:
    """A context manager (and decorator) that sets one flag of _state and restores it."""

    def __init__(self, flag, value):
        self.flag, self.value, self._saved = flag, value, []

    def __enter__(self):
        self._saved.append(getattr(_state, self.flag))
        setattr(_state, self.flag, self.value)
        return self

    def __exit__(self, *exc):
        setattr(_state, self.flag, self._saved.pop())
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
    _state.anomaly = bool(mode)


def is_anomaly_enabled():
    return _state.anomaly
