"""Recurrent cells and layers with torch.nn's names, parameters, shapes and return values:
``RNNCell``, ``GRUCell``, ``LSTMCell`` (one step) and ``RNN``, ``GRU``, ``LSTM`` (whole
sequences, stacked layers, both directions).

Every module runs one fused primitive per layer and direction
(``ops/rnn/``: RNNSequence, GRUSequence, LSTMSequence; a cell is a sequence of one
step) unless it is built with ``fused=False`` (or the attribute is set later), which
runs the same computation composed from Tensor primitives, step by step: slower, but
every gate is a node you can see in the graph (``ts.viz.to_dot``).

Variable-length batches: ``forward(input, hx, lengths=...)`` with each sequence's true
length (padding at the end, in any order) gives zeros past each sequence's end (as
PyTorch's ``pad_packed_sequence(..., total_length=T)``) and final states taken at each
sequence's true end, in both directions: the reverse direction starts at each
sequence's own last element.

Truncated backpropagation through time: carry the final state into the next chunk of a
long sequence, cut from the graph of the chunk before with ``.detach()``, so that each
backward covers one chunk and memory stays flat::

    lstm = nn.LSTM(8, 16)
    state = None
    for chunk, target in chunks:              # chunk: (T, N, 8), consecutive pieces
        out, state = lstm(chunk, state)
        loss = ((out - target) ** 2).mean()
        loss.backward()
        optimizer.step(); optimizer.zero_grad()
        state = tuple(s.detach() for s in state)   # GRU/RNN: state = state.detach()
"""
import math
import warnings

from .. import backend
from ..autograd import Tensor
from ..checks import (check_nonnegative_int, check_positive_int, check_probability)
from ..creation import empty, zeros
from ..errors import DTypeError, ShapeError
from ..functional import dropout as _dropout
from ..ops.rnn import (GRUSequence, LSTMSequence, RNNSequence, gru_reference, lstm_reference,
                       rnn_reference)
from ..tensor import cat, stack
from . import init
from .module import Module, Parameter
from .utils.rnn import PackedSequence, _pack_like, pad_packed_sequence

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}


def _run(mode, x, states, weights, mask, reverse, fused, reset_after, projection=False):
    """One direction of one layer over x (T, N, I): (output, h_T) or (output, h_T, c_T).
    `weights` is (w_ih, w_hh) or (w_ih, w_hh, b_ih, b_hh), then w_hr with `projection`
    (the LSTM with proj_size)."""
    if mode == "LSTM":
        if fused:
            return LSTMSequence.apply(x, *states, *weights, mask=mask, reverse=reverse,
                                      projection=projection)
        return lstm_reference(x, *states, *weights, mask=mask, reverse=reverse,
                              projection=projection)[:3]
    if mode == "GRU":
        if fused:
            return GRUSequence.apply(x, *states, *weights, mask=mask, reverse=reverse,
                                     reset_after=reset_after)
        return gru_reference(x, *states, *weights, mask=mask, reverse=reverse,
                             reset_after=reset_after)[:2]
    nonlinearity = "tanh" if mode == "RNN_TANH" else "relu"
    if fused:
        return RNNSequence.apply(x, *states, *weights, mask=mask, reverse=reverse,
                                 nonlinearity=nonlinearity)
    return rnn_reference(x, *states, *weights, mask=mask, reverse=reverse,
                         nonlinearity=nonlinearity)[:2]


