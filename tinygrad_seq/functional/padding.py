"""``pad`` (torch.nn.functional.pad): constant, reflect, replicate and circular
padding, composed from slices, concatenation and index reads, so differentiable to
any order."""
from .. import backend
from ..autograd import Tensor
from ..creation import full
from ..errors import ShapeError
from ..tensor import cat, tensor_arg

_MODES = ("constant", "reflect", "replicate", "circular")
_NON_CONSTANT_HELP = (
    "Supported combinations for non-constant padding:\n"
    "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
    "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
    "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")


def _narrow(x, axis, start, length):
    if length < 0:
        raise ShapeError("narrow(): length must be non-negative.")
    index = (slice(None),) * axis + (slice(start, start + length),)
    return x[index]


def _pad_constant(x, axis, left, right, value):
    if left < 0 or right < 0:
        n = x.shape[axis]
        start, stop = max(-left, 0), n - max(-right, 0)
        x = _narrow(x, axis, start, stop - start)
    parts = []
    for amount in (left, right):
        if amount > 0:
            shape = list(x.shape)
            shape[axis] = amount
            parts.append(full(tuple(shape), value, dtype=x.dtype, device=x.device))
        else:
            parts.append(None)
    pieces = [p for p in (parts[0], x, parts[1]) if p is not None]
    return pieces[0] if len(pieces) == 1 else cat(pieces, axis=axis)


def _pad_indexed(x, axis, left, right, mode, dim_number):
    """Pad one axis by reading x at indices: reflect, replicate or circular."""
    mod = backend.xp("cpu")
    if mode == "circular" and (left < 0 or right < 0):   # torch crops, then wraps the rest
        n = x.shape[axis]
        start, stop = max(-left, 0), n - max(-right, 0)
        x = _narrow(x, axis, start, stop - start)
        left, right = max(left, 0), max(right, 0)
    n = x.shape[axis]          # reflect, replicate: a negative amount crops, output
    #                            position j reads input position j - left
    if mode == "reflect" and (left >= n or right >= n):
        raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding "
                           f"input dimension, but got: padding ({left}, {right}) at dimension "
                           f"{dim_number} of input {list(x.shape)}")
    if mode == "circular" and (left > n or right > n):
        raise RuntimeError("Padding value causes wrapping around more than once.")
    if mode == "replicate" and n == 0 and (left or right):
        raise RuntimeError("padding: cannot replicate an empty dimension")
    if n + left + right < 0:
        raise RuntimeError(f"padding: the padded size {n + left + right} of dimension "
                           f"{dim_number} is negative")
    pos = mod.arange(-left, n + right)
    if mode == "reflect":
        period = 2 * (n - 1) if n > 1 else 1
        pos = mod.abs(pos) % period
        pos = mod.where(pos >= n, period - pos, pos)
    elif mode == "replicate":
        pos = mod.clip(pos, 0, n - 1)
    else:
        pos = pos % n
    index = (slice(None),) * axis + (backend.to_device(pos, x.device),)
    return x[index]


def pad(input, pad, mode="constant", value=None):
    """Pad `input` by `pad` = (left, right) of the last dim, then of the one before, ...
    (as torch: ``pad[2*i], pad[2*i+1]`` for dim ``-1-i``). mode 'constant' fills with
    `value` (default 0; negative amounts crop), 'reflect' mirrors without repeating the
    edge, 'replicate' repeats the edge, 'circular' wraps around; the non-constant modes
    pad the last 1-3 dims of a batched or unbatched input, as torch."""
    x = tensor_arg(input, "pad")
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > x.ndim:
        raise RuntimeError("Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension "
                           f"{x.ndim}")
    if mode not in _MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if mode != "constant":
        if value is not None and value != 0:
            raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
        k = len(pad) // 2
        if k not in (1, 2, 3) or x.ndim not in (k + 1, k + 2):
            raise NotImplementedError(f"Padding size {len(pad)} is not supported for "
                                      f"{x.ndim}D input tensor.\n{_NON_CONSTANT_HELP}")
    fill = 0 if value is None else value
    for i in range(len(pad) // 2):
        axis = x.ndim - 1 - i
        left, right = pad[2 * i], pad[2 * i + 1]
        if left == 0 and right == 0:
            continue
        if mode == "constant":
            x = _pad_constant(x, axis, left, right, fill)
        else:
            x = _pad_indexed(x, axis, left, right, mode, axis)
    return x if isinstance(x, Tensor) else Tensor._make(x)
