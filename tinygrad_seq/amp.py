"""``ts.amp``, as ``torch.amp``: the gradient scaler of mixed-precision training.

nanoGPT's train.py makes ``GradScaler(enabled=(dtype == 'float16'))`` and always goes
through it (``scaler.scale(loss).backward()``, ``scaler.unscale_(optimizer)``,
``scaler.step(optimizer)``, ``scaler.update()``); disabled, each call passes through.
Enabled, it follows torch's dynamic loss scaling: the loss is multiplied by the scale,
``unscale_`` divides the gradients by it and notes whether any is inf or nan, ``step``
skips the optimizer's step when one was, and ``update`` halves the scale after such a
step (``backoff_factor``) or doubles it after ``growth_interval`` good steps in a row.
There is no ``autocast``: this framework has no bfloat16, and float16 is chosen by
the tensors' dtypes.
"""
import math

from . import backend
from .autograd import Tensor
from .modes import no_grad


def _f32(x):
    """The scale is kept in float32, as torch keeps it (a float32 tensor)."""
    np = backend.xp("cpu")
    with np.errstate(over="ignore"):
        return float(np.float32(x))


class GradScaler:
    """torch.amp.GradScaler(device="cuda", init_scale=2.0 ** 16, growth_factor=2.0,
    backoff_factor=0.5, growth_interval=2000, enabled=True)."""

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0,
                 backoff_factor=0.5, growth_interval=2000, enabled=True):
        if growth_factor <= 1.0:
            raise ValueError("GradScaler: growth_factor should be > 1")
        if not 0.0 < backoff_factor < 1.0:
            raise ValueError("GradScaler: backoff_factor should be < 1 and > 0")
        if not isinstance(growth_interval, int) or growth_interval <= 0:
            raise ValueError("GradScaler: growth_interval should be a positive int")
        self._device = device
        self._enabled = bool(enabled)
        self._scale = _f32(init_scale)
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = growth_interval
        self._growth_tracker = 0
        self._per_optimizer = {}        # id(optimizer) -> {"unscaled": bool, "found_inf": bool}

    def is_enabled(self):
        return self._enabled

    def get_scale(self):
        return self._scale if self._enabled else 1.0

    def scale(self, outputs):
        """`outputs` (a Tensor, or lists/tuples of them) times the scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            return outputs * self._scale
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        raise TypeError(f"GradScaler.scale: outputs must be a Tensor or an iterable of "
                        f"Tensors, got {type(outputs).__name__}")

    def _state(self, optimizer):
        return self._per_optimizer.setdefault(id(optimizer), {"unscaled": False,
                                                              "found_inf": False})

    def unscale_(self, optimizer):
        """Divide the gradients of `optimizer`'s parameters by the scale, in place, and
        note whether any is inf or nan (once per optimizer between updates)."""
        if not self._enabled:
            return
        state = self._state(optimizer)
        if state["unscaled"]:
            raise RuntimeError("unscale_() has already been called on this optimizer since "
                               "the last update().")
        inv = _f32(1.0 / self._scale)             # as torch, in float32
        found_inf = False
        with no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    g = p.grad
                    if g is None:
                        continue
                    array = g.array if isinstance(g, Tensor) else g.values   # row-sparse
                    array *= inv
                    if isinstance(g, Tensor):
                        g._version[0] += 1
                    if not found_inf:
                        found_inf = not bool(backend.array_module(array).isfinite(array).all())
        state["unscaled"], state["found_inf"] = True, found_inf

    def step(self, optimizer, *args, **kwargs):
        """unscale_ (if not done yet), then optimizer.step() unless a gradient was inf
        or nan; returns what step returned (None when skipped)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        state = self._state(optimizer)
        if not state["unscaled"]:
            self.unscale_(optimizer)
        if state["found_inf"]:
            return None
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None):
        """Back off after a step with inf/nan gradients, grow after growth_interval good
        ones (or set `new_scale`); then start the next iteration."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = _f32(new_scale.item() if isinstance(new_scale, Tensor) else new_scale)
        elif not self._per_optimizer:
            raise RuntimeError("No inf checks were recorded prior to update.")
        elif any(s["found_inf"] for s in self._per_optimizer.values()):
            self._scale = _f32(self._scale * self._backoff_factor)
            self._growth_tracker = 0
        else:
            self._growth_tracker += 1
            if self._growth_tracker == self._growth_interval:
                grown = _f32(self._scale * self._growth_factor)
                if math.isfinite(grown):
                    self._scale = grown
                self._growth_tracker = 0
        self._per_optimizer = {}

    def state_dict(self):
        if not self._enabled:
            return {}
        return {"scale": self._scale, "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        if not state_dict:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._scale = _f32(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])
