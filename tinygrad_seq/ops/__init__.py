"""The primitives: one Node subclass per differentiable operation, forward and backward
side by side, grouped by family. ``PRIMITIVES`` lists them all (the property tests walk
it to make sure none is untested)."""
from ..autograd import Node
from . import elementwise, embedding, indexing, linalg, movement, nn, reduce
from . import activations, normalization  # noqa: E402  (GELU; fused LayerNorm)
from . import rnn  # noqa: F401,E402  fused recurrent layers (RNN, GRU, LSTM)


def _primitives():
    found, stack = [], list(Node.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith(__name__ + ".") and not cls.__name__.startswith("_"):
            found.append(cls)
    return sorted(found, key=lambda c: (c.__module__, c.__name__))


PRIMITIVES = _primitives()
