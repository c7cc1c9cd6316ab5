"""The autograd engine: Tensor, the graph node of a primitive, and the backward pass.

A Tensor holds an array (``data``) and, when it was computed from tensors that require
grad, the node that made it (``grad_fn``). A node is one call of a primitive: it
remembers where its inputs came from (their nodes, or the leaves) and what its backward
rule reads, nothing more (an input whose values the rule does not read is not kept, so
its memory goes as soon as the program drops it). ``backward()`` sorts
the nodes reachable from the output (iteratively: no recursion, so a 10,000-step
chain works), walks them from the output back to the leaves, asks each for the
gradients of its inputs, and adds those up per tensor. That is all of reverse mode:
reference_engine.py is exactly that, in one screen, for study; ``run_backward`` below
is the same loop of named steps with the fast paths kept in helpers.

Backward rules are written with Tensor operations, so with ``create_graph=True`` the
gradient computation is itself recorded and can be differentiated again.

Tensor and the node class need each other (a node makes Tensors, a Tensor records its
node), so both live here; the operators and methods of Tensor are attached in
``tensor.py`` from the primitives of ``ops/``. Grad and anomaly modes are in modes.py,
the public custom ``Function`` in function.py.
"""
import functools
import traceback
import weakref

from . import backend
from .backend import pool
from .errors import AutogradError, DTypeError, OutOfRangeError, ShapeError
from .sparse_grad import SparseGrad
from .modes import _Mode, _State, _state
from .size import Size

_numpy_scalar = backend.numpy_scalar
_as_size = tuple.__new__          # Size(shape) without converting each entry again


# ---------------------------------------------------------------- Tensor

