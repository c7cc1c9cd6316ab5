"""ts.save / ts.load (DESIGN "Save and load"): nested structures round trip, the file is
written exactly at the path and atomically, nothing is ever unpickled, and anything
that is not an intact save raises a SerializationError naming the file."""
import io
import json
import os
import pickle
import stat
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_seq as ts
import tinygrad_seq.io as tsio
from tinygrad_seq import nn


def same(a, b):
    """Deep equality with Tensors/arrays compared by dtype and values, tuples vs lists
    and int vs str keys kept apart, nan equal to nan."""
    if isinstance(b, np.generic):                       # NumPy scalars come back as numbers
        return same(a, b.item())
    if isinstance(b, (ts.Tensor, np.ndarray)):
        b = b.numpy() if isinstance(b, ts.Tensor) else b
        return (isinstance(a, ts.Tensor) and a.dtype == b.dtype.newbyteorder("=")
                and a.shape == b.shape
                and np.array_equal(a.numpy(), b, equal_nan=b.dtype.kind in "fc"))
    if type(a) is not type(b) and not (isinstance(a, float) and isinstance(b, float)):
        return False
    if isinstance(b, dict):
        return list(a) == list(b) and all(type(x) is type(y) for x, y in zip(a, b)) \
            and all(same(a[k], b[k]) for k in b)
    if isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(b, float) and b != b:
        return a != a
    return a == b


def roundtrip(obj, tmp_path, **kw):
    path = tmp_path / "obj.tsz"
    ts.save(obj, path)
    return ts.load(path, **kw)


# ---------------------------------------------------------------- round trips

def test_nested_structure_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    obj = {
        "name": "model", "epoch": 3, "lr": 1e-3, "flag": True, "nothing": None,
        "specials": [float("nan"), float("inf"), -float("inf"), -0.0, 1e308, 2 ** 70],
        0: "int key", -5: {"nested": (1, (2.5, "x"), [])}, "": {},
        "tensors": [ts.randn(2, 3), ts.tensor(rng.standard_normal(4)),           # f32, f64
                    ts.arange(5), ts.tensor([True, False]), ts.tensor(2.5),     # i64, bool, 0-d
                    ts.zeros(0, 3), ts.tensor(rng.standard_normal(3).astype(np.float16))],
        "arrays": (rng.integers(0, 255, (2, 2)).astype(np.uint8), np.arange(6, dtype=np.int32),
                   np.array([1 + 2j, 3 - 1j]), np.asfortranarray(rng.standard_normal((3, 4))),
                   rng.standard_normal((4, 3)).T,                      # not C-contiguous
                   np.arange(4, dtype=">f4"),                          # big-endian
                   np.broadcast_to(np.arange(3.0), (2, 3))),           # stride-0 view
    }
    back = roundtrip(obj, tmp_path)
    assert same(back, obj)
    assert list(back) == list(obj) and 0 in back and -5 in back and "0" not in back
    assert isinstance(back[-5]["nested"], tuple) and isinstance(back[-5]["nested"][1], tuple)
    assert isinstance(back["specials"], list) and back["specials"][5] == 2 ** 70
    assert str(back["specials"][3]) == "-0.0"
    assert all(isinstance(t, ts.Tensor) for t in back["tensors"] + list(back["arrays"]))
    assert back["arrays"][5].dtype == np.float32 and back["arrays"][5].data.dtype.isnative
    writable = back["tensors"][0]
    writable += 1.0                                  # loaded arrays are ordinary, writable
    assert writable.device == ts.default_device()


def test_numpy_scalars_become_python_numbers(tmp_path):
    back = roundtrip({"a": np.float32(0.5), "b": np.int64(7), "c": np.bool_(True),
                      "d": np.float64("nan")}, tmp_path)
    assert back["a"] == 0.5 and type(back["a"]) is float
    assert back["b"] == 7 and type(back["b"]) is int
    assert back["c"] is True and back["d"] != back["d"]


def test_requires_grad_is_kept_and_values_are_detached(tmp_path):
    w = ts.randn(3, requires_grad=True)
    y = w * 2
    back = roundtrip({"w": w, "y": y, "p": nn.Parameter(ts.ones(2))}, tmp_path)
    assert back["w"].requires_grad and back["w"].is_leaf
    assert back["y"].requires_grad and back["y"].is_leaf and back["y"].grad_fn is None
    assert type(back["p"]) is ts.Tensor and back["p"].requires_grad


