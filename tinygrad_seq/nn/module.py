"""Module and Parameter: the containers of trainable state, as in ``torch.nn``.

A Module registers the Parameters, buffers and sub-Modules assigned to its attributes,
so that ``named_parameters()`` yields dotted names ("encoder.layers.0.weight") that
match PyTorch's, and ``state_dict()`` / ``load_state_dict()`` move weights between the
two frameworks.
"""
from collections import OrderedDict, namedtuple

from .. import backend
from ..autograd import Tensor, as_array, no_grad
from ..errors import DTypeError, ShapeError


class Parameter(Tensor):
    """A Tensor that a Module registers as trainable (requires grad by default)."""
    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = backend.xp(backend.default_device).zeros((0,), dtype=backend.get_default_dtype())
        array = data.data if isinstance(data, Tensor) else as_array(data)
        self._init(array, None, 0)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


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
            for store in (self._parameters, self._buffers, self._modules):
                store.pop(name, None)
            d.pop(name, None)
            (self._parameters if isinstance(value, Parameter) else self._modules)[name] = value
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign a {type(value).__name__} to buffer {name!r}")
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
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, "
                            f"got {type(param).__name__}")
        if param is None:
            self._parameters[name] = None
        else:
            setattr(self, name, param)

    def register_buffer(self, name, tensor, persistent=True):
        """A tensor that is state but not a parameter (saved in state_dict unless
        persistent=False; moved by ``to``)."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None")
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        self._modules[name] = module

    # ---- traversal
    def named_modules(self, prefix=""):
        stack = [(prefix, self)]
        seen = set()
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m)
                        for n, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), b

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def num_parameters(self, trainable_only=False):
        """Total number of elements in the parameters (each shared one counted once)."""
        return sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only)

    # ---- state
    def state_dict(self, prefix=""):
        """Parameters and persistent buffers by dotted name, detached (sharing memory)."""
        out = OrderedDict()
        for mod_name, module in self.named_modules(prefix):
            dot = f"{mod_name}." if mod_name else ""
            for name, p in module._parameters.items():
                if p is not None:
                    out[dot + name] = p.detach()
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    out[dot + name] = b.detach()
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy values (Tensors or NumPy/CuPy arrays) into the parameters and buffers of
        the same names, cast to each one's dtype and device. With ``strict`` a missing
        or unexpected key raises KeyError; a shape mismatch always raises ShapeError.
        Returns (missing_keys, unexpected_keys)."""
        own = {}
        for mod_name, module in self.named_modules():
            dot = f"{mod_name}." if mod_name else ""
            for store in (module._parameters, module._buffers):
                for name, t in store.items():
                    if t is not None and not (store is module._buffers and name in module._non_persistent):
                        own[dot + name] = t
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict ({type(self).__name__}): missing keys {missing}, "
                           f"unexpected keys {unexpected}")
        with no_grad():
            for key, target in own.items():
                if key not in state_dict:
                    continue
                value = state_dict[key]
                try:
                    array = as_array(value, dtype=target.dtype, device=target.device)
                except (TypeError, ValueError) as e:
                    raise DTypeError(f"load_state_dict: {key!r}: cannot use a "
                                     f"{type(value).__name__} ({e})") from e
                if tuple(array.shape) != tuple(target.shape):
                    raise ShapeError(f"load_state_dict: {key!r} has shape {tuple(array.shape)} in "
                                     f"the state dict but {tuple(target.shape)} in the model")
                target.data[...] = array
                target._version[0] += 1
        return IncompatibleKeys(missing, unexpected)

    # ---- modes, gradients, conversion
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = Tensor._make(p.grad.data * 0)

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
        """Move/cast parameters and buffers in place (float ones only for dtype), like
        PyTorch: ``model.to("cuda")``, ``model.to(ts.float64)``."""
        for a in args:
            if isinstance(a, str) and (a in backend.DEVICES or a.startswith("cuda:")):
                device = a
            else:
                dtype = a
        dtype = None if dtype is None else backend.dtype(dtype)
        device = None if device is None else backend.check_device(device)
        for module in self.modules():
            for store in (module._parameters, module._buffers):
                for t in store.values():
                    if t is None:
                        continue
                    array = t.data
                    if device is not None:
                        array = backend.to_device(array, device)
                    if dtype is not None and array.dtype.kind == "f":
                        array = array.astype(dtype)
                    if array is not t.data:
                        t.data = array
                        t._version[0] += 1
                        if t.grad is not None:
                            t.grad = None
        return self

    def float(self):
        return self.to(backend.float32)

    def double(self):
        return self.to(backend.float64)

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    # ---- running
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        for name, m in self._modules.items():
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}(" + (f"{extra}" if extra else "")
        return head + "\n  " + "\n  ".join(lines) + "\n)"
