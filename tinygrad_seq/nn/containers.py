"""Sequential, ModuleList, ModuleDict, ParameterList and ParameterDict, as in torch.nn
(children named "0", "1", ... or by their keys)."""
import operator
from collections import OrderedDict
from collections.abc import Iterable, Mapping

from ..autograd import Tensor
from .module import Module, Parameter, _addindent


class _Indexed(Module):
    """What Sequential and ModuleList share: the children in order, by position."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def _key(self, index):
        """The name of the child at a position (negative counts from the end)."""
        try:
            i = operator.index(index)
        except TypeError:
            raise TypeError(f"{type(self).__name__} indices must be integers or slices, got "
                            f"{type(index).__name__}") from None
        n = len(self._modules)
        if not -n <= i < n:
            raise IndexError(f"{type(self).__name__}: index {i} is out of range for "
                             f"{n} modules")
        return list(self._modules)[i % n]

    def __setitem__(self, index, module):
        setattr(self, self._key(index), module)

    def __delitem__(self, index):
        keys = list(self._modules)[index] if isinstance(index, slice) else [self._key(index)]
        for key in keys:
            del self._modules[key]
        # the remaining children are renumbered 0, 1, ... as in PyTorch
        object.__setattr__(self, "_modules", OrderedDict(
            (str(i), m) for i, m in enumerate(self._modules.values())))

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        """Insert `module` before position `index` (children are renumbered)."""
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}.insert: expected a Module, got "
                            f"{type(module).__name__}")
        items = list(self._modules.values())
        items.insert(operator.index(index), module)     # list.insert's clamping, as PyTorch
        object.__setattr__(self, "_modules", OrderedDict(
            (str(i), m) for i, m in enumerate(items)))


class Sequential(_Indexed):
    """Modules applied one after the other: Sequential(a, b)(x) == b(a(x)).

    ``Sequential(OrderedDict(name=module, ...))`` names the children; a slice gives a
    Sequential of the same children under the same names, as in PyTorch."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        return self._modules[self._key(index)]

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


class ModuleList(_Indexed):
    """A list of modules whose parameters are registered (no forward of its own)."""

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ModuleList(list(self._modules.values())[index])
        return self._modules[self._key(index)]

    def __iadd__(self, modules):
        return self.extend(modules)

    def __repr__(self):
        """As PyTorch's: runs of identical children are shown once, ``(0-2): 3 x ...``."""
        reprs = [repr(m) for m in self._modules.values()]
        if not reprs:
            return "ModuleList()"
        runs = []   # [first index, last index, repr]
        for i, r in enumerate(reprs):
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        lines = [_addindent(f"({a}): {r}" if a == b else f"({a}-{b}): {b - a + 1} x {r}", 2)
                 for a, b, r in runs]
        return "ModuleList(\n  " + "\n  ".join(lines) + "\n)"


def _pairs(items, cls_name):
    """(key, value) pairs of a Mapping or an iterable of pairs (torch's update)."""
    if isinstance(items, Mapping):
        return list(items.items())
    if not isinstance(items, Iterable):
        raise TypeError(f"{cls_name}.update should be called with an iterable of key/value "
                        f"pairs, but got {type(items).__name__}")
    out = []
    for j, pair in enumerate(items):
        if not isinstance(pair, Iterable):
            raise TypeError(f"{cls_name} update sequence element #{j} should be Iterable; is "
                            f"{type(pair).__name__}")
        pair = tuple(pair)
        if len(pair) != 2:
            raise ValueError(f"{cls_name} update sequence element #{j} has length {len(pair)}; "
                             "2 is required")
        out.append(pair)
    return out