def test_shared_arrays_are_stored_once_and_come_back_shared(tmp_path):
    model = nn.Sequential(nn.Linear(50, 50), nn.Linear(50, 50))
    model[1].weight = model[0].weight                      # tied
    sd = model.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    ts.save(sd, tmp_path / "tied")
    ts.save({k: v.numpy() for k, v in sd.items()}, tmp_path / "untied")
    assert os.path.getsize(tmp_path / "untied") - os.path.getsize(tmp_path / "tied") > 50 * 50 * 4
    back = ts.load(tmp_path / "tied")
    assert back["0.weight"] is back["1.weight"]
    fresh = nn.Sequential(nn.Linear(50, 50), nn.Linear(50, 50))
    fresh[1].weight = fresh[0].weight
    fresh.load_state_dict(back)
    x = ts.randn(2, 50)
    np.testing.assert_array_equal(fresh(x).numpy(), model(x).numpy())


scalars = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8))
arrays = st.builds(lambda shape, dtype, seed: np.asarray(
                   np.random.default_rng(seed).standard_normal(shape) * 10, dtype=dtype),
                   st.lists(st.integers(0, 3), max_size=3).map(tuple),
                   st.sampled_from(["float32", "float64", "int64", "int8", "bool", "float16"]),
                   st.integers(0, 2 ** 16))
trees = st.recursive(
    scalars | arrays,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=5) | st.integers(-3, 3), inner, max_size=4)),
    max_leaves=12)


@given(trees)
def test_any_structure_roundtrips(obj):
    buffer = io.BytesIO()
    ts.save(obj, buffer)
    buffer.seek(0)
    assert same(ts.load(buffer), obj)


def test_load_on_a_device(tmp_path, device):
    back = roundtrip({"w": ts.ones(2, 2), "n": np.arange(3)}, tmp_path, device=device)
    assert back["w"].device == device and back["n"].device == device
    assert back["n"].dtype == np.int64
    src = ts.ones(3, device=device)                        # saving from the device works
    assert roundtrip(src, tmp_path, device="cpu").device == "cpu"


# ---------------------------------------------------------------- the file itself

def test_writes_exactly_the_path_given(tmp_path):
    for name in ["model", "model.pt", "model.npz", "weights.bin"]:
        ts.save({"w": ts.ones(2)}, tmp_path / name)
        ts.save({"w": ts.ones(2)}, str(tmp_path / name))   # str paths too
    assert sorted(os.listdir(tmp_path)) == ["model", "model.npz", "model.pt", "weights.bin"]
    assert same(ts.load(str(tmp_path / "model")), {"w": ts.ones(2)})


def test_format_is_a_zip_of_json_and_npy_that_numpy_reads(tmp_path):
    path = tmp_path / "ckpt"
    obj = {"w": np.arange(6.0).reshape(2, 3), "meta": ("a", 1)}
    ts.save(obj, path)
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["tinygrad_seq.json", "tensors/0.npy"]
        doc = json.loads(zf.read("tinygrad_seq.json"))
    assert doc == {"format": "tinygrad_seq", "version": 1, "object": {"$dict": [
        ["w", {"$tensor": "tensors/0.npy", "dtype": "float64", "shape": [2, 3]}],
        ["meta", {"$tuple": ["a", 1]}]]}}
    with np.load(path, allow_pickle=False) as npz:          # numpy reads the arrays
        np.testing.assert_array_equal(npz["tensors/0"], obj["w"])


def test_same_object_same_bytes(tmp_path):
    obj = {"w": np.arange(10.0), "s": {1: "x"}}
    ts.save(obj, tmp_path / "a")
    ts.save(obj, tmp_path / "b")
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


def test_file_objects(tmp_path):
    buffer = io.BytesIO()
    ts.save([ts.ones(2), 3], buffer)
    buffer.seek(0)
    assert same(ts.load(buffer), [ts.ones(2), 3])
    with open(tmp_path / "f", "wb") as f:
        ts.save({"x": 1}, f)
    with open(tmp_path / "f", "rb") as f:
        assert ts.load(f) == {"x": 1}


def test_save_replaces_and_keeps_permissions(tmp_path):
    path = tmp_path / "w"
    ts.save({"v": 1}, path)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask   # as open(path, "wb")
    os.chmod(path, 0o600)
    ts.save({"v": 2}, path)
    assert ts.load(path) == {"v": 2}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(tmp_path) == ["w"]