class Tensor:
    """An n-dimensional array that records the operations made from it.

    ``data`` is the backend array (NumPy or CuPy), ``grad`` a Tensor filled by
    ``backward()`` on leaves that require grad, ``grad_fn`` the node that made this
    tensor (None for leaves). Build tensors with ``ts.tensor(...)`` or ``Tensor(...)``.
    """
    __slots__ = ("array", "requires_grad", "grad", "_ctx", "_index", "_version", "_hooks",
                 "_view_of", "__weakref__")
    __array_priority__ = 1000       # ndarray (op) Tensor -> Tensor's reflected operator
    __array_ufunc__ = None

    def __init__(self, *data, dtype=None, requires_grad=False, device=None):
        """torch.Tensor's legacy constructor: ``Tensor(data)`` copies `data` (a list, a
        number, an array, a Tensor) into a tensor of the default float dtype, as
        ``torch.Tensor([0])`` is float32; ``Tensor(2, 3)`` is zeros of that shape,
        ``Tensor()`` an empty float tensor. ``dtype=`` (ours) keeps another dtype;
        ``ts.tensor(data)`` infers it from the data."""
        if dtype is None:
            dtype = backend.get_default_dtype()
        data = data or (0,)
        if len(data) == 1 and not (isinstance(data[0], int) and not isinstance(data[0], bool)):
            array = as_array(data[0], dtype, device, copy=True)
        elif all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in data):
            array = backend.xp(device if device is not None else backend.current_device()).zeros(
                data, dtype=backend.dtype(dtype))
        else:
            raise TypeError("Tensor(): give one sequence of data or non-negative int sizes, got "
                            f"{', '.join(type(d).__name__ for d in data)}")
        self._init(array, None, 0)
        if requires_grad:
            self.requires_grad_(True)

    def _init(self, array, ctx, index):
        self.array = array
        self.requires_grad = ctx is not None
        self.grad = None
        self._ctx = ctx
        self._index = index
        self._version = [0]
        self._hooks = None
        self._view_of = None

    @classmethod
    def _make(cls, array, ctx=None, index=0):
        """Wrap an array without copying or checking (the engine's constructor; the
        same fields as _init, inlined because every op calls it)."""
        t = object.__new__(cls)
        t.array = array
        t.requires_grad = ctx is not None
        t.grad = None
        t._ctx = ctx
        t._index = index
        t._version = [0]
        t._hooks = None
        t._view_of = None
        return t

    # ---- what it is
    @property
    def data(self):
        """The values as a new Tensor outside the graph, sharing this tensor's memory
        (PyTorch's ``.data``). Unlike ``detach()`` it has its own version counter: a
        change made through it is not seen by autograd (PyTorch's documented, unsafe
        behaviour; prefer ``detach()`` or ``no_grad()``). ``x.array`` is the backend
        array itself."""
        return Tensor._make(self.array)

    @data.setter
    def data(self, value):
        """``x.data = t`` makes x hold t's values (its array, shared; the shape may
        change), outside the graph, as in PyTorch."""
        if isinstance(value, Tensor):
            self.array = value.array
        elif backend.is_array(value):
            self.array = backend.follow_device(value, self.device, "data", "the new data")
        else:
            raise TypeError(f"data: assigned value must be a Tensor (or an array), got "
                            f"{type(value).__name__}")

    @property
    def shape(self):
        """The sizes of the dimensions, a ``ts.Size`` (a tuple)."""
        return _as_size(Size, self.array.shape)     # the array's shape holds ints already

    @property
    def ndim(self):
        """The number of dimensions."""
        return self.array.ndim

    def dim(self):
        """The number of dimensions (``ndim``)."""
        return self.array.ndim

    def size(self, dim=None):
        """The shape as a ``ts.Size``, or the size of dimension `dim` (PyTorch's
        meaning; the element count is ``numel()``)."""
        if dim is None:
            return _as_size(Size, self.array.shape)
        return self.array.shape[_dim_index(dim, self.array.ndim, "size")]

    def numel(self):
        """The number of elements."""
        return self.array.size

    nelement = numel

    @property
    def dtype(self):
        """The dtype of the elements (NumPy's dtype object, ``ts.float32`` etc.)."""
        return self.array.dtype

    @property
    def device(self):
        """Where the data is: "cpu" (a NumPy array) or "cuda" (a CuPy array), a string
        with torch.device's ``.type`` and ``.index`` (backend.DeviceName)."""
        return backend.DEVICE_NAMES[backend.device_of(self.array)]

    @property
    def is_leaf(self):
        """True unless the tensor is the output of a recorded op (then grad_fn is its node)."""
        return self._ctx is None

    @property
    def grad_fn(self):
        """The graph node that made this tensor, or None for a leaf."""
        return self._ctx

    @property
    def _version_count(self):
        return self._version[0]

    def __len__(self):
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self):
        """The sub-tensors along the first dim (``for row in t``, ``a, b = t``), each
        a differentiable index of self, as in PyTorch."""
        if self.array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.array.shape[0]))

    def __hash__(self):
        return id(self)

    # ---- leaving the graph / the device
    def numpy(self):
        """A new host NumPy array with the values (always a copy)."""
        return backend.to_numpy(self.array)

    def __array__(self, dtype=None, copy=None):
        """np.asarray(t), np.array(t): a host copy. Refused for a tensor that requires
        grad, as in PyTorch: the array would silently leave the graph."""
        if self.requires_grad:
            raise AutogradError(_LEAVES_GRAPH.format(what="np.asarray / np.array"))
        a = backend.to_numpy(self.array)
        return a if dtype is None else a.astype(dtype)

    def __array_function__(self, func, types, args, kwargs):
        """NumPy functions on tensors (np.dot, np.sum, np.copy, ...): computed on host
        copies and returned as NumPy results, as with PyTorch's tensors; refused when
        a tensor requires grad (np.dot(w, x) would drop w's gradient without a word)."""
        if _any_requires_grad((args, kwargs)):
            raise AutogradError(_LEAVES_GRAPH.format(what=f"numpy.{func.__name__}"))
        return func(*_to_host(args), **_to_host(kwargs))

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.array.size != 1:
            raise ShapeError(f"item: only a tensor with one element converts to a Python "
                             f"number, got shape {self.shape}")
        return self.array.item()

    def tolist(self):
        """The values as nested Python lists (a Python number for a 0-d tensor)."""
        return backend.to_numpy(self.array).tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.array.size != 1:
            raise ShapeError(f"bool: the truth value of a tensor of shape {self.shape} "
                             "is ambiguous; use .any() or .all()")
        return bool(self.array.item())

    def __index__(self):
        if self.array.dtype.kind not in "iu" or self.array.size != 1:
            raise DTypeError(f"__index__: only a one-element integer tensor is an index, "
                             f"got {self.dtype} of shape {self.shape}")
        return int(self.array.item())

    def detach(self):
        """The same data (shared, with its version counter) outside the graph."""
        t = Tensor._make(self.array)
        t._version = self._version
        t._view_of = self
        return t

    def requires_grad_(self, requires_grad=True):
        """Start (or stop) recording operations on this leaf for autograd, in place;
        only float tensors can require grad. Returns self."""
        if requires_grad and not backend.is_float(self.array.dtype):
            raise DTypeError(f"requires_grad_: only floating tensors can require grad, "
                             f"got {self.dtype}")
        if not requires_grad and self._ctx is not None:
            raise AutogradError("requires_grad_(False): this tensor is not a leaf; "
                                "use .detach() to leave the graph")
        self.requires_grad = bool(requires_grad)
        return self

    # ---- backward
    def backward(self, gradient=None, retain_graph=False, create_graph=False):
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        ``gradient`` (same shape as self) is required unless self has one element.
        The graph's saved arrays are freed afterwards unless ``retain_graph=True``.
        """
        run_backward([self], [gradient], retain_graph or create_graph, create_graph)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned
        Tensor replaces the gradient. Returns a handle with ``.remove()``."""
        if not self.requires_grad:
            raise AutogradError("register_hook: this tensor does not require grad")
        if self._ctx is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            hooks = self._ctx._output_hooks(self._index)
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        if self._ctx is None:
            return
        hooks = self._ctx._output_hooks(self._index)
        if any(getattr(h, "retains_grad", False) for h in hooks):
            return
        ref = weakref.ref(self)

        def keep(grad):
            t = ref()
            if t is not None:
                t.grad = grad if t.grad is None else t.grad + grad
        keep.retains_grad = True
        self.register_hook(keep)

    def __repr__(self):
        body = backend.format_array(self.array)
        body = body[body.index("(") + 1: body.rindex(")")] if body.startswith("array(") else body
        if ", dtype=" in body:
            body = body[:body.rindex(", dtype=")]
        extra = ""
        if self._ctx is not None:
            extra = f", grad_fn=<{self._ctx.name}>"
        elif self.requires_grad:
            extra = ", requires_grad=True"
        if self.device != "cpu":
            extra = f", device='{self.device}'" + extra
        if self.dtype not in (backend.float32, backend.int64, backend.bool_):
            extra = f", dtype={self.dtype}" + extra
        return f"tensor({body}{extra})"

    def __format__(self, format_spec):
        """As torch: a zero-dim tensor formats its value (``f"{loss:.4f}"``); any other
        tensor formats as ``str`` with an empty spec and raises TypeError otherwise."""
        if self.ndim == 0:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)


