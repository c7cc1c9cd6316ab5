"""Datasets, samplers and the DataLoader, as ``torch.utils.data`` (in one process).

``DataLoader(dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None,
num_workers=0, collate_fn=None, drop_last=False, generator=None)`` yields
``collate_fn([dataset[i] for i in batch])`` for each batch of indices from the batch
sampler; ``default_collate`` (the default) stacks Tensors and NumPy arrays, turns
Python ints into int64 tensors, floats into float64 tensors (as torch), bools into
bool tensors, keeps strings as lists, and recurses into tuples (which come back as
lists, as torch's), lists, dicts and named tuples.

Loading runs in the calling process: ``num_workers`` must be 0 (a ValueError
otherwise), and the worker options (``pin_memory``, ``timeout``, ``worker_init_fn``,
``prefetch_factor``, ``persistent_workers``, ...) are accepted at their defaults only.

Randomness (``shuffle=True``, ``RandomSampler``, ``random_split``) draws from the
``generator=`` given (a ``ts.Generator``) or from the framework's cpu stream, so that
``ts.manual_seed`` makes it repeatable. The permutations are not torch's (the streams
differ).
"""
import bisect
import collections.abc
import math
import warnings
from itertools import accumulate

from .. import backend
from ..autograd import Tensor
from ..creation import tensor as _tensor
from ..tensor import stack

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "ConcatDataset", "Subset",
           "random_split", "Sampler", "SequentialSampler", "RandomSampler",
           "SubsetRandomSampler", "BatchSampler", "DataLoader", "default_collate",
           "default_convert"]


def _cpu_rng(generator):
    return backend.rng("cpu", generator)


def _randperm(n, generator):
    """A random permutation of range(n) as a list of ints."""
    return [int(i) for i in _cpu_rng(generator).permutation(n)]


# ---------------------------------------------------------------- datasets

class Dataset:
    """A map-style dataset: subclasses define ``__getitem__(index)`` and usually
    ``__len__``. ``a + b`` is ``ConcatDataset([a, b])``."""

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset read by iteration (``__iter__``); the DataLoader batches what it
    yields, in order (no sampler, no shuffle)."""

    def __iter__(self):
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other):
        raise TypeError("IterableDataset does not support + (torch's ChainDataset is not "
                        "provided)")


class TensorDataset(Dataset):
    """Samples are tuples of the i-th rows of the given tensors (same first size)."""

    def __init__(self, *tensors):
        if any(t.shape[0] != tensors[0].shape[0] for t in tensors):
            raise ValueError("Size mismatch between tensors")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


class ConcatDataset(Dataset):
    """The datasets one after the other."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(accumulate(len(d) for d in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][idx - start]


class Subset(Dataset):
    """The samples of `dataset` at `indices` (in that order)."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self):
        return len(self.indices)


def random_split(dataset, lengths, generator=None):
    """Split `dataset` into non-overlapping random Subsets of the given lengths: ints
    summing to len(dataset), or fractions summing to 1 (floor(n * f) each, the
    remainder given out one by one from the first split on, as torch). Draws from
    `generator` or the framework's generator."""
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        n = len(dataset)
        subset_lengths = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            subset_lengths.append(int(math.floor(n * frac)))
        remainder = n - sum(subset_lengths)
        for i in range(remainder):
            subset_lengths[i % len(subset_lengths)] += 1
        lengths = subset_lengths
        for i, length in enumerate(lengths):
            if length == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an "
                              "empty dataset.", stacklevel=2)
    if sum(lengths) != len(dataset):
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    indices = _randperm(sum(lengths), generator)
    return [Subset(dataset, indices[offset - length:offset])
            for offset, length in zip(accumulate(lengths), lengths)]


# ---------------------------------------------------------------- samplers

class Sampler:
    """Yields dataset indices (or, for a batch sampler, lists of them)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation of the indices (a new one each iteration), or, with
    replacement=True, num_samples indices drawn uniformly with replacement.
    num_samples (default len(data_source)) may exceed the length without replacement:
    whole permutations, then part of one, as torch."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.replacement, bool):
            raise TypeError("replacement should be a boolean value, but got "
                            f"replacement={self.replacement}")
        if not isinstance(self.num_samples, int) or isinstance(self.num_samples, bool) \
                or self.num_samples <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        if self.replacement:
            draws = _cpu_rng(self.generator).integers(0, n, size=self.num_samples)
            yield from (int(i) for i in draws)
            return
        for _ in range(self.num_samples // n):
            yield from _randperm(n, self.generator)
        if self.num_samples % n:
            yield from _randperm(n, self.generator)[:self.num_samples % n]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order (a new one each iteration)."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        for i in _randperm(len(self.indices), self.generator):
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class BatchSampler(Sampler):
    """Lists of `batch_size` indices from `sampler`; the last one shorter unless
    drop_last=True drops it."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError("batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self):
        batch = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size


