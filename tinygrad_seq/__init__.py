"""tinygrad_seq: a small deep-learning framework for sequence models.

    import tinygrad_seq as ts
    x = ts.tensor([[1., 2.], [3., 4.]], requires_grad=True)
    (x @ x.T).tanh().sum().backward()
    x.grad
"""
from . import backend
from . import autograd  # noqa: E402  (ts.autograd: torch.autograd's names, attached below)
from .autograd import Tensor, grad
from .size import Size
from .function import Function, FunctionCtx, Variable, once_differentiable
from .modes import (detect_anomaly, enable_grad, inference_mode, is_anomaly_enabled,
                    is_grad_enabled, is_inference_mode_enabled, no_grad, set_detect_anomaly,
                    set_grad_enabled)
from .backend import (bool_, float16, float32, float64, get_default_dtype, int32, int64,
                      set_default_dtype)
from .creation import (arange, as_tensor, empty, eye, full, full_like, linspace, manual_seed,
                       ones, ones_like, rand, rand_like, randint, randn, randn_like, tensor,
                       zeros, zeros_like)
from .errors import (AutogradError, DeviceError, DTypeError, GradcheckError, OutOfRangeError,
                     SerializationError, ShapeError, TinygradSeqError)
from .gradcheck import gradcheck, gradgradcheck
from . import cuda, memory, random  # noqa: E402  (ts.cuda queries, ts.memory: the array pool, ts.Generator)
from .backend import Device as device  # noqa: E402  ts.device("cuda:0"), as torch.device
from .random import (Generator, default_generator, get_rng_state, initial_seed,  # noqa: E402
                     manual_seed, seed, set_rng_state)
from .tensor import cat, stack, where
from . import functional, nn, viz  # noqa: E402  (after the Tensor API is attached)
from .io import load, save  # noqa: E402  (ts.save / ts.load, no pickle)
from .safetensors_io import (load_safetensors, load_safetensors_metadata,  # noqa: E402
                              save_safetensors)
from . import decoding, metrics, optim, sparse, word2vec  # noqa: E402
from . import amp, backends  # noqa: E402  (ts.amp.GradScaler; ts.backends' switches)
from .torch_functions import (  # noqa: E402,A004  PyTorch's top-level names
    BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor, IntTensor,
    LongTensor, ShortTensor, abs, addmm, allclose, amax, amin, argmax, argmin, argsort,
    baddbmm, bernoulli, bmm, ceil, chunk, clamp, clip, clone, cos, cumprod, cumsum, diag, dot,
    einsum, empty_like, eq, equal, erf, exp, flatten, flip, floor, from_numpy, gather, ge, ger,
    gt, index_select, is_floating_point, is_tensor, isclose, isfinite, isinf, isnan, le, log,
    log1p, log_softmax, logsumexp, lt, masked_fill, masked_select, matmul, max, maximum, mean,
    min, minimum, mm, multinomial, nan_to_num, narrow, ne, nonzero, norm, normal, numel, outer,
    permute, pow, prod, randperm, relu, repeat_interleave, reshape, roll, round, rsqrt, scatter,
    scatter_add, sigmoid, sin, softmax, sort, split, sqrt, squeeze, std, sum, swapaxes,
    swapdims, t, tanh, topk, transpose, tril, triu, unbind, unflatten, unsqueeze, var, xlogy)
from . import utils  # noqa: E402  (ts.utils.data: Dataset, DataLoader, ...)

bool = bool_  # noqa: A001  ts.bool as in PyTorch
concat = cat


def default_device():
    """The device of new tensors ("cpu" or "cuda"): TINYGRAD_SEQ_DEVICE at import, or
    what ``set_default_device`` gave the calling thread."""
    return backend.current_device()


set_default_device = backend.set_default_device


def get_default_device():
    """``torch.get_default_device``: the device of new tensors in this thread, as a
    ``ts.device``."""
    return device(backend.current_device())


# dtype aliases as torch's (ts.long, ts.float, ...); last, as they shadow builtins here
long, int, float, double, half = int64, int32, float32, float64, float16  # noqa: A001
uint8, int8, int16 = backend.dtype("uint8"), backend.dtype("int8"), backend.dtype("int16")
short = int16

# torch.autograd's names on ts.autograd (the engine module), attached last so that the
# engine imports nothing from the modules built on it
autograd.Function, autograd.FunctionCtx = Function, FunctionCtx
autograd.gradcheck, autograd.gradgradcheck = gradcheck, gradgradcheck
autograd.detect_anomaly, autograd.set_detect_anomaly = detect_anomaly, set_detect_anomaly
autograd.no_grad, autograd.enable_grad, autograd.set_grad_enabled = (no_grad, enable_grad,
                                                                      set_grad_enabled)
autograd.inference_mode = inference_mode
autograd.Variable = Variable

__version__ = "0.1.0"
