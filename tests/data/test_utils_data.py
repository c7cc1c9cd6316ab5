"""tinygrad_seq.utils.data against torch.utils.data: datasets, samplers, random_split,
default_collate and the DataLoader (one process)."""
import collections

import numpy as np
import pytest

import tinygrad_seq as ts
from tinygrad_seq.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset,
                                     IterableDataset, RandomSampler, SequentialSampler,
                                     Subset, SubsetRandomSampler, TensorDataset,
                                     default_collate, default_convert, random_split)
from torch_ref import needs_torch, torch

Pair = collections.namedtuple("Pair", "x y")


def _plain(x):
    """Tensors (ours or torch's) as (dtype name, values); containers recursively."""
    if isinstance(x, ts.Tensor):
        return ("T", str(x.dtype), x.shape, x.tolist())
    if torch is not None and isinstance(x, torch.Tensor):
        return ("T", str(x.dtype).replace("torch.", ""), tuple(x.shape), x.tolist())
    if isinstance(x, dict):
        return (type(x).__name__, {k: _plain(v) for k, v in x.items()})
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [_plain(v) for v in x])
    return x


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return {"x": np.full(2, i, dtype=np.float32), "y": i * i, "w": i / 2, "name": f"s{i}"}

    def __len__(self):
        return self.n


class Count(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


# ---------------------------------------------------------------- without torch

def test_tensor_dataset_and_loader_batches_in_order():
    x, y = ts.arange(10.).reshape(5, 2), ts.arange(5)
    ds = TensorDataset(x, y)
    assert len(ds) == 5 and ds[1][0].tolist() == [2., 3.] and ds[1][1].item() == 1
    batches = list(DataLoader(ds, batch_size=2))
    assert len(batches) == 3 == len(DataLoader(ds, batch_size=2))
    assert isinstance(batches[0], list) and batches[0][0].shape == (2, 2)
    assert [b[1].tolist() for b in batches] == [[0, 1], [2, 3], [4]]
    assert [b[1].tolist() for b in DataLoader(ds, batch_size=2, drop_last=True)] == [[0, 1], [2, 3]]
    assert len(DataLoader(ds, batch_size=2, drop_last=True)) == 2
    with pytest.raises(ValueError):
        TensorDataset(ts.zeros(3), ts.zeros(4))


def test_default_loader_is_batch_size_one():
    out = list(DataLoader(TensorDataset(ts.arange(3))))
    assert [b[0].tolist() for b in out] == [[0], [1], [2]]


def test_shuffle_is_a_permutation_and_follows_the_generator():
    ds = TensorDataset(ts.arange(20))
    def order(**kw):
        return [i for b in DataLoader(ds, batch_size=3, shuffle=True, **kw) for i in b[0].tolist()]
    a = order(generator=ts.Generator().manual_seed(1))
    assert sorted(a) == list(range(20)) and a != list(range(20))
    assert order(generator=ts.Generator().manual_seed(1)) == a
    ts.manual_seed(3)
    b = order()
    ts.manual_seed(3)
    assert order() == b
    g = ts.Generator().manual_seed(4)
    loader = DataLoader(ds, batch_size=20, shuffle=True, generator=g)
    first, second = (next(iter(loader))[0].tolist() for _ in range(2))
    assert first != second                        # a new permutation each epoch


def test_samplers():
    data = list(range(7))
    assert list(SequentialSampler(data)) == data and len(SequentialSampler(data)) == 7
    r = RandomSampler(data, generator=ts.Generator().manual_seed(0))
    assert sorted(r) == data and len(r) == 7
    r = RandomSampler(data, num_samples=16, generator=ts.Generator())
    drawn = list(r)
    assert len(r) == 16 and len(drawn) == 16
    assert sorted(drawn[:7]) == data and sorted(drawn[7:14]) == data
    r = RandomSampler(data, replacement=True, num_samples=50, generator=ts.Generator())
    drawn = list(r)
    assert len(drawn) == 50 and set(drawn) <= set(data) and len(set(drawn)) < 50
    assert all(isinstance(i, int) for i in drawn)
    with pytest.raises(TypeError):
        RandomSampler(data, replacement=1)
    with pytest.raises(ValueError):
        RandomSampler(data, num_samples=0)
    s = SubsetRandomSampler([10, 20, 30], generator=ts.Generator())
    assert sorted(s) == [10, 20, 30] and len(s) == 3
    b = BatchSampler(SequentialSampler(data), 3, False)
    assert list(b) == [[0, 1, 2], [3, 4, 5], [6]] and len(b) == 3
    b = BatchSampler(range(7), 3, True)
    assert list(b) == [[0, 1, 2], [3, 4, 5]] and len(b) == 2
    for bad in (0, -1, True, 2.0):
        with pytest.raises(ValueError):
            BatchSampler(data, bad, False)
    with pytest.raises(ValueError):
        BatchSampler(data, 2, 1)


def test_sampler_and_batch_sampler_arguments():
    ds = TensorDataset(ts.arange(6))
    out = [b[0].tolist() for b in DataLoader(ds, batch_size=2, sampler=[5, 4, 3, 2, 1, 0])]
    assert out == [[5, 4], [3, 2], [1, 0]]
    loader = DataLoader(ds, batch_sampler=[[0, 5], [1], [2, 3, 4]])
    assert [b[0].tolist() for b in loader] == [[0, 5], [1], [2, 3, 4]] and len(loader) == 3
    assert loader.batch_size is None and loader.drop_last is False
    for kw in ({"batch_size": 2}, {"shuffle": True}, {"sampler": [0]}, {"drop_last": True}):
        with pytest.raises(ValueError, match="mutually exclusive"):
            DataLoader(ds, batch_sampler=[[0]], **kw)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0], shuffle=True)
    with pytest.raises(ValueError, match="drop_last"):
        DataLoader(ds, batch_size=None, drop_last=True)