def _dim_index(dim, ndim, op):
    """A dimension number in range(ndim) (negative counts from the end), or PyTorch's
    IndexError naming the valid range."""
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    low, high = (-ndim, ndim - 1) if ndim else (-1, 0)
    if not low <= dim <= high:
        raise IndexError(f"{op}: dimension out of range (expected to be in range of "
                         f"[{low}, {high}], but got {dim})")
    return dim % ndim if ndim else 0


_LEAVES_GRAPH = ("{what}: a tensor that requires grad cannot become a NumPy array: its "
                 "gradient would be lost without a word. Use t.detach().numpy() for the "
                 "values, or tinygrad_seq's own functions to stay in the graph.")


def _any_requires_grad(obj):
    if isinstance(obj, Tensor):
        return obj.requires_grad
    if isinstance(obj, (list, tuple)):
        return any(_any_requires_grad(o) for o in obj)
    if isinstance(obj, dict):
        return any(_any_requires_grad(o) for o in obj.values())
    return False


def _to_host(obj):
    """Tensors (also inside lists, tuples and dicts) replaced by host NumPy arrays."""
    if isinstance(obj, Tensor):
        return backend.to_numpy(obj.array)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_host(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _to_host(v) for k, v in obj.items()}
    return obj


class _HookHandle:
    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def as_array(data, dtype=None, device=None, copy=False):
    """The backend array for `data` following DESIGN's rules: Python floats become the
    default dtype, Python ints int64, bools bool; arrays keep their dtype. Without a
    `device`, host data (NumPy arrays, lists, scalars) goes to the default device and
    a CuPy array stays on the GPU."""
    if isinstance(data, Tensor):
        data, device = data.array, data.device if device is None else device   # it stays put
    dev = backend.check_device(device) if device is not None else None
    want = backend.dtype(dtype) if dtype is not None else None
    if backend.is_array(data):
        src_dev = backend.device_of(data)
        if dev is None and src_dev == "cpu":
            # a host NumPy array goes to the default device, as torch.tensor(ndarray)
            # does: TINYGRAD_SEQ_DEVICE=cuda then moves code that builds tensors from NumPy
            dev = backend.current_device()
        mod = backend.array_module(data)
        if dev is not None and dev != src_dev:
            array = backend.to_device(data, dev)
            return array if want is None else array.astype(want, copy=False)
        return mod.array(data, dtype=want, copy=True) if copy else mod.asarray(data, dtype=want)
    try:
        host = backend.host_array(data)
    except ValueError as e:
        raise ShapeError(f"tensor: cannot make a tensor of {type(data).__name__}: {e}") from e
    if host.dtype == object or host.dtype.kind in "USV":
        raise DTypeError(f"tensor: cannot make a tensor of {type(data).__name__} "
                         f"(got dtype {host.dtype})")
    if want is None:
        if host.dtype.kind == "f":
            want = backend.get_default_dtype()
        elif host.dtype.kind in "iu":
            want = backend.int64
    if want is not None and host.dtype != want:
        host = host.astype(want)
    return backend.to_device(host, dev or backend.current_device())


# ---------------------------------------------------------------- graph nodes

def _share_version(base, views):
    """Views share their base's version counter: writing through one bumps both."""
    for v in views if type(views) is tuple else (views,):
        v._version = base._version
        v._view_of = base


def _forward_error(cls, inputs, e):
    """The project's error for a NumPy ValueError / IndexError raised in a forward."""
    shapes = ", ".join(str(t.shape) for t in inputs)
    error = OutOfRangeError if isinstance(e, IndexError) else ShapeError
    return error(f"{cls.__name__.lower()}: {e} (input shapes {shapes})")