def test_save_through_a_symlink_replaces_the_target(tmp_path):
    target = tmp_path / "real"
    ts.save({"v": 1}, target)
    link = tmp_path / "link"
    link.symlink_to(target)
    ts.save({"v": 2}, link)
    assert link.is_symlink() and ts.load(target) == {"v": 2}


# ---------------------------------------------------------------- atomicity

def test_a_writer_failing_midway_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "model.tsz"
    old = {"w": np.arange(3.0)}
    ts.save(old, path)
    before = path.read_bytes()
    calls = []
    real = tsio._write_array

    def failing(zf, name, array):
        calls.append(name)
        if len(calls) == 2:                       # after one array went out in full
            with zf.open(tsio._member(name), "w") as f:
                f.write(b"\x93NUMPY partial")
            raise OSError("disk full (simulated)")
        real(zf, name, array)

    monkeypatch.setattr(tsio, "_write_array", failing)
    with pytest.raises(OSError, match="disk full"):
        ts.save({"a": np.ones(1000), "b": np.ones(1000)}, path)
    assert len(calls) == 2
    assert path.read_bytes() == before and same(ts.load(path), old)
    assert os.listdir(tmp_path) == ["model.tsz"]


def test_a_failing_fsync_or_rename_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.tsz"
    ts.save({"v": 1}, path)
    for name in ("fsync", "replace"):
        with monkeypatch.context() as m:
            def boom(*args, **kwargs):
                raise OSError(f"{name} failed (simulated)")
            m.setattr(tsio.os, name, boom)
            with pytest.raises(OSError, match=f"{name} failed"):
                ts.save({"v": 2}, path)
        assert ts.load(path) == {"v": 1} and os.listdir(tmp_path) == ["model.tsz"]
    with monkeypatch.context() as m:
        m.setattr(tsio, "_write_zip", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
        with pytest.raises(KeyboardInterrupt):
            ts.save({"v": 3}, path)
    assert ts.load(path) == {"v": 1} and os.listdir(tmp_path) == ["model.tsz"]


def test_fsync_is_called_before_the_rename(tmp_path, monkeypatch):
    order = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(tsio.os, "fsync", lambda fd: (order.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(tsio.os, "replace",
                        lambda a, b: (order.append("replace"), real_replace(a, b))[1])
    ts.save({"v": 1}, tmp_path / "x")
    assert order[:2] == ["fsync", "replace"]


def test_unsavable_objects_raise_before_touching_the_file(tmp_path):
    path = tmp_path / "keep"
    ts.save({"v": 1}, path)
    cyclic = {"a": []}
    cyclic["a"].append(cyclic)
    cases = [({"a": [1, {2, 3}]}, TypeError, r"cannot save a set \(at obj\['a'\]\[1\]\)"),
             ({1.5: 1}, TypeError, "dict keys must be str or int, got float 1.5"),
             ({("a", 1): 1}, TypeError, "dict keys must be str or int"),
             ({"f": len}, TypeError, r"builtin_function_or_method \(at obj\['f'\]\)"),
             (np.array([object()]), TypeError, "dtype object.*pickle"),
             (np.array(["text"]), TypeError, "dtype <U4"),
             (cyclic, ValueError, "contains itself")]
    for obj, exc, message in cases:
        with pytest.raises(exc, match=message):
            ts.save(obj, path)
    assert ts.load(path) == {"v": 1} and os.listdir(tmp_path) == ["keep"]
    with pytest.raises(TypeError, match="path must be"):
        ts.save({}, 3)
    with pytest.raises(TypeError, match="path must be"):
        ts.load(3.5)


# ---------------------------------------------------------------- refusing files

def test_missing_file_is_a_plain_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        ts.load(tmp_path / "nope")


def _saved(tmp_path):
    path = tmp_path / "good.tsz"
    obj = {"w": np.arange(12.0).reshape(3, 4), "b": [np.ones(2, dtype=np.int64)], "s": "x"}
    ts.save(obj, path)
    return path, obj


def test_truncated_files_are_refused(tmp_path):
    path, _ = _saved(tmp_path)
    data = path.read_bytes()
    bad = tmp_path / "truncated.tsz"
    for n in list(range(0, len(data), 13)) + [len(data) - 1]:
        bad.write_bytes(data[:n])
        with pytest.raises(ts.SerializationError, match="truncated.tsz"):
            ts.load(bad)


def test_corrupted_bytes_are_refused_or_harmless(tmp_path):
    path, obj = _saved(tmp_path)
    data = bytearray(path.read_bytes())
    bad = tmp_path / "corrupted.tsz"
    refused = 0
    for i in range(0, len(data), 3):
        flipped = bytearray(data)
        flipped[i] ^= 0xA5
        bad.write_bytes(bytes(flipped))
        try:
            back = ts.load(bad)
        except ts.SerializationError as e:
            assert "corrupted.tsz" in str(e)
            refused += 1
        else:           # a byte nothing reads (a timestamp, an attribute) changed
            assert same(back, obj), i
    assert refused > len(data) // 3 // 2


def test_files_that_are_not_saves_are_refused(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello, not a checkpoint\n")
    with pytest.raises(ts.SerializationError, match=r"notes.txt: not a zip archive"):
        ts.load(text)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(ts.SerializationError, match="empty"):
        ts.load(empty)
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.ones(3))
    with pytest.raises(ts.SerializationError, match=r"plain.npz: a plain .npz archive.*numpy.load"):
        ts.load(plain)
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(ts.SerializationError, match="no 'tinygrad_seq.json' member"):
        ts.load(other_zip)


def _forge(path, structure, members=()):
    """A zip with a given structure member (str or object) and extra members."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("tinygrad_seq.json", structure if isinstance(structure, str)
                    else json.dumps(structure))
        for name, data in members:
            zf.writestr(name, data)
    return path


def _npy(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def _doc(obj):
    return {"format": "tinygrad_seq", "version": 1, "object": obj}


def _tensor_tag(member="tensors/0.npy", dtype="float64", shape=(3,)):
    return {"$tensor": member, "dtype": dtype, "shape": list(shape)}


@pytest.mark.parametrize("structure, members, message", [
    ("{not json", [], "is not valid JSON"),
    ({"format": "other", "version": 1, "object": 1}, [], "does not describe a tinygrad_seq save"),
    ([1, 2], [], "does not describe a tinygrad_seq save"),
    (_doc(1) | {"version": 2}, [], "format version 2 was written by a newer tinygrad_seq; "
                                   "this one reads versions up to 1"),
    (_doc(1) | {"version": True}, [], "the format version true is not an integer"),
    (_doc(1) | {"version": "1"}, [], "the format version \"1\" is not an integer"),
    (_doc(1) | {"version": 0}, [], "format version 0 does not exist"),
    (_doc(_tensor_tag() | {"requires_grad": "yes"}), [], "malformed tensor entry"),
    (_doc({"$set": [1]}), [], r"unexpected \{\"\$set\": \[1\]\} at obj"),
    (_doc({"$dict": [["a", 1, 2]]}), [], "not a \\[str or int key, value\\] pair"),
    (_doc({"$dict": [[1.5, 1]]}), [], "not a \\[str or int key, value\\] pair"),
    (_doc({"$float": "1e5"}), [], "unexpected"),
    (_doc({"$dict": [["w", _tensor_tag()]]}), [],
     r"member 'tensors/0.npy' is missing \(the structure refers to it\)"),
    (_doc(_tensor_tag() | {"evil": 1}), [], "malformed tensor entry"),
    (_doc(_tensor_tag(shape=(4,))), [("tensors/0.npy", _npy(np.zeros(3)))],
     r"holds float64 \[3\] but the structure says float64 \[4\]"),
    (_doc(_tensor_tag()), [("tensors/0.npy", b"not an npy")], "is not a .npy array"),
    (_doc(_tensor_tag()), [("tensors/0.npy", _npy(np.zeros(3))[:-8])],
     "has 144 bytes but its header"),
    (_doc(_tensor_tag(dtype="<U1")), [("tensors/0.npy", _npy(np.array(["a", "b", "c"])))],
     "which is not a tensor dtype"),
    (_doc(_tensor_tag()), [("tensors/0.npy", _npy(np.zeros(3)).replace(b"'descr'", b"'dexcr'"))],
     "malformed .npy header"),
])
def test_malformed_saves_are_refused(tmp_path, structure, members, message):
    path = _forge(tmp_path / "forged.tsz", structure, members)
    with pytest.raises(ts.SerializationError, match=message) as info:
        ts.load(path)
    assert "forged.tsz" in str(info.value) and isinstance(info.value, ValueError)


# ---------------------------------------------------------------- never unpickle

MARKERS = []


def _record(marker):
    """What a malicious pickle would run: records that it ran and leaves a file."""
    MARKERS.append(marker)
    open(marker, "w").close()
    return "payload ran"


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return _record, (self.marker,)


def _live_payload(marker, protocol=pickle.HIGHEST_PROTOCOL):
    """Pickle bytes that run _record(marker) when unpickled (checked: they do)."""
    payload = pickle.dumps({"weights": Evil(str(marker))}, protocol=protocol)
    assert pickle.loads(payload) == {"weights": "payload ran"} and os.path.exists(marker)
    os.remove(marker)
    MARKERS.clear()
    return payload


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_a_pickle_file_is_refused_and_not_run(tmp_path, protocol):
    marker = tmp_path / "PWNED"
    path = tmp_path / "model.pkl"
    path.write_bytes(_live_payload(marker, protocol))
    with pytest.raises(ts.SerializationError, match="model.pkl") as info:
        ts.load(path)
    if protocol >= 2:
        assert "pickle" in str(info.value)
    assert not marker.exists() and MARKERS == []


def test_an_object_array_member_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "PWNED"
    _live_payload(marker)
    member = _npy(np.array([Evil(str(marker)), 1], dtype=object), allow_pickle=True)
    assert b"_record" in member                           # the payload is in the file
    with io.BytesIO(member) as f:                         # and numpy would run it
        np.load(f, allow_pickle=True)
    assert marker.exists()
    marker.unlink()
    MARKERS.clear()
    path = _forge(tmp_path / "evil.tsz", _doc(_tensor_tag(dtype="object", shape=(2,))),
                  [("tensors/0.npy", member)])
    with pytest.raises(ts.SerializationError, match=r"evil.tsz.*Python objects.*pickle"):
        ts.load(path)
    # a plain .npz carrying the same object array is refused too
    npz = tmp_path / "evil.npz"
    np.savez(npz, w=np.array([Evil(str(marker))], dtype=object), allow_pickle=True)
    with pytest.raises(ts.SerializationError, match="evil.npz"):
        ts.load(npz)
    assert not marker.exists() and MARKERS == []


def test_a_torch_save_file_is_refused_and_not_run(tmp_path):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "PWNED"
    _live_payload(marker)
    path = tmp_path / "model.pt"
    torch.save({"weights": torch.ones(2), "evil": Evil(str(marker))}, path)
    with pytest.raises(ts.SerializationError, match=r"model.pt: it looks like a torch.save"):
        ts.load(path)
    assert not marker.exists() and MARKERS == []


# ---------------------------------------------------------------- models, optimizers, PyTorch

class Tanh(nn.Module):
    def forward(self, x):
        return x.tanh()


def test_model_and_optimizer_state_roundtrip(tmp_path):
    ts.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), Tanh(), nn.Linear(8, 2))
    params = list(model.parameters())
    optim_state = {
        "state": {i: {"step": ts.tensor(3.0), "exp_avg": ts.randn(*p.shape),
                      "exp_avg_sq": ts.rand(*p.shape)} for i, p in enumerate(params)},
        "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8,
                          "weight_decay": 0.0, "amsgrad": False, "maximize": False,
                          "foreach": None, "params": list(range(len(params)))}],
    }
    path = tmp_path / "checkpoint.tsz"
    ts.save({"model": model.state_dict(), "optimizer": optim_state, "epoch": 7}, path)
    ckpt = ts.load(path)
    assert ckpt["epoch"] == 7 and same(ckpt["optimizer"], optim_state)
    group = ckpt["optimizer"]["param_groups"][0]
    assert group["betas"] == (0.9, 0.999) and isinstance(group["betas"], tuple)
    assert group["params"] == [0, 1, 2, 3] and group["foreach"] is None
    assert sorted(ckpt["optimizer"]["state"]) == [0, 1, 2, 3]
    assert ckpt["optimizer"]["state"][2]["step"].item() == 3.0

    fresh = nn.Sequential(nn.Linear(4, 8), Tanh(), nn.Linear(8, 2))
    assert fresh.load_state_dict(ckpt["model"]) == ([], [])
    x = ts.randn(5, 4)
    np.testing.assert_array_equal(fresh(x).numpy(), model(x).numpy())
    wrong = nn.Sequential(nn.Linear(4, 8), Tanh(), nn.Linear(8, 3))
    with pytest.raises(ts.ShapeError, match="'2.weight'"):
        wrong.load_state_dict(ts.load(path)["model"])
    with pytest.raises(KeyError, match="2.bias"):
        nn.Sequential(nn.Linear(4, 8), Tanh(), nn.Linear(8, 2, bias=False)).load_state_dict(
            ckpt["model"])


def test_import_pytorch_weights_end_to_end(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    torch_model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(),
                                      torch.nn.Linear(8, 8), torch.nn.Tanh(),
                                      torch.nn.Linear(8, 2))
    model = nn.Sequential(nn.Linear(4, 8), Tanh(), nn.Linear(8, 8), Tanh(), nn.Linear(8, 2))
    assert [k for k, _ in model.named_parameters()] == list(torch_model.state_dict())

    state = {k: v.detach().cpu().numpy() for k, v in torch_model.state_dict().items()}
    model.load_state_dict(state)
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    expected = torch_model(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(model(ts.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-6)

    # and through a file, into a fresh model, without torch
    path = tmp_path / "imported.tsz"
    ts.save(model.state_dict(), path)
    fresh = nn.Sequential(nn.Linear(4, 8), Tanh(), nn.Linear(8, 8), Tanh(), nn.Linear(8, 2))
    fresh.load_state_dict(ts.load(path))
    xs = ts.tensor(x, requires_grad=True)
    out = fresh(xs)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    # gradients agree as well
    xt = torch.from_numpy(x).requires_grad_(True)
    torch_model(xt).square().sum().backward()
    out.square().sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(fresh[0].weight.grad.numpy(), torch_model[0].weight.grad.numpy(),
                               rtol=1e-4, atol=1e-6)

    # the other way: our weights into torch
    ts.manual_seed(3)
    other = nn.Sequential(nn.Linear(4, 8), Tanh(), nn.Linear(8, 8), Tanh(), nn.Linear(8, 2))
    torch_model.load_state_dict(OrderedDict(
        (k, torch.from_numpy(v.numpy())) for k, v in other.state_dict().items()))
    np.testing.assert_allclose(torch_model(torch.from_numpy(x)).detach().numpy(),
                               other(ts.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)


def test_readme_snippet_runs(tmp_path, monkeypatch):
    """The snippet offered for README.md (no torch needed)."""
    monkeypatch.chdir(tmp_path)
    snippet = '''
import tempfile, os
import tinygrad_seq as ts
from tinygrad_seq import nn

model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "checkpoint.tsz")          # written exactly there, atomically
    ts.save({"model": model.state_dict(), "epoch": 3, "betas": (0.9, 0.999)}, path)
    ckpt = ts.load(path)                                 # no pickle involved, ever
fresh = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
fresh.load_state_dict(ckpt["model"])                     # checks names and shapes
assert ckpt["epoch"] == 3 and ckpt["betas"] == (0.9, 0.999)
'''
    namespace = {}
    exec(snippet, namespace)
    x = ts.randn(2, 4)
    np.testing.assert_array_equal(namespace["fresh"](x).numpy(), namespace["model"](x).numpy())
    assert os.listdir(tmp_path) == []


def test_load_takes_torchs_keywords(tmp_path):
    """torch.load(path, map_location=device, weights_only=True), as nanoGPT's train.py
    resumes (found by tests/conformance)."""
    path = str(tmp_path / "ckpt.pt")
    ts.save({"model": {"w": ts.ones(2)}, "iter_num": 3, "config": {"init_from": "resume"}}, path)
    for kwargs in (dict(map_location="cpu"), dict(map_location=ts.device("cpu")),
                   dict(weights_only=True), dict(map_location="cpu", weights_only=False)):
        ckpt = ts.load(path, **kwargs)
        assert ckpt["iter_num"] == 3 and ckpt["model"]["w"].tolist() == [1.0, 1.0]
    with pytest.raises(TypeError):
        ts.load(path, map_location={"cuda:0": "cpu"})
    with pytest.raises(TypeError):
        ts.load(path, device="cpu", map_location="cpu")
    with pytest.raises(ValueError):
        ts.load(path, mmap=True)
