"""Module and Parameter: the containers of trainable state, as in ``torch.nn``.

A Module registers the Parameters, buffers and sub-Modules assigned to its attributes,
so that ``named_parameters()`` yields dotted names ("encoder.layers.0.weight") that
match PyTorch's, and ``state_dict()`` / ``load_state_dict()`` move weights between the
two frameworks (see ``tinygrad_seq.io`` for files and for importing PyTorch weights).
"""
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

from .. import backend
from ..autograd import Tensor, as_array
from ..modes import no_grad
from ..errors import DeviceError, DTypeError, ShapeError, TinygradSeqError
from ..tensor import to_args


class RemovableHandle:
    """What ``register_forward_hook`` returns: ``remove()`` unregisters the hook (also
    as a context manager, as torch.utils.hooks.RemovableHandle)."""
    _next_id = 0

    def __init__(self, hooks):
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class Parameter(Tensor):
    """A Tensor that a Module registers as trainable (requires grad by default).
    ``Parameter(t)`` shares the array of the Tensor ``t``."""
    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = backend.xp(backend.current_device()).zeros((0,), dtype=backend.get_default_dtype())
        array = data.array if isinstance(data, Tensor) else as_array(data)
        self._init(array, None, 0)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _addindent(text, spaces):
    """Indent every line but the first (torch.nn.modules.module._addindent)."""
    first, *rest = text.split("\n")
    return "\n".join([first] + [" " * spaces + line for line in rest])