def test_num_workers_must_be_zero():
    ds = TensorDataset(ts.arange(3))
    DataLoader(ds, num_workers=0)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=2)
    with pytest.raises(ValueError, match="non-negative"):
        DataLoader(ds, num_workers=-1)
    assert "num_workers" in DataLoader.__doc__


def test_batch_size_none_converts_samples():
    out = list(DataLoader(Squares(2), batch_size=None))
    assert isinstance(out[1]["x"], ts.Tensor) and out[1]["y"] == 1 and out[1]["name"] == "s1"
    assert len(DataLoader(Squares(3), batch_size=None)) == 3


def test_collate_fn_and_dict_samples():
    loader = DataLoader(Squares(5), batch_size=2, collate_fn=lambda b: [s["y"] for s in b])
    assert list(loader) == [[0, 1], [4, 9], [16]]
    batch = next(iter(DataLoader(Squares(5), batch_size=3)))
    assert batch["x"].shape == (3, 2) and batch["x"].dtype == ts.float32
    assert batch["y"].dtype == ts.int64 and batch["w"].dtype == ts.float64
    assert batch["name"] == ["s0", "s1", "s2"]


def test_iterable_dataset():
    assert [b.tolist() for b in DataLoader(Count(5), batch_size=2)] == [[0, 1], [2, 3], [4]]
    assert len(DataLoader(Count(5), batch_size=2)) == 3
    assert [b.tolist() for b in DataLoader(Count(5), batch_size=2, drop_last=True)] == [[0, 1], [2, 3]]
    with pytest.raises(ValueError):
        DataLoader(Count(5), shuffle=True)


def test_subset_concat_and_random_split():
    ds = TensorDataset(ts.arange(10))
    sub = Subset(ds, [9, 0, 3])
    assert len(sub) == 3 and sub[0][0].item() == 9
    cat = ds + TensorDataset(ts.arange(10, 13))
    assert isinstance(cat, ConcatDataset) and len(cat) == 13
    assert cat[11][0].item() == 11 and cat[-1][0].item() == 12
    parts = random_split(ds, [3, 7], generator=ts.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [3, 7]
    seen = sorted(p[i][0].item() for p in parts for i in range(len(p)))
    assert seen == list(range(10))
    again = random_split(ds, [3, 7], generator=ts.Generator().manual_seed(0))
    assert parts[0].indices == again[0].indices
    assert [len(p) for p in random_split(ds, [0.33, 0.33, 0.34])] == [4, 3, 3]
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [3, 3])
    with pytest.raises(ValueError, match="between 0 and 1"):
        random_split(ds, [1.5, -0.5])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(TensorDataset(ts.arange(1)), [0.5, 0.5])