# ---------------------------------------------------------------- collation

_COLLATE_ERROR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts "
                  "or lists; found {}")


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _rebuild(elem, mapping):
    """A mapping of elem's type with the given items, or a dict if it cannot be made."""
    try:
        return type(elem)(mapping)
    except TypeError:
        return dict(mapping)


def default_collate(batch):
    """Merge a list of samples into a batch, as torch's default_collate (see the module
    docstring)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch, axis=0)
    if backend.is_array(elem):
        if elem.dtype.kind in "OSUV":
            raise TypeError(_COLLATE_ERROR.format(elem.dtype.str))
        if isinstance(elem, backend.numpy_scalar) or elem.ndim == 0:
            return _tensor(backend.host_array(
                [backend.to_numpy(b) if backend.is_array(b) else b for b in batch]))
        return stack([_tensor(b) for b in batch], axis=0)
    if isinstance(elem, bool):
        return _tensor(batch, dtype=backend.bool_)
    if isinstance(elem, float):
        return _tensor(batch, dtype=backend.float64)
    if isinstance(elem, int):
        return _tensor(batch, dtype=backend.int64)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return _rebuild(elem, {key: default_collate([d[key] for d in batch]) for key in elem})
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = [default_collate(list(s)) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return transposed             # a list, as torch ("backwards compatibility")
        try:
            return type(elem)(transposed)
        except TypeError:
            return transposed
    raise TypeError(_COLLATE_ERROR.format(type(elem)))


def default_convert(data):
    """Without batching (batch_size=None): NumPy arrays become Tensors, recursively in
    mappings, named tuples, tuples (returned as lists, as torch) and lists; anything
    else is returned as it is."""
    if isinstance(data, Tensor):
        return data
    if backend.is_array(data) and not isinstance(data, backend.numpy_scalar):
        return data if data.dtype.kind in "OSUV" else _tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _rebuild(data, {key: default_convert(data[key]) for key in data})
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data


# ---------------------------------------------------------------- DataLoader

class DataLoader:
    """Batches of a dataset, as torch.utils.data.DataLoader, loaded in this process.

    batch_size (default 1; None turns batching off: samples go one by one through
    ``default_convert`` or `collate_fn`), shuffle (a RandomSampler drawing from
    `generator`), sampler (indices; exclusive with shuffle), batch_sampler (lists of
    indices; exclusive with batch_size, shuffle, sampler and drop_last), drop_last
    (drop the last short batch), collate_fn (default ``default_collate``), generator
    (a ``ts.Generator`` for shuffling). ``num_workers`` must be 0: there are no worker
    processes (ValueError otherwise). ``len(loader)`` is the number of batches.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        if not isinstance(num_workers, int) or isinstance(num_workers, bool) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if num_workers != 0:
            raise ValueError(f"DataLoader: num_workers={num_workers} is not supported: "
                             "tinygrad_seq loads in the calling process only (num_workers=0)")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if prefetch_factor is not None or persistent_workers:
            raise ValueError("prefetch_factor and persistent_workers need worker processes "
                             "(num_workers > 0), which tinygrad_seq does not have")
        if pin_memory or worker_init_fn is not None or multiprocessing_context is not None:
            warnings.warn("DataLoader: pin_memory, worker_init_fn and multiprocessing_context "
                          "have no effect without worker processes", stacklevel=2)
        self.dataset = dataset
        self.num_workers = 0
        self.generator = generator
        self.timeout, self.pin_memory = timeout, pin_memory
        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"shuffle option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"sampler option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None and not iterable:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None and not iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        if iterable and batch_size is not None:
            BatchSampler([], batch_size, drop_last)      # the same checks of the arguments
        self.batch_size, self.drop_last = batch_size, drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None or (
            isinstance(self.dataset, IterableDataset) and self.batch_size is not None)

    def __iter__(self):
        if isinstance(self.dataset, IterableDataset):
            if self.batch_size is None:
                for sample in self.dataset:
                    yield self.collate_fn(sample)
                return
            batch = []
            for sample in self.dataset:
                batch.append(sample)
                if len(batch) == self.batch_size:
                    yield self.collate_fn(batch)
                    batch = []
            if batch and not self.drop_last:
                yield self.collate_fn(batch)
            return
        if self.batch_sampler is not None:
            getitems = getattr(self.dataset, "__getitems__", None)
            for indices in self.batch_sampler:
                batch = getitems(indices) if getitems else [self.dataset[i] for i in indices]
                yield self.collate_fn(batch)
        else:
            for index in self.sampler:
                yield self.collate_fn(self.dataset[index])

    def __len__(self):
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)
