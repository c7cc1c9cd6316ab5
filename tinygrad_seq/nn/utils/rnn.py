"""Packed and padded batches of variable-length sequences, as ``torch.nn.utils.rnn``.

A PackedSequence holds the time steps of several sequences sorted by length (longest
first), time-major: ``data`` has the ``batch_sizes[0]`` first steps, then the
``batch_sizes[1]`` second steps, ...; ``sorted_indices[i]`` is the position in the
original batch of the i-th sequence of that order and ``unsorted_indices`` its
inverse (both None when the batch came sorted, ``enforce_sorted=True``).

``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` take a PackedSequence as input and return the
output packed the same way and the final states in the original (unsorted) order, as
torch. They run it as a padded batch with ``lengths=`` (the modules' masked
recurrence), so the results and gradients are those of torch's packed kernels.

Ties in the lengths are broken by original position (a stable sort); torch's sort
does not promise an order for ties, so ``sorted_indices`` may differ from torch's
there, while the data of each sequence, the outputs and the states agree.
"""
from collections import namedtuple

from ... import backend
from ...autograd import Tensor
from ...creation import full
from ...errors import DTypeError, ShapeError
from ...tensor import cat, stack

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "pack_sequence", "unpad_sequence", "unpack_sequence"]

_np = backend.xp("cpu")     # host-side index arithmetic (NumPy, through backend)


def _host_ints(t):
    """A host int64 array of a Tensor, array, or list of ints."""
    if isinstance(t, Tensor):
        t = t.array
    host = backend.to_numpy(t) if backend.is_array(t) else backend.host_array(t)
    return host.astype(backend.int64, copy=False)


def _index_tensor(host):
    """An int64 cpu Tensor of a host array (torch keeps these index tensors on the CPU
    unless the PackedSequence is moved)."""
    return Tensor._make(_np.asarray(host, dtype=backend.int64))


class PackedSequence(namedtuple("PackedSequence_", ["data", "batch_sizes", "sorted_indices",
                                                     "unsorted_indices"])):
    """(data, batch_sizes, sorted_indices, unsorted_indices), as torch's: build it with
    ``pack_padded_sequence`` or ``pack_sequence`` rather than by hand. ``data`` is
    (sum(lengths), *) and differentiable; ``batch_sizes`` an int64 cpu Tensor."""
    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if batch_sizes is None:
            raise TypeError("PackedSequence: batch_sizes is required; use "
                            "pack_padded_sequence or pack_sequence to build one")
        if not isinstance(batch_sizes, Tensor):
            batch_sizes = _index_tensor(_host_ints(batch_sizes))
        if sorted_indices is not None and not isinstance(sorted_indices, Tensor):
            sorted_indices = Tensor._make(backend.xp(data.device).asarray(
                _host_ints(sorted_indices)))
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _invert(sorted_indices)
        elif unsorted_indices is not None and not isinstance(unsorted_indices, Tensor):
            unsorted_indices = Tensor._make(backend.xp(data.device).asarray(
                _host_ints(unsorted_indices)))
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """A PackedSequence with ``data.to(...)`` (the indices follow the device;
        batch_sizes stays on the cpu, as torch). Returns self when nothing changes."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = (lambda t: None if t is None else t.to(device=data.device))
        return type(self)(data, self.batch_sizes, move(self.sorted_indices),
                          move(self.unsorted_indices))

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def float(self):
        return self.to(backend.float32)

    def double(self):
        return self.to(backend.float64)

    def half(self):
        return self.to(backend.float16)

    @property
    def is_cuda(self):
        return self.data.device == "cuda"


def _invert(perm):
    """The inverse permutation, a Tensor on perm's device."""
    host = _host_ints(perm)
    inv = _np.empty_like(host)
    inv[host] = _np.arange(host.shape[0])
    return Tensor._make(backend.xp(perm.device).asarray(inv))


def _check_lengths(host, N, T, op):
    if host.ndim != 1 or host.shape[0] != N:
        raise ShapeError(f"{op}: expected {N} lengths (one per sequence of the batch), got "
                         f"shape {tuple(host.shape)}")
    if N and host.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    if N and host.max() > T:
        raise ShapeError(f"{op}: a length ({int(host.max())}) exceeds the padded length {T}")


def _lengths_of(lengths, op):
    if isinstance(lengths, Tensor) and lengths.dtype.kind not in "iu":
        raise DTypeError(f"{op}: lengths must be integers, got {lengths.dtype}")
    host = _host_ints(lengths)
    return host


def _batch_sizes(sorted_lengths):
    """batch_sizes[t] = the number of sequences longer than t (lengths sorted down)."""
    T = int(sorted_lengths[0]) if sorted_lengths.shape[0] else 0
    return (sorted_lengths[None, :] > _np.arange(T)[:, None]).sum(axis=1)