def _record_outputs(node, out, inputs):
    """The Tensors of a recorded multi-output node (a tuple of arrays `out`), and what
    it keeps of them: their shapes and dtypes, their values and versions if its rule
    reads them."""
    node.n_outputs = len(out)
    outs = tuple(Tensor._make(o, node, i) for i, o in enumerate(out))
    node.output_meta = tuple((o.shape, o.dtype) for o in out)
    if node.is_view:
        _share_version(inputs[0], outs)
    if node.reads_outputs:
        node.outputs_data = out
        node.output_versions = tuple([(t._version, t._version[0]) for t in outs])
    return outs


def _edges(inputs):
    """Node.edges for inputs whose values the rule does not read: a leaf that requires
    grad as itself (its .grad is the destination), any other input as its output index
    in its parent (a constant's is never used: it gets no gradient)."""
    return tuple([t if t._ctx is None and t.requires_grad else t._index for t in inputs])


_EDGE0 = (0,)      # the edges of a one-input node whose input is output 0 of its parent


def edge_index(edge):
    """The output index in its parent of the input that `edge` (an entry of
    Node.edges) stands for."""
    return edge if type(edge) is int else edge._index


def _record(node, cls, inputs, out, multi):
    """Record `node` (its forward has run, giving `out`) in the graph: what it keeps of
    its inputs, and its output Tensors."""
    # parents: the nodes that made the inputs, as they are now (an in-place op later
    # gives a tensor a new history, which must not reroute this node's gradients).
    # edges: where each input's gradient goes (see Node). The input Tensors, and so
    # their arrays, are kept only when the rule reads them (reads_inputs): an Add
    # or a Reshape must not keep its inputs' memory alive until backward.
    # Tuple displays for one and two inputs: this runs for every recorded op.
    if len(inputs) == 2:
        a, b = inputs
        node.parents = (a._ctx, b._ctx)
        node.needs_input_grad = (a.requires_grad, b.requires_grad)
        if cls.reads_inputs:
            node.inputs = node.edges = inputs
            node.input_versions = (a._version[0], b._version[0])
        else:
            node.edges = (a._index if a._ctx is not None or not a.requires_grad else a,
                          b._index if b._ctx is not None or not b.requires_grad else b)
    elif len(inputs) == 1:
        a = inputs[0]
        node.parents, node.needs_input_grad = (a._ctx,), (True,)
        if cls.reads_inputs:
            node.inputs = node.edges = inputs
            node.input_versions = (a._version[0],)
        else:
            node.edges = inputs if a._ctx is None else _EDGE0 if a._index == 0 else (a._index,)
    else:
        node.parents = tuple([t._ctx for t in inputs])
        node.needs_input_grad = tuple([t.requires_grad for t in inputs])
        if cls.reads_inputs:
            node.inputs = node.edges = inputs
            node.input_versions = tuple([t._version[0] for t in inputs])
        else:
            node.edges = _edges(inputs)
    if _State.anomaly:
        node.trace = traceback.format_stack()[:-3]      # without apply and _record
    if multi:               # split, layer norm, the RNN sequences
        return _record_outputs(node, out, inputs)
    outs = Tensor._make(out, node, 0)
    if node.is_view:
        _share_version(inputs[0], outs)
    if cls.reads_outputs:
        node.outputs_data = (out,)
        node.output_versions = ((outs._version, outs._version[0]),)
    return outs


def _refusing_create_graph(backward):
    """The rule of a once-differentiable primitive (it computes on arrays only): under
    create_graph, when it would get Tensors to record, it raises instead."""
    @functools.wraps(backward)
    def rule(node, *grads):
        if _state.grad_enabled:
            raise AutogradError(
                f"backward: {type(node).__name__} is differentiable once (its backward rule "
                f"computes on arrays and is not recorded), so create_graph=True cannot "
                f"differentiate it again; take its gradient without create_graph")
        return backward(node, *grads)
    rule.refuses_create_graph = True
    return rule