def _as_input(x, name):
    if not isinstance(x, Tensor):
        if backend.is_array(x):
            return Tensor._make(x)
        raise TypeError(f"{name}: expected a Tensor input, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise DTypeError(f"{name}: expected a float input, got {x.dtype}")
    return x


def _state(h, shape, like, name, what):
    """A given state checked against `shape`, or zeros of it."""
    if h is None:
        return zeros(shape, dtype=like.dtype, device=like.device)
    if not isinstance(h, Tensor):
        h = Tensor._make(backend.xp(like.device).asarray(h))
    if tuple(h.shape) != tuple(shape):
        raise ShapeError(f"{name}: expected {what} of shape {tuple(shape)}, got {tuple(h.shape)}")
    return h


def _lengths_mask(lengths, T, N, device, name):
    """The (T, N) bool mask t < lengths[n], or None when every sequence is T long."""
    if lengths is None:
        return None
    if isinstance(lengths, Tensor):
        lengths = lengths.array
    host = backend.to_numpy(lengths) if backend.is_array(lengths) else backend.host_array(lengths)
    if host.ndim != 1 or host.shape[0] != N:
        raise ShapeError(f"{name}: lengths must be a 1-D sequence of {N} lengths (one per "
                         f"batch element), got shape {tuple(host.shape)}")
    if N and host.dtype.kind not in "iu":
        if host.dtype.kind != "f" or not (host == host.round()).all():
            raise DTypeError(f"{name}: lengths must be integers, got {host.dtype}")
    if N and (host.min() < 0 or host.max() > T):
        raise ShapeError(f"{name}: lengths must be between 0 and the sequence length {T}, "
                         f"got {host.tolist()}")
    if N == 0 or (host == T).all():
        return None
    mask = backend.xp("cpu").arange(T)[:, None] < host[None, :]
    return backend.to_device(mask, device)


# ---------------------------------------------------------------- cells

def _check_sizes(name, input_size, hidden_size):
    """(input_size, hidden_size) as ints: input_size >= 0, hidden_size >= 1 (PyTorch
    refuses a hidden size of 0)."""
    return (check_nonnegative_int(input_size, "input_size", name),
            check_positive_int(hidden_size, "hidden_size", name))


class RNNCellBase(Module):
    """Parameters of one cell: weight_ih (G*H, I), weight_hh (G*H, H), bias_ih and
    bias_hh (G*H,), all U(-1/sqrt(H), 1/sqrt(H)) as in PyTorch."""
    def __init__(self, mode, input_size, hidden_size, bias=True, *, fused=True, dtype=None,
                 device=None):
        super().__init__()
        self.mode = mode
        self.input_size, self.hidden_size = _check_sizes(type(self).__name__, input_size,
                                                         hidden_size)
        self.bias, self.fused = bias, fused
        rows = _GATES[self.mode] * hidden_size
        self.weight_ih = Parameter(empty(rows, input_size, dtype=dtype, device=device))
        self.weight_hh = Parameter(empty(rows, hidden_size, dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(empty(rows, dtype=dtype, device=device))
            self.bias_hh = Parameter(empty(rows, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _weights(self):
        w = (self.weight_ih, self.weight_hh)
        return w + (self.bias_ih, self.bias_hh) if self.bias else w

    def _step(self, input, states):
        """(x (N, I) or (I,), states) -> the outputs of one step, unbatched as given."""
        name = type(self).__name__
        x = _as_input(input, name)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ShapeError(f"{name}: expected input of shape (N, {self.input_size}) or "
                             f"({self.input_size},), got {tuple(x.shape)}")
        batched = x.ndim == 2
        N = x.shape[0] if batched else 1
        shape = (N, self.hidden_size) if batched else (self.hidden_size,)
        states = [_state(h, shape, x, name, "a hidden state") for h in states]
        if not batched:
            states = [h.reshape(1, self.hidden_size) for h in states]
        out = _run(self.mode, x.reshape(1, N, self.input_size), states, self._weights(), None,
                   False, self.fused, getattr(self, "reset_after", True))
        results = out[1:]
        return results if batched else tuple(h.reshape(self.hidden_size) for h in results)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        return s if self.bias else s + ", bias=False"


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu): the notes'
    a<t> = tanh(W_a [a<t-1>; x<t>] + b_a) with W_a = [weight_hh | weight_ih] and
    b_a = bias_ih + bias_hh. forward(input (N, I) or (I,), hx=None) -> h'."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", **kwargs):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, bias, **kwargs)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        return self._step(input, [hx])[0]

    def extra_repr(self):
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + f", nonlinearity={self.nonlinearity!r}"


class GRUCell(RNNCellBase):
    """Gates r, z, n (weight rows in that order):
    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr),  z = sigmoid(W_iz x + b_iz + W_hz h + b_hz),
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))   (reset_after=True, PyTorch's GRU)
    n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)   (reset_after=False, the notes' full
                                                     GRU: the relevance gate first),
    h' = (1 - z) * n + z * h. forward(input, hx=None) -> h'."""
    def __init__(self, input_size, hidden_size, bias=True, reset_after=True, **kwargs):
        super().__init__("GRU", input_size, hidden_size, bias, **kwargs)
        self.reset_after = reset_after

    def forward(self, input, hx=None):
        return self._step(input, [hx])[0]


class LSTMCell(RNNCellBase):
    """Gates i, f, g, o (weight rows in that order): [i, f, g, o] = x W_ih^T + b_ih +
    h W_hh^T + b_hh, i, f, o = sigmoid, g = tanh; c' = f * c + i * g, h' = o * tanh(c').
    forward(input, hx=None or (h, c)) -> (h', c')."""

    def __init__(self, input_size, hidden_size, bias=True, **kwargs):
        super().__init__("LSTM", input_size, hidden_size, bias, **kwargs)

    def forward(self, input, hx=None):
        if hx is None:
            hx = (None, None)
        elif not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError("LSTMCell: hx must be a tuple (h, c)")
        return self._step(input, list(hx))


# ---------------------------------------------------------------- layers

class RNNBase(Module):
    """Stacked, optionally bidirectional recurrent layers (PyTorch's RNNBase).

    Parameters per layer k and direction: ``weight_ih_l{k}`` (G*H, I for k = 0, else
    D*H), ``weight_hh_l{k}`` (G*H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (G*H,), the
    second direction with the suffix ``_reverse``; all U(-1/sqrt(H), 1/sqrt(H)). LSTM
    with ``proj_size`` P > 0 (see LSTM): H_out = P replaces H in the shapes of h and of
    weight_hh (G*H, P) and in the next layer's input (D*P), and ``weight_hr_l{k}``
    (P, H) follows the biases.

    forward(input, hx=None, *, lengths=None):
    - input (T, N, I), or (N, T, I) with batch_first, or unbatched (T, I), or a
      PackedSequence (``nn.utils.rnn``): then the output is a PackedSequence packed as
      the input, and h_n is in the batch's original order, as torch;
    - hx: h0 (D*num_layers, N, H_out) (unbatched (D*num_layers, H_out)); LSTM: (h0, c0)
      with c0 (D*num_layers, N, H); zeros when None. H_out = proj_size if > 0, else H;
    - lengths: None, or the true length of each of the N sequences (a list, array or
      Tensor) for a padded batch;
    returns output (T, N, D*H_out) (batch_first: (N, T, D*H_out)) and h_n
    (D*num_layers, N, H_out) (LSTM: (h_n, c_n), c_n with H), whatever batch_first is.
    Dropout with probability `dropout` is applied to the outputs of every layer but the
    last, in training mode only.
    """
    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0, *, fused=True,
                 dtype=None, device=None):
        super().__init__()
        self.mode = mode
        name = type(self).__name__
        input_size, hidden_size = _check_sizes(name, input_size, hidden_size)
        num_layers = check_positive_int(num_layers, "num_layers", name)
        dropout = check_probability(dropout, "dropout", name)
        if mode != "LSTM" and proj_size != 0:
            raise ValueError(f"{name}: proj_size argument is only supported for LSTM, not RNN "
                             "or GRU")
        if not isinstance(proj_size, int) or isinstance(proj_size, bool):
            raise TypeError(f"{name}: proj_size should be of type int, got "
                            f"{type(proj_size).__name__}")
        if proj_size < 0:
            raise ValueError(f"{name}: proj_size should be a positive integer or zero to "
                             f"disable projections, got {proj_size}")
        if proj_size and proj_size >= hidden_size:
            raise ValueError(f"{name}: proj_size has to be smaller than hidden_size, got "
                             f"proj_size={proj_size}, hidden_size={hidden_size}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout={dropout} acts between layers only; with "
                          "num_layers=1 it does nothing", stacklevel=2)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.fused = bool(bidirectional), fused
        self.proj_size = proj_size
        D = 2 if bidirectional else 1
        rows = _GATES[self.mode] * hidden_size
        h_out = proj_size if proj_size > 0 else hidden_size
        self._names = []
        for k in range(num_layers):
            cols = input_size if k == 0 else D * h_out
            for suffix in ("", "_reverse")[:D]:
                names = [f"weight_ih_l{k}{suffix}", f"weight_hh_l{k}{suffix}"]
                setattr(self, names[0], Parameter(empty(rows, cols, dtype=dtype, device=device)))
                setattr(self, names[1], Parameter(empty(rows, h_out, dtype=dtype,
                                                        device=device)))
                if bias:
                    names += [f"bias_ih_l{k}{suffix}", f"bias_hh_l{k}{suffix}"]
                    setattr(self, names[2], Parameter(empty(rows, dtype=dtype, device=device)))
                    setattr(self, names[3], Parameter(empty(rows, dtype=dtype, device=device)))
                if proj_size > 0:
                    names.append(f"weight_hr_l{k}{suffix}")
                    setattr(self, names[-1], Parameter(empty(proj_size, hidden_size, dtype=dtype,
                                                             device=device)))
                self._names.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    # torch's names for the weights in layer order, which user code reads (d2l's
    # init_seq2seq walks `_flat_weights_names`; word_language_model calls
    # `flatten_parameters()` after loading a state dict)
    @property
    def _all_weights(self):
        """The parameter names per layer and direction, as lists (torch's _all_weights)."""
        return [list(names) for names in self._names]

    @property
    def _flat_weights_names(self):
        """Every parameter name in layer order, one flat list (torch's)."""
        return [n for names in self._names for n in names]

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        """The parameters per layer and direction, as lists of Parameters (torch's)."""
        return [[getattr(self, n) for n in names] for names in self._names]

    def flatten_parameters(self):
        """A no-op, as torch's is off cuDNN: the weights are always used where they are."""
        return None

    def _check_input(self, input, batch_first):
        name = type(self).__name__
        x = _as_input(input, name)
        if x.ndim not in (2, 3):
            raise ShapeError(f"{name}: expected a 3-D (batched) or 2-D (unbatched) input, got "
                             f"shape {tuple(x.shape)}")
        if x.shape[-1] != self.input_size:
            raise ShapeError(f"{name}: expected input with {self.input_size} features (last "
                             f"dim), got shape {tuple(x.shape)}")
        if x.shape[1 if x.ndim == 3 and batch_first else 0] == 0:
            raise ShapeError(f"{name}: the input has no time steps (shape {tuple(x.shape)})")
        return x

    def forward(self, input, hx=None, *, lengths=None):
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx, lengths)
        return self._forward(input, hx, lengths, self.batch_first)

    def _forward(self, input, hx, lengths, batch_first):
        name = type(self).__name__
        x = self._check_input(input, batch_first)
        batched = x.ndim == 3
        D, L, H = (2 if self.bidirectional else 1), self.num_layers, self.hidden_size
        P = getattr(self, "proj_size", 0) or H     # the size of h (H_out)
        if not batched:
            if lengths is not None:
                raise ShapeError(f"{name}: lengths= needs a batched (3-D) input")
            x = x.reshape(x.shape[0], 1, x.shape[1])
        elif batch_first:
            x = x.transpose(0, 1)
        T, N = x.shape[0], x.shape[1]
        n_states = 2 if self.mode == "LSTM" else 1
        if hx is None:
            hx = (None,) * n_states
        elif self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{name}: hx must be a tuple (h0, c0)")
        else:
            hx = (hx,)
        widths = (P, H)[:n_states]                  # h, then c
        states = [_state(h, (D * L, N, w) if batched else (D * L, w), x, name,
                         "an initial state") for h, w in zip(hx, widths)]
        if not batched:
            states = [h.reshape(D * L, 1, w) for h, w in zip(states, widths)]
        mask = _lengths_mask(lengths, T, N, x.device, name)
        reset_after = getattr(self, "reset_after", True)
        finals = [[] for _ in range(n_states)]
        layer_input = x
        for k in range(L):
            outputs = []
            for d in range(D):
                j = k * D + d
                weights = tuple(getattr(self, n) for n in self._names[j])
                out = _run(self.mode, layer_input, [s[j] for s in states], weights, mask,
                           d == 1, self.fused, reset_after, P != H)   # P < H: proj_size
                outputs.append(out[0])
                for s, final in zip(finals, out[1:]):
                    s.append(final)
            layer_input = outputs[0] if D == 1 else cat(outputs, axis=-1)
            if self.dropout > 0 and self.training and k < L - 1:
                layer_input = _dropout(layer_input, self.dropout)
        output = layer_input
        finals = [stack(s, axis=0) for s in finals]
        if not batched:
            output = output.reshape(T, D * P)
            finals = [s.reshape(D * L, w) for s, w in zip(finals, widths)]
        elif batch_first:
            output = output.transpose(0, 1)
        return output, (tuple(finals) if self.mode == "LSTM" else finals[0])

    def _forward_packed(self, input, hx, lengths):
        """A PackedSequence in, a PackedSequence out (packed as the input) and the
        final states in the original order, as torch: run as the padded batch (original
        order, longest length steps) with lengths=."""
        name = type(self).__name__
        if lengths is not None:
            raise TypeError(f"{name}: lengths= cannot be given with a PackedSequence input "
                            "(the lengths are in it)")
        if input.data.ndim != 2:
            raise ShapeError(f"{name}: expected packed data of shape (sum of lengths, "
                             f"{self.input_size}), got {tuple(input.data.shape)}")
        padded, lens = pad_packed_sequence(input)             # (T, N, I), original order
        output, states = self._forward(padded, hx, lens, False)
        return _pack_like(output, input), states

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if getattr(self, "proj_size", 0):
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for flag, default in (("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False)):
            if getattr(self, flag) != default:
                s += f", {flag}={getattr(self, flag)}"
        return s


class RNN(RNNBase):
    """Elman RNN layers: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu
    with nonlinearity='relu'). See RNNBase for the arguments and return values."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, **kwargs):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         **kwargs)
        self.nonlinearity = nonlinearity


class GRU(RNNBase):
    """GRU layers (gates r, z, n as GRUCell; reset_after=False gives the notes' full
    GRU). See RNNBase for the arguments and return values."""
    def __init__(self, *args, reset_after=True, **kwargs):
        super().__init__("GRU", *args, **kwargs)
        self.reset_after = reset_after


class LSTM(RNNBase):
    """LSTM layers (gates i, f, g, o as LSTMCell); returns output, (h_n, c_n). See
    RNNBase for the arguments.

    ``proj_size`` P > 0 (after ``bidirectional``, as in PyTorch): the LSTM with
    projections, h_t = W_hr (o_t * tanh(c_t)) with ``weight_hr_l{k}[_reverse]``
    (P, hidden_size), U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) like the others and
    after the biases in named_parameters / state_dict. h (h0, h_n, the output) has P
    features, c (c0, c_n) keeps hidden_size, weight_hh_l{k} is (4*hidden_size, P) and
    the next layer's input has D*P features. It runs in the same fused primitive
    (LSTMSequence with projection=True; fused=False composes it), lengths= included.
    0 <= P < hidden_size (ValueError otherwise, TypeError for a non-int).
    """

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)
