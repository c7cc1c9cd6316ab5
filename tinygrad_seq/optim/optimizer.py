"""The Optimizer base class: parameter groups, state, zero_grad, step, state_dict.

PyTorch's structure, so that habits and checkpoints carry over:

- ``param_groups`` is a list of dicts, each with ``"params"`` (a list of leaf Tensors)
  and the options of the optimizer, missing ones filled from its defaults;
- ``state`` maps a parameter to a dict of its state (``momentum_buffer``, ``exp_avg``,
  ``step``, ...), the values being Tensors;
- ``state_dict()`` gives ``{"state": {index: {...}}, "param_groups": [{..., "params":
  [indices]}]}`` with the parameters numbered in the order of the groups, and
  ``load_state_dict`` maps those numbers back onto this optimizer's parameters.

Updates run on the arrays in place (``p.array``), outside the graph, and bump each
parameter's version counter so that a graph that saved the old value notices.
"""
from .. import backend
from ..autograd import Tensor, as_array
from ..modes import enable_grad, no_grad
from ..errors import DTypeError, ShapeError
from ..sparse_grad import SparseGrad


class Optimizer:
    """Base class: subclasses pass their defaults and implement ``_update(group)``,
    which updates every parameter of one group that has a gradient."""

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = {}
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors or "
                            "of dicts, got a Tensor (wrap it in a list)")
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{type(self).__name__}: params must be an ordered collection (a "
                            "list), not a set: the order of the state_dict depends on it")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"

    # ---- groups
    def add_param_group(self, param_group):
        """Add a dict with ``"params"`` and options (the defaults fill the rest)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"add_param_group: expected a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise KeyError("add_param_group: the group has no 'params'")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError("add_param_group: params must be an ordered collection (a list), "
                            "not a set: the order of the state_dict depends on it")
        params = list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: parameter {i} is a "
                                f"{type(p).__name__}, not a Tensor")
            if not backend.is_float(p.dtype):
                raise DTypeError(f"{type(self).__name__}: parameter {i} has dtype {p.dtype}; "
                                 "only float tensors can be optimized")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__}: parameter {i} (shape {tuple(p.shape)}) "
                                 "is not a leaf tensor; optimize the leaves it was computed from")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{type(self).__name__}: a parameter appears twice in one group")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(f"{type(self).__name__}: some parameters appear in more than one "
                             "parameter group")
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group):
        """Validate a group's options (subclasses: the same checks as their __init__)."""

    # ---- gradients and steps
    def zero_grad(self, set_to_none=True):
        """Reset the gradients: to None (default), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif isinstance(g, SparseGrad):
                    g.zero_()
                else:
                    g.array[...] = 0
                    g._version[0] += 1

    def step(self, closure=None):
        """One update of every parameter that has a gradient. `closure`, if given,
        re-evaluates the model (with grad enabled) and returns the loss, which step
        returns."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                self._update(group)
        return loss

    def _update(self, group):
        raise NotImplementedError

    def _state(self, p):
        s = self.state.get(p)
        if s is None:
            s = self.state[p] = {}
        return s

    @staticmethod
    def _write(p):
        """After changing p.array in place: bump the version counter."""
        p._version[0] += 1

    # ---- checkpoints
    def state_dict(self):
        """``{"state": {index: {name: Tensor or number}}, "param_groups": [{options...,
        "params": [indices]}]}`` as PyTorch (the state's Tensors are the optimizer's own,
        not copies: copy or save them before training on)."""
        index, groups = {}, []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load a state_dict of an optimizer of the same kind over the same parameters
        (the same number of groups and of parameters per group). State values
        (Tensors or arrays) are copied, floating ones cast to their parameter's dtype and
        device (``step`` keeps its dtype)."""
        try:
            saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
        except (KeyError, TypeError):
            raise ValueError("load_state_dict: expected a dict with 'state' and 'param_groups'") from None
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"load_state_dict: the state dict has {len(saved_groups)} parameter "
                             f"groups, the optimizer {len(self.param_groups)}")
        for i, (g, s) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(f"load_state_dict: parameter group {i} has {len(s['params'])} "
                                 f"parameters in the state dict but {len(g['params'])} here")
        by_index = {}
        for g, s in zip(self.param_groups, saved_groups):
            for p, i in zip(g["params"], s["params"]):
                by_index[int(i)] = p
        state = {}
        for key, values in saved_state.items():
            p = by_index.get(int(key))
            if p is None:
                continue
            state[p] = {name: self._load_value(p, name, v) for name, v in values.items()}
        groups = []
        for g, s in zip(self.param_groups, saved_groups):
            new = {k: v for k, v in s.items() if k != "params"}
            if isinstance(new.get("betas"), list):
                new["betas"] = tuple(new["betas"])
            new["params"] = g["params"]
            groups.append(new)
        self.param_groups = groups
        self.state = state

    @staticmethod
    def _load_value(p, name, value):
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if not (isinstance(value, Tensor) or backend.is_array(value)):
            return value
        array = value.array if isinstance(value, Tensor) else value
        dtype = array.dtype if (name == "step" or not backend.is_float(array.dtype)) else p.dtype
        array = as_array(array, dtype=dtype, device=p.device, copy=True)
        if name != "step" and array.ndim and tuple(array.shape) != tuple(p.shape):
            raise ShapeError(f"load_state_dict: state {name!r} has shape {tuple(array.shape)} "
                             f"but its parameter has shape {tuple(p.shape)}")
        return Tensor._make(array)


def check_sparse(p, g, optimizer, hint):
    """Raise the error of an optimizer that cannot use a row-sparse gradient."""
    if isinstance(g, SparseGrad):
        raise RuntimeError(f"{optimizer} does not support sparse gradients (a parameter of "
                           f"shape {tuple(p.shape)} has a RowSparseGrad); {hint}")


def dense_grad(g):
    """The gradient's array (a row-sparse one made dense)."""
    return g.dense_array() if isinstance(g, SparseGrad) else g.array