class Node:
    """One call of a primitive in the graph (Chainer's FunctionNode form).

    Subclasses define ``forward(self, *arrays, **params)`` on backend arrays, returning an
    array or a tuple of arrays, and ``backward(self, *grads)``, returning one gradient
    (or None) per input: it gets arrays and returns arrays on the fast path, and gets
    and returns Tensors under create_graph (one rule, two branches; see ``call``). They
    keep what backward needs as attributes of ``self``. Class flags say what backward
    reads, so that an in-place change of it is caught: ``reads_inputs`` (the input
    values) and ``reads_outputs`` (the outputs, via ``self.saved_output(i)``); and
    ``once_differentiable`` marks a rule with an array branch only (the class's
    backward is then wrapped to refuse create_graph: ``_refusing_create_graph``).

    What a recorded node keeps (``apply``): ``parents`` (the nodes that made the inputs,
    None for a leaf), ``needs_input_grad``, ``edges`` (per input, where its gradient
    goes: the leaf Tensor itself for a leaf that requires grad, else the input's
    output index in its parent, an int) and, only when ``reads_inputs``, ``inputs``
    (the input Tensors) with their versions. A rule that needs an input's shape or
    dtype but not its values saves them in ``forward``; the input's array is then
    freed as soon as nothing else holds it.
    """
    reads_inputs = True
    reads_outputs = False
    is_view = False          # the output may share memory with input 0 (class or per call)
    n_outputs = 1
    released = False
    lazy_grads = False       # backward may return SparseGrads that its parents densify
    once_differentiable = False   # backward works on arrays only: create_graph is refused
    workspaces = ()          # attributes holding pool arrays (backend/pool.py), given back by _free
    _visit = None            # the backward pass that last sorted this node
    hooks = None
    trace = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.once_differentiable and not hasattr(cls.backward, "refuses_create_graph"):
            cls.backward = _refusing_create_graph(cls.backward)

    @property
    def name(self):
        return type(self).__name__ + "Backward"

    def forward(self, *xs, **params):
        raise NotImplementedError

    def backward(self, *grads):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **params):
        """Run forward on the inputs' arrays; record the node if any input needs grad."""
        node = object.__new__(cls)
        try:
            if len(inputs) == 1:
                out = node.forward(inputs[0].array, **params)
            elif len(inputs) == 2:
                out = node.forward(inputs[0].array, inputs[1].array, **params)
            else:
                out = node.forward(*[t.array for t in inputs], **params)
        except ShapeError:
            raise
        except (ValueError, IndexError) as e:
            raise _forward_error(cls, inputs, e) from e
        multi = type(out) is tuple
        if isinstance(out, _numpy_scalar):
            out = backend.as_ndarray(out)
        tracked = False
        if _state.grad_enabled:
            for t in inputs:
                if t.requires_grad:
                    tracked = True
                    break
        if not tracked:
            outs = tuple(Tensor._make(o) for o in out) if multi else Tensor._make(out)
            if node.is_view:
                _share_version(inputs[0], outs)
            return outs
        return _record(node, cls, inputs, out, multi)

    def saved_inputs(self):
        """The inputs, for a backward rule: Tensors when the backward is recorded
        (create_graph), their arrays otherwise."""
        inputs = self.inputs
        if _state.grad_enabled:
            return inputs
        if len(inputs) == 2:     # most rules: a tuple display, no generator (a hot path)
            return (inputs[0].array, inputs[1].array)
        return tuple([t.array for t in inputs])

    def saved_output(self, index=0):
        """Output `index`, for a backward rule: its array, or with create_graph a Tensor
        made by this node, so that the gradient's graph runs through this node (as
        PyTorch's saved outputs do) without a reference cycle between node and output."""
        if _state.grad_enabled:
            return Tensor._make(self.outputs_data[index], self, index)
        return self.outputs_data[index]

    def _output_hooks(self, index):
        if self.hooks is None:
            self.hooks = {}
        return self.hooks.setdefault(index, [])

    def inputs_read(self):
        """Indices of the inputs whose values backward reads (all of them, unless a
        primitive knows better): only those are checked for in-place changes, so that
        ``d += d * 2`` is legal as in PyTorch (the product's backward reads only the 2)."""
        return range(len(self.inputs))

    def check_versions(self):
        """Raise if a tensor that backward reads was modified in place since forward.
        (Every input is compared first, one pass with no call; ``inputs_read`` is only
        asked when one changed. An index, not zip or enumerate: this runs for most
        nodes, and building their iterators costs more than the comparisons.)"""
        if self.reads_inputs:
            saved, i = self.input_versions, 0
            for t in self.inputs:
                if t._version[0] != saved[i] and i in self.inputs_read():
                    raise AutogradError(
                        f"{self.name}: input {i} (a tensor of shape {t.shape}) was modified "
                        f"by an in-place operation after {type(self).__name__} saved it "
                        f"(version {saved[i]} then, {t._version[0]} now); backward needs its "
                        "old value. Use an out-of-place operation or .clone() it first."
                        + self._where())
                i += 1
        if self.reads_outputs:
            i = 0
            for box, v in self.output_versions:
                if box[0] != v:
                    raise AutogradError(
                        f"{self.name}: output {i} was modified by an in-place operation "
                        f"(version {v} then, {box[0]} now); backward needs its value."
                        + self._where())
                i += 1

    def _where(self):
        if self.trace:
            return "\nThe op was created at:\n" + "".join(self.trace[-6:])
        return " (run under ts.detect_anomaly() to see where the op was created)"

    def __repr__(self):
        return f"<{self.name}>"