class Module:
    """Base class of layers and models. Subclasses set Parameters and sub-Modules as
    attributes in ``__init__`` and define ``forward``; call the module to run it."""

    training = True

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration
    def __setattr__(self, name, value):
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 f"assigning attributes (assigning {name!r})")
        if isinstance(value, (Parameter, Module)):
            target = self._parameters if isinstance(value, Parameter) else self._modules
            for store in (self._parameters, self._buffers, self._modules):
                if store is not target:       # a replacement keeps its place, as in torch
                    store.pop(name, None)
            self._non_persistent.discard(name)
            d.pop(name, None)
            target[name] = value
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign a {type(value).__name__} to buffer {name!r} "
                                "(a Tensor or None)")
            self._buffers[name] = value
        elif name in self._parameters or name in self._modules:
            if value is not None:
                kind = "parameter" if name in self._parameters else "module"
                raise TypeError(f"cannot assign a {type(value).__name__} to {kind} {name!r} "
                                f"(use a {'Parameter' if kind == 'parameter' else 'Module'} or None)")
            (self._parameters if name in self._parameters else self._modules)[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    def _check_new_name(self, name, kind, store):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"register_{kind}: call Module.__init__() first")
        if not isinstance(name, str):
            raise TypeError(f"register_{kind}: the name must be a str, got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f"register_{kind}: invalid name {name!r} (empty or containing '.')")
        if hasattr(self, name) and name not in store:
            raise KeyError(f"register_{kind}: attribute {name!r} already exists")

    def register_parameter(self, name, param):
        """Register a Parameter (or None: a declared but absent parameter, such as a
        Linear's bias with bias=False)."""
        self._check_new_name(name, "parameter", self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, "
                            f"got {type(param).__name__}")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """A tensor that is state but not a parameter (saved in state_dict unless
        persistent=False or None; moved and cast by ``to``)."""
        self._check_new_name(name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, "
                            f"got {type(tensor).__name__}")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        self._check_new_name(name, "module", self._modules)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        self._modules[name] = module

    register_module = add_module

    # ---- traversal
    def named_modules(self, prefix="", remove_duplicate=True):
        """(dotted name, module) for self and every submodule, depth first in the order
        of registration. A module reachable by several paths comes once (by its first
        name) unless remove_duplicate=False."""
        stack = [(prefix, self, ())]
        seen = set()
        while stack:
            name, module, ancestors = stack.pop()
            if remove_duplicate:
                if id(module) in seen:
                    continue
                seen.add(id(module))
            elif id(module) in ancestors:
                raise TinygradSeqError(f"named_modules: {name!r} contains itself (a cycle of "
                                       f"modules)")
            yield name, module
            inner = ancestors + (id(module),)
            children = [(f"{name}.{n}" if name else n, m, inner)
                        for n, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, table, prefix, recurse, remove_duplicate):
        """(dotted name, value) of the non-None entries of each module's `table`
        (``_parameters`` or ``_buffers``); a value shared by several modules comes once,
        by its first name, unless remove_duplicate=False."""
        seen = set()
        modules = self.named_modules(prefix, remove_duplicate) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, v in getattr(module, table).items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield (f"{mod_name}.{name}" if mod_name else name), v

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, Parameter) pairs; a Parameter shared by several modules (tied
        weights) comes once, by its first name, unless remove_duplicate=False."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, buffer) pairs, each shared buffer once (see named_parameters)."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def num_parameters(self, trainable_only=False):
        """Total number of elements in the parameters (each shared one counted once)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    # ---- state
    def _state_items(self):
        """(key, tensor) of every parameter and persistent buffer under every path, as
        PyTorch's state_dict lists them: a shared module or parameter appears under each
        of its names."""
        for mod_name, module in self.named_modules(remove_duplicate=False):
            dot = f"{mod_name}." if mod_name else ""
            for name, p in module._parameters.items():
                if p is not None:
                    yield dot + name, p
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    yield dot + name, b

    def state_dict(self, *, destination=None, prefix="", keep_vars=False):
        """Parameters and persistent buffers by dotted name ("0.weight"), in PyTorch's
        order and with its keys. The values are detached Tensors sharing memory with the
        model (the Parameters themselves with keep_vars=True); `prefix` is prepended to
        every key; `destination` (a dict) is filled and returned if given."""
        out = OrderedDict() if destination is None else destination
        for key, t in self._state_items():
            out[prefix + key] = t if keep_vars else t.detach()
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy values (Tensors or NumPy/CuPy arrays) into the parameters and persistent
        buffers of the same names, cast to each one's dtype and device.

        With ``strict`` a missing or unexpected key raises KeyError naming them; a shape
        mismatch always raises ShapeError naming the key. Every value is checked before
        anything is written, so a failed load leaves the model as it was. Returns
        ``(missing_keys, unexpected_keys)``."""
        where = f"load_state_dict ({type(self).__name__})"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{where}: expected a dict of name -> Tensor or array, got "
                            f"{type(state_dict).__name__}")
        own = OrderedDict(self._state_items())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"{where}: missing keys {missing}, unexpected keys {unexpected}")
        updates = []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            try:
                array = as_array(value, dtype=target.dtype, device=target.device)
            except DeviceError:
                raise
            except (TypeError, ValueError, RuntimeError) as e:   # RuntimeError: a torch
                # tensor that requires grad refuses __array__ (use .detach())
                raise DTypeError(f"{where}: {key!r}: cannot use a {type(value).__name__} as "
                                 f"a {target.dtype} tensor ({e})") from e
            lazy = hasattr(target, "materialize")    # an UninitializedParameter takes the shape
            if not lazy and tuple(array.shape) != tuple(target.shape):
                raise ShapeError(f"{where}: {key!r} has shape {tuple(array.shape)} in the "
                                 f"state dict but {tuple(target.shape)} in the model")
            updates.append((target, array))
        with no_grad():
            for target, array in updates:
                if hasattr(target, "materialize"):
                    target.materialize(tuple(array.shape))
                target.array[...] = array
                target._version[0] += 1
        return IncompatibleKeys(missing, unexpected)

    # ---- modes, gradients, conversion
    def train(self, mode=True):
        """Set training mode (``eval()`` is ``train(False)``) on self and every
        submodule; layers such as Dropout read ``self.training``."""
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        """Forget the gradients: set them to None (the default, as PyTorch) or, with
        set_to_none=False, to zeros."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                # a row-sparse gradient (Embedding(sparse=True)) becomes dense zeros
                p.grad = Tensor._make(backend.array_module(p.array).zeros(p.shape, dtype=p.dtype))

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def apply(self, fn):
        """Call fn(module) on every submodule (children first) and self."""
        for m in reversed(list(self.modules())):
            fn(m)
        return self

    def to(self, *args, dtype=None, device=None):
        """Move and/or cast the parameters and buffers in place, like PyTorch:
        ``model.to("cuda")``, ``model.to(ts.float64)``, ``model.to("cpu", ts.float32)``.
        A dtype applies to floating-point tensors only (integer buffers keep theirs) and
        must itself be a float dtype. Gradients are moved and cast along. Returns self;
        the Parameter objects stay the same (an optimizer keeps working)."""
        dtype, device = to_args(args, dtype, device)
        dtype = None if dtype is None else backend.dtype(dtype)
        if dtype is not None and not backend.is_float(dtype):
            raise DTypeError(f"Module.to: only floating-point dtypes, got {dtype}")
        device = None if device is None else backend.check_device(device)

        def convert(array):
            if device is not None:
                array = backend.to_device(array, device)
            if dtype is not None and array.dtype.kind == "f" and array.dtype != dtype:
                array = array.astype(dtype)
            return array

        for module in self.modules():
            for store in (module._parameters, module._buffers):
                for t in store.values():
                    if t is None:
                        continue
                    array = convert(t.array)
                    if array is not t.array:
                        t.array = array
                        t._version[0] += 1
                    if t.grad is not None:
                        g = convert(t.grad.array)
                        if g is not t.grad.array:
                            t.grad = Tensor._make(g)
        return self

    def float(self):
        return self.to(backend.float32)

    def double(self):
        return self.to(backend.float64)

    def half(self):
        return self.to(backend.float16)

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    # ---- running
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        hooks = self.__dict__.get("_forward_pre_hooks")
        if hooks:
            for hook, with_kwargs in list(hooks.values()):
                if with_kwargs:
                    result = hook(self, args, kwargs)
                    if result is not None:
                        if not (isinstance(result, tuple) and len(result) == 2):
                            raise RuntimeError("forward pre-hook must return None or a tuple "
                                               f"of (new_args, new_kwargs), but got {result}.")
                        args, kwargs = result
                else:
                    result = hook(self, args)
                    if result is not None:
                        args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        hooks = self.__dict__.get("_forward_hooks")
        if hooks:
            for hook, with_kwargs in list(hooks.values()):
                result = (hook(self, args, kwargs, output) if with_kwargs
                          else hook(self, args, output))
                if result is not None:
                    output = result
        return output

    def _add_hook(self, store, hook, prepend, with_kwargs):
        hooks = self.__dict__.get(store)
        if hooks is None:
            hooks = OrderedDict()
            object.__setattr__(self, store, hooks)
        handle = RemovableHandle(hooks)
        hooks[handle.id] = (hook, bool(with_kwargs))
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """As torch: ``hook(module, args)`` runs before ``forward``; a returned value
        replaces the positional inputs (a non-tuple is wrapped in one). With
        ``with_kwargs=True``, ``hook(module, args, kwargs)`` may return ``(args, kwargs)``.
        Returns a handle whose ``remove()`` unregisters the hook."""
        return self._add_hook("_forward_pre_hooks", hook, prepend, with_kwargs)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False):
        """As torch: ``hook(module, args, output)`` runs after ``forward``; a returned
        value replaces the output. With ``with_kwargs=True`` the hook is called as
        ``hook(module, args, kwargs, output)``. Returns a handle with ``remove()``."""
        return self._add_hook("_forward_hooks", hook, prepend, with_kwargs)

    def extra_repr(self):
        """The one-line settings shown in repr (``in_features=2, out_features=3``)."""
        return ""

    def __repr__(self):
        """As torch.nn.Module's: ``Name(extra)`` or the children one per line."""
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _addindent(repr(m), 2) for name, m in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{type(self).__name__}({body})"
