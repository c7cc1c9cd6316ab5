"""``torch.nn.utils``' names: gradient clipping (the same functions as
``tinygrad_seq.optim``'s), parameters as one vector, and ``rnn`` (packed sequences)."""
from ...autograd import Tensor
from ...errors import ShapeError
from ...modes import no_grad
from ...optim.clip import clip_grad_norm_, clip_grad_value_
from ...tensor import cat
from . import rnn

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters", "rnn"]


def _params(parameters, op):
    if isinstance(parameters, Tensor):
        return [parameters]
    parameters = list(parameters)
    for p in parameters:
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: expected Tensors, got {type(p).__name__}")
    return parameters


def parameters_to_vector(parameters):
    """One 1-D tensor of every parameter's values, flattened and concatenated in order
    (differentiable, as torch's)."""
    params = _params(parameters, "parameters_to_vector")
    if not params:
        raise ShapeError("parameters_to_vector: expected at least one parameter")
    devices = {p.device for p in params}
    if len(devices) > 1:
        raise TypeError(f"parameters_to_vector: parameters are on several devices: {sorted(devices)}")
    return cat([p.reshape(-1) for p in params], axis=0)


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D tensor `vec` into the parameters, in order
    (in place, not recorded in the graph, as torch's ``param.data = ...``)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    if vec.ndim != 1:
        raise ShapeError(f"vector_to_parameters: expected a 1-D vector, got shape "
                         f"{tuple(vec.shape)}")
    params = _params(parameters, "vector_to_parameters")
    total = sum(p.numel() for p in params)
    if total != vec.shape[0]:
        raise ShapeError(f"vector_to_parameters: the vector has {vec.shape[0]} elements, the "
                         f"parameters {total}")
    offset = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.copy_(vec[offset:offset + n].reshape(p.shape))
            offset += n
