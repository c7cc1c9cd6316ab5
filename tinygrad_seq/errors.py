"""The exceptions of tinygrad_seq: every one is a TinygradSeqError and also the
built-in exception that Python code would expect for the same mistake."""


class TinygradSeqError(Exception):
    """Base class of every error raised on purpose by tinygrad_seq."""


class ShapeError(TinygradSeqError, ValueError, RuntimeError):
    """Shapes that cannot work together: the message names the op and the shapes.
    A ValueError, and a RuntimeError as PyTorch raises for the same mistake."""


class OutOfRangeError(ShapeError, IndexError):
    """An index or a dimension (axis) out of range for the tensor: a ShapeError, and the
    IndexError that PyTorch raises (so ``for row in t`` stops where it should)."""


class DTypeError(TinygradSeqError, TypeError, RuntimeError):
    """A dtype an op cannot take (a float op on a bool tensor, float indices, ...).
    A TypeError, and a RuntimeError as PyTorch raises for the same mistake."""


class DeviceError(TinygradSeqError, RuntimeError):
    """An unknown or unavailable device, or tensors of two devices in one op."""


class AutogradError(TinygradSeqError, RuntimeError):
    """Misuse of the graph: a second backward through freed buffers, a saved tensor
    modified in place, backward from a non-scalar without a gradient, ..."""


class SerializationError(TinygradSeqError, ValueError):
    """A file that ts.load cannot read: not a tinygrad_seq save, truncated, corrupted,
    or carrying something that would need pickle. The message names the file."""


class GradcheckError(TinygradSeqError, RuntimeError):
    """Analytic and numeric gradients disagree (raised by gradcheck/gradgradcheck)."""