def call(cls, *args, **params):
    """Run primitive `cls` inside a backward rule: recorded (``cls.apply``) when an
    argument is a Tensor (create_graph), computed directly on the arrays otherwise.

    Backward rules see arrays when the engine runs without create_graph and Tensors
    with it; they use operations that both support (arithmetic, ``.sum``,
    ``.reshape``, ``.astype``, indexing) and ``call`` for the rest, so that one rule
    serves both the fast path and higher-order gradients."""
    for a in args:
        if isinstance(a, Tensor):
            return cls.apply(*[b if isinstance(b, Tensor) else Tensor._make(b) for b in args],
                             **params)
    return object.__new__(cls).forward(*args, **params)


# ---------------------------------------------------------------- the backward pass
#
# run_backward is reverse mode in a few named steps: seed the roots, sort the nodes,
# then for each node (outputs before inputs) take the gradients of its outputs, run
# their hooks, check that what its rule saved is unchanged, call the rule, route the
# gradients it returns to the tensors they belong to, and free the node. The helpers
# below it hold the fast paths (array gradients, lazy index gradients, row-sparse
# leaves); reference_engine.py is the same loop without them.

def run_backward(roots, gradients, retain_graph, create_graph, capture=None):
    """Propagate gradients from `roots` back through the graph.

    Without create_graph the gradients flowing through the graph are plain arrays and
    every backward rule computes on arrays (the fast path); with it they are Tensors
    and the rules record a graph of the gradient. Without `capture`, gradients of
    leaves are accumulated into ``leaf.grad``; with `capture` (id(tensor) -> tensor, as
    ``grad()`` uses) the gradients of those tensors are returned instead and no
    ``.grad`` is touched.
    """
    run = _Run(bool(create_graph), capture)
    with _Mode("grad_enabled", run.recorded):
        for root, gradient in zip(roots, gradients):                          # seed
            _route_one(run, root, root._ctx, _seed(run, root, gradient))
        for node in _toposort([r._ctx for r in roots if r._ctx is not None]):  # sort
            grads = run.pending.pop(id(node), None)       # its outputs' gradients
            if grads is None:
                continue                                  # no gradient reaches it
            grads = _output_grads(run, node, grads)       # hooks (and the rarer cases)
            if node.reads_inputs or node.reads_outputs:
                node.check_versions()                     # saved values unchanged?
            input_grads = node.backward(*grads)           # the backward rule
            if run.anomaly:
                _check_finite(node, input_grads)          # detect_anomaly: nan or inf?
            _route(run, node, input_grads)                # to the tensors' slots
            if not retain_graph:
                _free(node)
        for leaf, g in run.leaves.values():               # leaves: .grad or captured
            _leaf_grad(run, leaf, g)
    return run.result()


class _Run:
    """The state of one backward pass: where gradients wait until their node runs."""
    __slots__ = ("recorded", "anomaly", "pending", "leaves", "lazy", "given", "capture",
                 "capture_nodes", "captured", "sums")

    def __init__(self, recorded, capture):
        self.recorded = recorded
        self.anomaly = _State.anomaly
        self.pending = {}        # id(node) -> list with one gradient per output
        self.leaves = {}         # id(leaf) -> [leaf, gradient]
        self.lazy = set()        # ids of nodes whose slots may hold SparseGrads
        self.given = set()       # ids of arrays that .grad must not take as they are
        self.sums = set()        # ids of sums of gradients this pass made (_accumulate)
        self.capture, self.capture_nodes, self.captured = capture, {}, {}
        for t in (capture or {}).values():
            if t._ctx is not None:
                self.capture_nodes.setdefault(id(t._ctx), []).append(t)

    def result(self):
        """What grad() gets: the captured gradients, as Tensors."""
        if self.recorded:
            return self.captured
        return {k: Tensor._make(v) for k, v in self.captured.items() if v is not None}


def _toposort(roots):
    """Nodes reachable from `roots`, each after all nodes that consume its outputs
    (the reverse of an iterative depth-first post-order; no recursion)."""
    order = []
    visit = object()         # marks the nodes seen in this pass
    for root in roots:
        if root._visit is visit:
            continue
        root._visit = visit
        stack = [(root, iter(getattr(root, "parents", ())))]
        while stack:
            node, pending = stack[-1]
            for parent in pending:
                if parent is not None and parent._visit is not visit:
                    parent._visit = visit
                    stack.append((parent, iter(getattr(parent, "parents", ()))))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def _seed(run, root, gradient):
    """The starting gradient d(root)/d(root): ones for a one-element root, else the
    given `gradient`. A Tensor when the backward is recorded, an array otherwise."""
    if root.dtype.kind != "f":
        raise DTypeError(f"backward: only float tensors have gradients, got {root.dtype}")
    if not root.requires_grad:
        raise AutogradError("backward: the tensor does not require grad and has no grad_fn "
                            "(did you forget requires_grad=True, or run under no_grad?)")
    if gradient is None:
        if root.array.size != 1:
            raise AutogradError(f"backward: grad can be implicitly created only for scalar "
                                f"outputs; pass gradient= for an output of shape {root.shape}")
        seed = backend.array_module(root.array).ones(root.shape, dtype=root.dtype)
        return Tensor._make(seed) if run.recorded else seed
    if not isinstance(gradient, Tensor):
        gradient = Tensor._make(as_array(gradient, root.dtype, root.device))
    if tuple(gradient.shape) != tuple(root.shape):
        raise ShapeError(f"backward: gradient has shape {gradient.shape} but the output "
                         f"has shape {root.shape}")
    run.given.add(id(gradient.array))      # the caller's array: never store it as a .grad
    return gradient if run.recorded else gradient.array