def _packed_rows(batch_sizes, order, N):
    """Row numbers into a (T*N, *) time-major padded batch of each packed row."""
    rows = []
    for t, b in enumerate(batch_sizes.tolist()):
        rows.append(t * N + order[:b])
    return _np.concatenate(rows) if rows else _np.zeros((0,), backend.int64)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) ((B, T, *) with batch_first) of sequences with the
    given lengths (a list or an int64 Tensor; each >= 1). With enforce_sorted=True the
    lengths must go down (RuntimeError otherwise) and the indices of the result are None;
    with False the batch is sorted here and the order kept in sorted_indices."""
    op = "pack_padded_sequence"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(input).__name__}")
    if input.ndim < 2:
        raise ShapeError(f"{op}: expected an input with at least 2 dims (T, B, *), got "
                         f"shape {tuple(input.shape)}")
    if batch_first:
        input = input.transpose(0, 1)
    T, N = input.shape[0], input.shape[1]
    host = _lengths_of(lengths, op)
    _check_lengths(host, N, T, op)
    if enforce_sorted:
        if N > 1 and (host[1:] > host[:-1]).any():
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                "pack_sequence to sidestep this requirement if you do not need ONNX "
                "exportability.")
        order = _np.arange(N)
        sorted_indices = None
    else:
        order = _np.argsort(-host, kind="stable")
        sorted_indices = Tensor._make(backend.xp(input.device).asarray(order.astype(backend.int64)))
    batch_sizes = _batch_sizes(host[order])
    rows = _packed_rows(batch_sizes, order, N)
    flat = input.reshape(T * N, *input.shape[2:])
    data = flat[backend.to_device(rows, input.device)]
    return PackedSequence(data, _index_tensor(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The inverse of pack_padded_sequence: (padded (T, B, *) or (B, T, *), lengths),
    the batch in its original order, T = total_length or the longest length; lengths is
    an int64 cpu Tensor. Differentiable through the data."""
    op = "pad_packed_sequence"
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{op}: expected a PackedSequence, got {type(sequence).__name__}")
    data = sequence.data
    batch_sizes = _host_ints(sequence.batch_sizes)
    T_max = batch_sizes.shape[0]
    N = int(batch_sizes[0]) if T_max else 0
    if total_length is not None:
        if total_length < T_max:
            raise ValueError("Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {T_max}")
        T = int(total_length)
    else:
        T = T_max
    order = (_host_ints(sequence.sorted_indices) if sequence.sorted_indices is not None
             else _np.arange(N))
    rows = _packed_rows(batch_sizes, order, N)
    # each cell of the padded (T*N) grid reads its packed row, or the padding row
    source = _np.full(T * N, rows.shape[0], dtype=backend.int64)
    source[rows] = _np.arange(rows.shape[0])
    pad = full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype,
               device=data.device)
    padded = cat([data, pad], axis=0)[backend.to_device(source, data.device)]
    padded = padded.reshape(T, N, *data.shape[1:])
    if batch_first:
        padded = padded.transpose(0, 1)
    sorted_lengths = (batch_sizes[None, :] > _np.arange(N)[:, None]).sum(axis=1)
    lengths = _np.empty(N, dtype=backend.int64)
    lengths[order] = sorted_lengths
    return padded, _index_tensor(lengths)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors of shapes (L_i, *) into (T, B, *) ((B, T, *) with batch_first),
    T = max L_i, padding with `padding_value` on the right (or the left with
    padding_side='left'). Differentiable."""
    op = "pad_sequence"
    if padding_side not in ("left", "right"):
        raise ValueError(f"{op}: padding_side must be 'left' or 'right', got {padding_side!r}")
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0)) if hasattr(sequences, "unbind") else \
            [sequences[i] for i in range(sequences.shape[0])]
    sequences = list(sequences)
    if not sequences:
        raise ShapeError(f"{op}: received an empty list of sequences")
    for s in sequences:
        if not isinstance(s, Tensor):
            raise TypeError(f"{op}: expected Tensors, got {type(s).__name__}")
        if s.ndim < 1:
            raise ShapeError(f"{op}: expected tensors of at least 1 dim, got a 0-d one")
    trailing = {tuple(s.shape[1:]) for s in sequences}
    if len(trailing) != 1:
        raise ShapeError(f"{op}: the sequences' trailing dims differ: "
                         f"{[tuple(s.shape) for s in sequences]}")
    T = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        missing = T - s.shape[0]
        if missing:
            block = full((missing,) + tuple(s.shape[1:]), padding_value, dtype=s.dtype,
                         device=s.device)
            s = cat([s, block] if padding_side == "right" else [block, s], axis=0)
        padded.append(s)
    return stack(padded, axis=0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of tensors (L_i, *) (longest first unless enforce_sorted=False):
    ``pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=...)``."""
    sequences = list(sequences)
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths,
                                enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of unpadded sequences of a padded batch (the inverse of pad_sequence)."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    host = _host_ints(lengths)
    return [padded_sequences[i, :int(n)] for i, n in enumerate(host.tolist())]


def unpack_sequence(packed_sequences):
    """The list of sequences of a PackedSequence, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


def _pack_like(padded, like):
    """Pack a time-major padded batch (T, N, *) in the original order the way `like`
    (a PackedSequence of the same lengths) is packed: same batch_sizes and indices."""
    batch_sizes = _host_ints(like.batch_sizes)
    T, N = padded.shape[0], padded.shape[1]
    order = (_host_ints(like.sorted_indices) if like.sorted_indices is not None
             else _np.arange(N))
    rows = _packed_rows(batch_sizes, order, N)
    data = padded.reshape(T * N, *padded.shape[2:])[backend.to_device(rows, padded.device)]
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)