def test_a_training_epoch_runs():
    ts.manual_seed(0)
    x = ts.randn(32, 3)
    y = x @ ts.tensor([[1.], [-2.], [0.5]])
    model = ts.nn.Linear(3, 1)
    opt = ts.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True,
                        generator=ts.Generator().manual_seed(0))
    losses = []
    for _ in range(20):
        for xb, yb in loader:
            loss = ((model(xb) - yb) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    assert losses[-1] < 0.01 * losses[0]


# ---------------------------------------------------------------- against torch

def _collate_cases():
    return [
        [1, 2, 3],
        [1.5, 2.5],
        [True, False],
        [(1, 2.0), (3, 4.0)],
        [[1, 2.0], [3, 4.0]],
        [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}],
        [Pair(1, 2.0), Pair(3, 4.0)],
        [np.array([1, 2]), np.array([3, 4])],
        [np.array([1., 2.], dtype=np.float32), np.array([3., 4.], dtype=np.float32)],
        [np.float32(1), np.float32(2)],
        [np.int64(1), np.int64(2)],
        [np.array(1.5), np.array(2.5)],
        ["a", "b"],
        [b"a", b"b"],
        [{"p": (np.zeros(2), [1, 2])}, {"p": (np.ones(2), [3, 4])}],
    ]


@needs_torch
@pytest.mark.parametrize("case", range(len(_collate_cases())))
def test_default_collate_matches_torch(case):
    batch = _collate_cases()[case]
    ours = default_collate(batch)
    theirs = torch.utils.data.default_collate(batch)
    assert _plain(ours) == _plain(theirs)


@needs_torch
def test_default_collate_of_tensors_and_errors_match_torch():
    rows = [np.arange(3.) + i for i in range(4)]
    assert _plain(default_collate([ts.tensor(r) for r in rows])) == \
        _plain(torch.utils.data.default_collate([torch.tensor(r) for r in rows]))
    for bad, err in (([object(), object()], TypeError), ([None, None], TypeError),
                     ([[1, 2], [3]], RuntimeError), ([np.array(["a"]), np.array(["b"])], TypeError)):
        with pytest.raises(err) as ours:
            default_collate(bad)
        with pytest.raises(err) as theirs:
            torch.utils.data.default_collate(bad)
        assert str(ours.value).split(";")[0] == str(theirs.value).split(";")[0]


@needs_torch
def test_default_convert_matches_torch():
    for data in ((np.array([1, 2]), 3, 2.5), {"a": np.zeros(2), "b": [np.ones(1), "s"]},
                 Pair(np.zeros(1), 1), 3, "s"):
        assert _plain(default_convert(data)) == _plain(torch.utils.data.default_convert(data))


@needs_torch
@pytest.mark.parametrize("batch_size,drop_last", [(1, False), (3, False), (3, True), (7, False),
                                                  (None, False)])
def test_sequential_loader_matches_torch(batch_size, drop_last):
    ours = DataLoader(Squares(7), batch_size=batch_size, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(Squares(7), batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    assert [_plain(b) for b in ours] == [_plain(b) for b in theirs]
    x = np.arange(12.).reshape(6, 2)
    ours = DataLoader(TensorDataset(ts.tensor(x), ts.arange(6)), batch_size=batch_size,
                      drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(x), torch.arange(6)),
        batch_size=batch_size, drop_last=drop_last)
    assert [_plain(b) for b in ours] == [_plain(b) for b in theirs]


@needs_torch
@pytest.mark.parametrize("n,lengths", [(10, [0.33, 0.33, 0.34]), (7, [0.5, 0.5]),
                                       (11, [0.1, 0.2, 0.7]), (5, [2, 3]), (3, [0.0, 1.0])])
def test_random_split_lengths_match_torch(n, lengths):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = [len(p) for p in random_split(list(range(n)), lengths)]
        theirs = [len(p) for p in torch.utils.data.random_split(list(range(n)), lengths)]
    assert ours == theirs


@needs_torch
def test_lengths_and_argument_errors_match_torch():
    data = list(range(10))
    for kw in ({}, {"num_samples": 25}, {"replacement": True, "num_samples": 4}):
        assert len(RandomSampler(data, **kw)) == len(torch.utils.data.RandomSampler(data, **kw))
    for bs, dl in ((3, False), (3, True), (10, True), (11, True)):
        assert len(BatchSampler(data, bs, dl)) == len(torch.utils.data.BatchSampler(data, bs, dl))
        assert list(BatchSampler(data, bs, dl)) == list(torch.utils.data.BatchSampler(data, bs, dl))
    for make in (lambda m: m.RandomSampler(data, replacement="yes"),
                 lambda m: m.RandomSampler(data, num_samples=-3),
                 lambda m: m.BatchSampler(data, 0, False),
                 lambda m: m.DataLoader(data, sampler=[0], shuffle=True),
                 lambda m: m.DataLoader(data, batch_sampler=[[0]], batch_size=2),
                 lambda m: m.DataLoader(data, batch_size=None, drop_last=True)):
        with pytest.raises(Exception) as ours:
            make(ts.utils.data)
        with pytest.raises(Exception) as theirs:
            make(torch.utils.data)
        assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)