def _output_grads(run, node, grads):
    """The gradients of node's outputs as its rule must see them: checked not freed,
    index gradients made whole, through the output hooks, kept if grad() asked for
    them, and zeros for the outputs of a multi-output node that got none."""
    if node.released:
        raise AutogradError(
            f"backward: trying to backward through the graph a second time ({node.name} "
            "already freed its saved values); pass retain_graph=True to the first backward "
            "if you need to")
    if run.sums:             # the rule may pass them on (Add does): no longer ours alone
        run.sums.difference_update([id(g) for g in grads])
    if run.lazy and id(node) in run.lazy:
        run.lazy.discard(id(node))
        grads = [g.dense_array() if isinstance(g, SparseGrad) else g for g in grads]
    if node.hooks:
        grads = [g if g is None or i not in node.hooks else
                 _run_hooks(node.hooks[i], g, run.recorded) for i, g in enumerate(grads)]
    if run.capture_nodes:
        for t in run.capture_nodes.get(id(node), ()):
            run.captured[id(t)] = grads[t._index]
    if node.n_outputs > 1:
        present = next(g for g in grads if g is not None)
        grads = [_zeros_for(node, i, present) if g is None else g for i, g in enumerate(grads)]
    return grads


def _run_hooks(hooks, grad, as_is):
    """Hooks see Tensors (an array is wrapped, unless `as_is`); a returned Tensor
    replaces the gradient."""
    t = grad if as_is else Tensor._make(grad)
    for hook in list(hooks):
        new = hook(t)
        if new is not None:
            t = new
    return t if as_is else t.array


def _zeros_for(node, index, present):
    """Zeros for output `index` of a multi-output node that got no gradient, like the
    gradient that did arrive (`present`: an array, or a Tensor when recorded)."""
    shape, dtype = node.output_meta[index]
    recorded = isinstance(present, Tensor)
    zeros = backend.array_module(present.array if recorded else present).zeros(shape, dtype=dtype)
    return Tensor._make(zeros) if recorded else zeros


def _check_finite(node, grads):
    for i, g in enumerate(grads):
        if g is None:
            continue
        if isinstance(g, SparseGrad):
            finite = g.is_finite()
        else:
            data = g.array if isinstance(g, Tensor) else g
            finite = bool(backend.array_module(data).isfinite(data).all())
        if not finite:
            raise AutogradError(f"detect_anomaly: {node.name} returned nan or inf in the "
                                f"gradient of input {i} (shape {tuple(g.shape)})." + node._where())


def _route(run, node, input_grads):
    """Add each input's gradient to its tensor's slot: in the pending gradients of the
    node that made the tensor (`parents`: as it was when recorded), or the leaf's entry.
    The common case, a single-output parent's first gradient, is one dict store."""
    pending = run.pending
    for edge, parent, g, needed in zip(node.edges, node.parents, input_grads,
                                       node.needs_input_grad):
        if not needed or g is None:
            continue
        if parent is not None and parent.n_outputs == 1 and id(parent) not in pending:
            pending[id(parent)] = [g]
        else:
            _route_one(run, edge, parent, g)
    if node.lazy_grads:         # its gradients may be SparseGrads: made dense when used
        run.lazy.update(id(p) for p in node.parents if p is not None)


def _route_one(run, edge, parent, g):
    """Add gradient g to the slot of the tensor that `edge` stands for: the leaf
    Tensor `edge` when `parent` is None, else output ``edge_index(edge)`` of `parent`
    (a root's edge is the root Tensor itself)."""
    if parent is None:
        entry = run.leaves.get(id(edge))
        if entry is None:
            run.leaves[id(edge)] = [edge, g]
        else:
            entry[1] = _accumulate(run, entry[1], g)
        return
    slots = run.pending.get(id(parent))
    if slots is None:
        slots = run.pending[id(parent)] = [None] * parent.n_outputs
    index = edge if type(edge) is int else edge._index
    old = slots[index]
    slots[index] = g if old is None else _accumulate(run, old, g)


# Sums of gradients at least this large are added into in place (_accumulate).
SUM_IN_PLACE_BYTES = 1 << 16


