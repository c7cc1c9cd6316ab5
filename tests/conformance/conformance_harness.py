"""What every conformance test shares: run one program with torch and with tinygrad_seq.

A program is written once as functions of the module it uses (``def build(torch, ...)``,
``def train(torch, model, ...)``), naming only ``torch.*``; the tests call it with
``torch`` and with ``tinygrad_seq``. The rules, from the issue "The PyTorch names users
reach for": synthetic data made in the test, dropout off, the data order fixed by the
test (never by either library's generator), weights created by torch and copied in
through NumPy, float64 losses equal to 1e-9 relative over the first 20 steps, a float32
run's final metric within 1 point (accuracy) or 2% (loss) of torch's.
"""
import contextlib

import numpy as np

import tinygrad_seq
from torch_ref import needs_torch, torch  # noqa: F401  (re-exported for the tests)

LIBS = ("torch", "tinygrad_seq")


@contextlib.contextmanager
def default_dtype(lib, name):
    """Run with `lib`'s default float dtype set to `name` ("float32" or "float64"),
    restoring the previous default afterwards. torch runs on one thread meanwhile (on a
    shared machine its thread pool makes these small programs tens of times slower)."""
    old = lib.get_default_dtype()
    threads = torch.get_num_threads() if lib is torch else None
    lib.set_default_dtype(getattr(lib, name))
    if threads is not None:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        lib.set_default_dtype(old)
        if threads is not None:
            torch.set_num_threads(threads)


def copy_weights(ours, theirs):
    """Load torch's weights into our model, through NumPy (the README's recipe)."""
    return ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def build_pair(build, *args, dtype="float64", seed=0, **kwargs):
    """Build the program's model with torch (seeded) and with tinygrad_seq, and copy
    torch's weights into ours. Returns (theirs, ours)."""
    with default_dtype(torch, dtype):
        torch.manual_seed(seed)
        theirs = build(torch, *args, **kwargs)
    with default_dtype(tinygrad_seq, dtype):
        tinygrad_seq.manual_seed(seed)
        ours = build(tinygrad_seq, *args, **kwargs)
    copy_weights(ours, theirs)
    return theirs, ours


def run_both(fn, theirs, ours, *args, dtype="float64", **kwargs):
    """fn(torch, theirs, ...) and fn(tinygrad_seq, ours, ...), each under `dtype` as
    the default. Returns (torch's result, ours)."""
    with default_dtype(torch, dtype):
        a = fn(torch, theirs, *args, **kwargs)
    with default_dtype(tinygrad_seq, dtype):
        b = fn(tinygrad_seq, ours, *args, **kwargs)
    return a, b


def assert_losses_equal(theirs, ours, rtol=1e-9, steps=20):
    """The float64 criterion: the first `steps` losses agree to `rtol` relative."""
    theirs, ours = np.asarray(theirs[:steps], float), np.asarray(ours[:steps], float)
    assert len(theirs) == len(ours) and len(theirs) > 0
    assert np.all(np.isfinite(ours)), ours
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=0)


def assert_loss_close(theirs, ours, rel=0.02):
    """The float32 criterion for a loss: within 2% of torch's."""
    assert np.isfinite(ours)
    assert abs(ours - theirs) <= rel * abs(theirs), (ours, theirs)


def assert_accuracy_close(theirs, ours, points=1.0):
    """The float32 criterion for an accuracy (in percent): within 1 point of torch's."""
    assert abs(ours - theirs) <= points, (ours, theirs)
