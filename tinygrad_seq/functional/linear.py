"""``linear`` (torch.nn.functional.linear): y = x W^T + b."""
from ..errors import ShapeError
from ..tensor import tensor_arg


def linear(input, weight, bias=None):
    """input (*, in) @ weight^T with weight (out, in), plus bias (out,) (or a scalar /
    anything broadcasting), as torch; a 1-D weight (in,) gives (*)."""
    x = tensor_arg(input, "linear")
    w = tensor_arg(weight, "linear", "weight", like=x) if weight is not None else None
    if w is None or w.ndim not in (1, 2):
        raise ShapeError(f"linear: weight must be 1-D or 2-D, got "
                         f"{None if w is None else tuple(w.shape)}")
    if x.ndim == 0 or x.shape[-1] != w.shape[-1]:
        raise ShapeError(f"linear: input shape {tuple(x.shape)} does not match weight shape "
                         f"{tuple(w.shape)} (in_features = {w.shape[-1]})")
    if w.ndim == 1:
        y = x @ w
    elif x.ndim > 2:
        lead = tuple(x.shape[:-1])        # one GEMM for (N, T, in), as nn.Linear
        y = (x.reshape(-1, x.shape[-1]) @ w.mT).reshape(lead + (w.shape[0],))
    else:
        y = x @ w.mT
    if bias is not None:
        y = y + tensor_arg(bias, "linear", "bias", like=x)
    return y