def _accumulate(run, total, g):
    """total + g, the sum of a tensor's gradients. The first sum of large arrays is a
    new array that only this pass holds (run.sums); later gradients are added to it
    in place, so a weight used at every step of a sequence gets one buffer, not one
    new array per step. (Never in place on an array a rule returned: Add gives one
    array to both of its inputs. Small sums are new arrays: malloc reuses their
    blocks, and the bookkeeping would cost more than it saves.)"""
    if run.sums and id(total) in run.sums and type(g) is type(total) \
            and g.shape == total.shape and g.dtype == total.dtype:
        total += g
        return total
    total = total + g
    if not run.recorded and not isinstance(total, SparseGrad) \
            and total.nbytes >= SUM_IN_PLACE_BYTES:
        run.sums.add(id(total))
    return total


def _free(node):
    """Drop everything the rule saved (retain_graph=False): a second backward through
    this node then raises instead of reading freed values. A fused primitive's
    workspaces go back to the array pool first (``_give_workspaces``)."""
    if node.workspaces:
        _give_workspaces(node)
    node.__dict__.clear()
    node.released = True


def _give_workspaces(node):
    """Offer the node's workspace arrays (the big buffers of its forward and backward,
    named by ``Node.workspaces``) to the array pool, for the next step to reuse; the
    pool keeps only those that nothing else holds (backend/pool.py)."""
    saved = node.__dict__
    saved.pop("outputs_data", None)      # the outputs may be views of a workspace
    for name in node.workspaces:
        pool.give(saved.pop(name, None))


def _leaf_grad(run, leaf, g):
    """A leaf's total gradient: through its hooks, then captured (grad()) or added to
    ``.grad``. A SparseGrad (sparse_grad.py) is made dense first unless it is
    ``kept_in_grad`` (sparse.RowSparseGrad, from an embedding with sparse=True; never
    under create_graph): that one reaches hooks as it is, ts.grad dense, ``.grad``
    sparse."""
    sparse = isinstance(g, SparseGrad)
    if sparse and not g.kept_in_grad:
        g, sparse = g.dense_array(), False
    if leaf._hooks:
        g = _run_hooks(leaf._hooks, g, run.recorded or sparse)
        if sparse and isinstance(g, Tensor):      # a hook replaced it with a dense one
            g, sparse = g.array, False
    if run.capture is not None:
        if id(leaf) in run.capture:
            run.captured[id(leaf)] = g.dense_array() if sparse else g
        return
    old = leaf.grad
    if run.recorded:
        if isinstance(old, SparseGrad):
            old = Tensor._make(old.dense_array())
        leaf.grad = g if old is None else old + g
    elif sparse:
        leaf.grad = g._owned(run.given) if old is None else g.__radd__(old)
    elif old is None:
        leaf.grad = Tensor._make(_owned_array(g, run.given))
    else:
        leaf.grad = Tensor._make((old if isinstance(old, SparseGrad) else old.array) + g)


def _owned_array(g, given):
    """g, or a copy when .grad must not take it as it is: a read-only broadcast view,
    an array another leaf's .grad holds (Add passes one array to both inputs), or the
    caller's `gradient`."""
    if g.base is not None or not backend.writeable(g) or id(g) in given:
        g = g.copy()
    given.add(id(g))
    return g


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of `outputs` with respect to `inputs`, returned as a tuple (nothing is
    accumulated into ``.grad``). With ``create_graph=True`` they can be differentiated
    again. An input the outputs do not depend on raises unless ``allow_unused=True``,
    which gives None for it."""
    single_out = isinstance(outputs, Tensor)
    outputs = [outputs] if single_out else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ShapeError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise AutogradError(f"grad: input {i} does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    captured = run_backward(outputs, list(grad_outputs), retain_graph, create_graph,
                            capture={id(t): t for t in inputs})
    result = []
    for i, t in enumerate(inputs):
        g = captured.get(id(t))
        if g is None and not allow_unused:
            raise AutogradError(f"grad: input {i} (shape {t.shape}) was not used to compute "
                                "the outputs; pass allow_unused=True to get None for it")
        if g is not None and not create_graph:
            g = Tensor._make(g.array)
        result.append(g)
    return tuple(result)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """``torch.autograd.backward``: ``t.backward(g)`` for several roots at once (one
    pass), accumulating into ``.grad``; with ``inputs``, only into those tensors'."""
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    elif isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors]
    grad_tensors = list(grad_tensors)
    if len(grad_tensors) != len(tensors):
        raise ShapeError(f"backward: {len(grad_tensors)} grad_tensors for {len(tensors)} tensors")
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is None:
        run_backward(tensors, grad_tensors, retain_graph or create_graph, create_graph)
        return
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise AutogradError(f"backward: inputs[{i}] does not require grad")
    captured = run_backward(tensors, grad_tensors, retain_graph or create_graph, create_graph,
                            capture={id(t): t for t in inputs})
    for t in inputs:
        g = captured.get(id(t))
        if g is not None:
            g = g if create_graph else Tensor._make(g.array)
            t.grad = g if t.grad is None else t.grad + g
