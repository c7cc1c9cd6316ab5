"""The public custom differentiable op, in PyTorch's form: subclass ``Function`` with
static ``forward(ctx, ...)`` and ``backward(ctx, ...)`` on Tensors, call ``.apply``.
(The built-in primitives use the leaner ``Node`` form of autograd.py.)"""
import functools
import traceback

from .autograd import Node, Tensor, _edges
from .errors import AutogradError, ShapeError
from .modes import _State, _state, no_grad


class FunctionCtx:
    """The ``ctx`` of a custom Function: ``save_for_backward`` / ``saved_tensors``,
    ``needs_input_grad``, and any attribute you set."""

    def save_for_backward(self, *tensors):
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward: expected Tensors, got {type(t).__name__}")
        self._saved = tensors
        self._saved_versions = tuple(None if t is None else t._version[0] for t in tensors)

    @property
    def saved_tensors(self):
        saved = getattr(self, "_saved", ())
        for i, (t, v) in enumerate(zip(saved, self._saved_versions)):
            if t is not None and t._version[0] != v:
                raise AutogradError(f"saved_tensors: saved tensor {i} (shape {t.shape}) was "
                                    f"modified in place after it was saved (version {v} then, "
                                    f"{t._version[0]} now)")
        return saved


class Function:
    """A user-defined differentiable op, in PyTorch's form::

        class Cube(ts.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x * x
            @staticmethod
            def backward(ctx, grad):
                (x,) = ctx.saved_tensors
                return grad * 3 * x * x

        y = Cube.apply(x)

    ``forward`` gets the arguments (Tensors and anything else) and runs with grad
    recording off; it returns a Tensor or a tuple of Tensors. ``backward`` gets one
    gradient per output and returns one gradient (or None) per forward argument.
    Written with Tensor ops, ``backward`` is itself differentiable.
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("Function subclasses define forward(ctx, *inputs)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("Function subclasses define backward(ctx, *grad_outputs)")

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(ctx, *args, **kwargs)
        single = isinstance(out, Tensor)
        outs = (out,) if single else tuple(out)
        for o in outs:
            if not isinstance(o, Tensor):
                raise TypeError(f"{cls.__name__}.forward must return Tensors, got {type(o).__name__}")
        if not (_state.grad_enabled and any(ctx.needs_input_grad)):
            return out
        node_class = cls.__dict__.get("_node_class")
        if node_class is None:    # one node class per Function: its name outlives release()
            node_class = type(f"{cls.__name__}Node", (_CustomNode,), {"fn_name": cls.__name__})
            cls._node_class = node_class
        node = node_class()
        node.fn, node.ctx = cls, ctx
        node.arg_is_tensor = tuple(isinstance(a, Tensor) for a in args)
        inputs = tuple(a for a in args if isinstance(a, Tensor))
        ctx._inputs = tuple(t for t in inputs if t.requires_grad)   # once_differentiable's
        node.parents = tuple(t._ctx for t in inputs)
        node.needs_input_grad = tuple(t.requires_grad for t in inputs)
        node.edges = _edges(inputs)      # what it reads, ctx.save_for_backward keeps
        node.input_shapes = tuple(tuple(t.shape) for t in inputs)
        node.n_outputs = len(outs)
        node.output_meta = tuple((o.shape, o.dtype) for o in outs)
        if _State.anomaly:
            node.trace = traceback.format_stack()[:-1]
        wrapped = tuple(Tensor._make(o.array, node, i) for i, o in enumerate(outs))
        for w, o in zip(wrapped, outs):   # what forward saved of its outputs stays checked
            w._version = o._version
        return wrapped[0] if single else wrapped


class _CustomNode(Node):
    reads_inputs = False   # the ctx checks the versions of what it saved

    fn_name = "Function"

    @property
    def name(self):
        return self.fn_name + "Backward"

    def backward(self, *grads):
        recorded = _state.grad_enabled
        if not recorded:
            grads = tuple(Tensor._make(g) for g in grads)
        result = self.fn.backward(self.ctx, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        if len(result) != len(self.arg_is_tensor):
            raise AutogradError(f"{self.fn.__name__}.backward returned {len(result)} gradients, "
                                f"expected {len(self.arg_is_tensor)} (one per forward argument)")
        grads_in = tuple(g for g, is_t in zip(result, self.arg_is_tensor) if is_t)
        for shape, g in zip(self.input_shapes, grads_in):
            if g is not None and tuple(g.shape) != shape:
                raise ShapeError(f"{self.fn.__name__}.backward: gradient of shape {g.shape} "
                                 f"for an input of shape {shape}")
        if not recorded:
            grads_in = tuple(None if g is None else g.array for g in grads_in)
        return grads_in


def once_differentiable(backward):
    """Decorator for a custom Function's ``backward`` that is not differentiable itself
    (it leaves the graph: NumPy on ``.numpy()``, in-place tricks), as PyTorch's
    ``torch.autograd.function.once_differentiable``::

        class Clamp01(ts.Function):
            @staticmethod
            @ts.once_differentiable
            def backward(ctx, grad): ...

    It runs under ``no_grad``. Under ``create_graph=True`` the gradients it returns
    still require grad (when an incoming gradient or an input of forward does), but
    differentiating them raises an ``AutogradError`` naming the Function instead of
    silently giving zeros."""
    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        with no_grad():
            result = backward(ctx, *grads)
        if not _state.grad_enabled:          # no create_graph: nothing records it anyway
            return result
        sources = [t for t in grads + ctx._inputs if isinstance(t, Tensor) and t.requires_grad]
        if not sources:
            return result
        name = backward.__qualname__.rsplit(".", 1)[0]
        mark = lambda g: (_OnceDifferentiated.apply(g, *sources, fn_name=name)  # noqa: E731
                          if isinstance(g, Tensor) else g)
        return tuple(mark(g) for g in result) if isinstance(result, tuple) else mark(result)
    return wrapper


class _OnceDifferentiated(Node):
    """The gradient made by a ``@once_differentiable`` backward under create_graph: the
    same values, in the graph only to raise if someone differentiates through it."""
    reads_inputs = False

    def forward(self, g, *sources, fn_name):
        self.fn_name = fn_name
        return g.copy()

    def backward(self, *grads):
        raise AutogradError(
            f"backward: trying to differentiate the gradient of {self.fn_name}, whose "
            "backward is marked @ts.once_differentiable (it is not recorded, so it cannot "
            "be differentiated again)")


class _VariableType(type):
    """Every Tensor is a Variable (``isinstance(t, Variable)``), as in PyTorch."""

    def __instancecheck__(cls, other):
        return isinstance(other, Tensor)

    def __call__(cls, data, requires_grad=False, volatile=False):
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        return data.detach().requires_grad_(requires_grad)


class Variable(metaclass=_VariableType):
    """``torch.autograd.Variable``, kept (as in PyTorch) for programs written before
    tensors and variables merged: ``Variable(t)`` is a tensor sharing t's values,
    outside the graph, that requires grad when ``requires_grad=True``
    (``t.detach().requires_grad_(requires_grad)``); ``volatile`` is ignored."""
