"""The primitives: one Node subclass per differentiable operation, forward and backward
side by side, grouped by family. ``PRIMITIVES`` lists them all (the property tests walk
it to make sure none is untested)."""
from ..autograd import Node
from . import (activations, conv, ctc, elementwise, embedding, indexing, linalg, movement,  # noqa: F401
               nn, normalization, reduce, rnn, scan, special)


def primitives():
    """Every primitive defined in ops/ (found by walking Node's subclasses, so a new
    module only needs importing above)."""
    found, stack = [], list(Node.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith(__name__ + ".") and not cls.__name__.startswith("_"):
            found.append(cls)
    return sorted(found, key=lambda c: (c.__module__, c.__name__))


PRIMITIVES = primitives()