class ModuleDict(Module):
    """Modules by name, in insertion order, registered as children (state_dict keys
    "name.weight"); a dict's methods, no forward of its own."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def clear(self):
        self._modules.clear()

    def pop(self, key):
        v = self[key]
        del self[key]
        return v

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def update(self, modules):
        """Add or replace modules from a Mapping (in its order) or (key, module) pairs."""
        for key, module in _pairs(modules, "ModuleDict"):
            self[key] = module


def _tensor_line(p, type_name):
    size = "x".join(str(n) for n in p.shape)
    device = f" ({p.device})" if p.device != "cpu" else ""
    kind = "Parameter" if isinstance(p, Parameter) else "Tensor"
    return f"{kind} containing: [{type_name(p)} of size {size}{device}]"


_TYPE_NAMES = {"float16": "HalfTensor", "float32": "FloatTensor", "float64": "DoubleTensor",
               "int32": "IntTensor", "int64": "LongTensor", "bool": "BoolTensor"}


class ParameterList(Module):
    """Parameters by position, registered as "0", "1", ... (a Tensor is made a
    Parameter; other values are kept, unregistered, as torch)."""

    def __init__(self, values=None):
        super().__init__()
        object.__setattr__(self, "_size", 0)
        if values is not None:
            self += values

    def _abs_index(self, idx):
        i = operator.index(idx)
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} is out of range")
        return i % len(self) if len(self) else i

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            out = type(self)()
            for i in range(*idx.indices(len(self))):
                out.append(self[i])
            return out
        return getattr(self, str(self._abs_index(idx)))

    def __setitem__(self, idx, param):
        idx = self._abs_index(idx)
        if isinstance(param, Tensor) and not isinstance(param, Parameter):
            param = Parameter(param)
        setattr(self, str(idx), param)

    def __len__(self):
        return self._size

    def __iter__(self):
        return iter(self[i] for i in range(len(self)))

    def __iadd__(self, parameters):
        return self.extend(parameters)

    def append(self, value):
        new = self._size
        object.__setattr__(self, "_size", new + 1)
        self[new] = value
        return self

    def extend(self, values):
        if not isinstance(values, Iterable) or isinstance(values, Tensor):
            raise TypeError("ParameterList.extend should be called with an iterable, but got "
                            + type(values).__name__)
        for value in values:
            self.append(value)
        return self

    def extra_repr(self):
        lines = []
        for k, p in enumerate(self):
            if isinstance(p, Tensor):
                lines.append(f"  ({k}): " + _tensor_line(p, lambda t: str(t.dtype)))
            else:
                lines.append(f"  ({k}): Object of type: {type(p).__name__}")
        return "\n".join(lines)


class ParameterDict(Module):
    """Parameters by name (registered under their keys; a Tensor is made a Parameter,
    other values are kept unregistered); a dict's methods. A plain dict given to the
    constructor or to update() is added in sorted key order, an OrderedDict or a
    ParameterDict in its own order, as torch."""

    def __init__(self, parameters=None):
        super().__init__()
        object.__setattr__(self, "_keys", {})
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        if key not in self._keys:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key, value):
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict keys must be strings, got {type(key).__name__}")
        self._keys[key] = None
        if isinstance(value, Tensor) and not isinstance(value, Parameter):
            value = Parameter(value)
        setattr(self, key, value)

    def __delitem__(self, key):
        del self._keys[key]
        delattr(self, key)

    def __len__(self):
        return len(self._keys)

    def __iter__(self):
        return iter(self._keys)

    def __reversed__(self):
        return reversed(list(self._keys))

    def __contains__(self, key):
        return key in self._keys

    def copy(self):
        return ParameterDict(OrderedDict((k, self[k]) for k in self._keys))

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def clear(self):
        for k in list(self._keys):
            del self[k]

    def pop(self, key):
        v = self[key]
        del self[key]
        return v

    def popitem(self):
        k = list(self._keys)[-1]
        v = self[k]
        del self[k]
        return k, v

    def get(self, key, default=None):
        return self[key] if key in self else default

    def fromkeys(self, keys, default=None):
        return ParameterDict((k, default) for k in keys)

    def keys(self):
        return self._keys.keys()

    def items(self):
        return ((k, self[k]) for k in self._keys)

    def values(self):
        return (self[k] for k in self._keys)

    def update(self, parameters):
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            pairs = list(parameters.items())
        elif isinstance(parameters, Mapping):
            pairs = sorted(parameters.items())
        else:
            pairs = _pairs(parameters, "ParameterDict")
        for key, value in pairs:
            self[key] = value

    def __or__(self, other):
        out = self.copy()
        out.update(other)
        return out

    def __ror__(self, other):
        out = other.copy()
        out.update(self)
        return out

    def __ior__(self, other):
        self.update(other)
        return self

    def extra_repr(self):
        lines = []
        for k, p in self.items():
            if isinstance(p, Tensor):
                lines.append(f"  ({k}): " + _tensor_line(
                    p, lambda t: _TYPE_NAMES.get(str(t.dtype), str(t.dtype))))
            else:
                lines.append(f"  ({k}): Object of type: {type(p).__name__}")
        return "\n".join(lines)
