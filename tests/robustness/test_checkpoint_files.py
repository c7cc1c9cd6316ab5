"""Hostile checkpoint files for ``ts.load`` and ``ts.load_safetensors`` (issue "Hostile
input and hard stops"): first one test per filed defect (numbered as in the issue),
then Hypothesis-driven mutations of valid files, checked with harness.check_hostile_load.

The invariant: SerializationError naming the file, or a successful load, within 2 s and
256 MiB above the file's size, never MemoryError, a hang or a crash. ``ts.load``'s
members carry CRC-32s (zip), so a file it loads must also give back the very object
saved; safetensors has no checksum, so a flipped data byte loads as a different value
there and only the invariant itself is checked.

Default run (profile "ci"): a bounded number of cases, derandomized; with
HYPOTHESIS_PROFILE=thorough, many more (see tests/conftest.py).
"""
import io
import json
import os
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_seq as ts
from harness import (NamedBytes, Unseekable, check_hostile_load, forge_zip, local_header, run_python,
                     zip_members)

NPY_MAGIC = b"\x93NUMPY"


def saved_bytes(obj):
    f = io.BytesIO()
    ts.save(obj, f)
    return f.getvalue()


def safetensors_bytes(tensors, metadata=None):
    f = io.BytesIO()
    ts.save_safetensors(tensors, f, metadata=metadata)
    return f.getvalue()


def npy(descr, shape, data=b"", fortran=False):
    """A .npy 1.0 member with any header we like (the header is not checked here)."""
    text = "{'descr': %r, 'fortran_order': %r, 'shape': %r, }" % (descr, fortran, shape)
    text += " " * (-(len(NPY_MAGIC) + 4 + len(text) + 1) % 64) + "\n"
    return NPY_MAGIC + b"\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1") + data


def structure(obj):
    return json.dumps({"format": "tinygrad_seq", "version": 1, "object": obj}).encode()


def tensor_tag(dtype="float64", shape=(3,), member="tensors/0.npy"):
    return {"$tensor": member, "dtype": dtype, "shape": list(shape)}


def forged_checkpoint(dtype, shape, data=b"", **sizes):
    """A checkpoint whose one tensor declares (dtype, shape) in JSON and .npy header but
    holds `data`; `sizes` forge the zip's declared sizes of that member."""
    member = npy(np.dtype(dtype).str, tuple(shape), data)
    return forge_zip([{"name": "tinygrad_seq.json", "data": structure(tensor_tag(dtype, shape))},
                      {"name": "tensors/0.npy", "data": member, **sizes}])


def refused(load, data, match, name="hostile.bin"):
    """Assert `load` refuses `data` (in memory, named `name`) with a SerializationError
    that names the file and matches `match`, within the harness's bounds."""
    assert check_hostile_load(load, data, name=name) == "refused"
    with pytest.raises(ts.SerializationError, match=match):
        load(NamedBytes(data, name))


def same_structure(a, b):
    """Deep equality of what ts.load returned and what was saved (Tensors by dtype,
    shape and bytes; tuples and lists kept apart)."""
    if isinstance(b, np.ndarray):
        return (isinstance(a, ts.Tensor) and a.dtype == b.dtype and a.shape == b.shape
                and a.numpy().tobytes() == b.tobytes())
    if type(a) is not type(b):
        return False
    if isinstance(b, dict):
        return list(a) == list(b) and all(same_structure(a[k], b[k]) for k in b)
    if isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_structure(x, y) for x, y in zip(a, b))
    return a == b


# ================================================================ the filed defects

# ---- 6. declared sizes are checked against the bytes stored before allocating

def test_6_a_forged_2_gib_member_is_refused_without_allocating_it():
    # a ~500-byte file whose zip entry and .npy header agree on 2 GiB of float64
    data = forged_checkpoint("float64", (2 ** 28,), file_size=2 ** 31 + 128)
    assert len(data) < 600
    refused(ts.load, data, r"hostile\.bin: member 'tensors/0.npy' declares 2147483776 bytes "
                           r"but stores 128")


def test_6_a_forged_256_gib_member_is_a_serialization_error_not_memory_error():
    data = forged_checkpoint("float64", (2 ** 35,), file_size=2 ** 38 + 128)
    refused(ts.load, data, r"declares 274877907072 bytes but stores 128")


def test_6_members_nested_in_each_other_are_refused():
    # member 1's local header and data sit inside member 0's data: both are intact
    # (their CRCs hold), but their bytes would be allocated twice; nest a thousand such
    # members and a small file allocates a thousand times its size
    inner = {"name": "tensors/1.npy", "data": npy("<f8", (3,), np.ones(3).tobytes())}
    blob = local_header(inner)[0] + inner["data"]
    outer = {"name": "tensors/0.npy", "data": npy("|u1", (len(blob),), blob)}
    text = structure({"$dict": [["a", tensor_tag("uint8", (len(blob),))],
                                ["b", tensor_tag("float64", (3,), "tensors/1.npy")]]})
    first = {"name": "tinygrad_seq.json", "data": text}
    where = len(local_header(first)[0] + text) + len(local_header(outer)[0]) + \
        len(outer["data"]) - len(blob)
    data = forge_zip([first, outer, dict(inner, offset=where)])
    refused(ts.load, data, r"hostile\.bin: member 'tensors/1.npy' overlaps member "
                           r"'tensors/0.npy'")


# ---- 7. compressed members are refused (ts.save never compresses)

def compressed(data, level=9):
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def test_7_a_deflated_member_is_refused():
    good = saved_bytes({"w": np.arange(3.0)})
    members = [dict(m, data=compressed(m["data"]), method=8, file_size=len(m["data"]),
                    crc=zlib.crc32(m["data"])) for m in zip_members(good)]
    refused(ts.load, forge_zip(members), r"hostile\.bin: member 'tinygrad_seq.json' is "
                                         r"compressed \(method 8\)")


def test_7_a_deflate_bomb_is_refused_quickly_and_small():
    # 200 MB of JSON whitespace in ~200 KB: refused before anything is inflated
    text = structure(1)[:-1] + b" " * (200 * 2 ** 20) + b"}"
    bomb = forge_zip([{"name": "tinygrad_seq.json", "data": compressed(text), "method": 8,
                       "file_size": len(text), "crc": zlib.crc32(text)}])
    assert len(bomb) < 300_000
    refused(ts.load, bomb, r"compressed")


# ---- 9. every malformed safetensors header is a SerializationError naming the file

def safetensors_file(header, data=b""):
    text = header if isinstance(header, str) else json.dumps(header)
    text = text.encode()
    return struct.pack("<Q", len(text)) + text + data


@pytest.mark.parametrize("shape, match", [
    ([2 ** 62, 0], r"shape \[4611686018427387904, 0\] is too large"),
    ([10 ** 30, 0], r"shape \[1000000000000000000000000000000, 0\] is too large"),
    ([0, 2 ** 63], r"shape \[0, 9223372036854775808\] is too large"),
    ([1] * 65, r"shape \[1, 1, .* has 65 dims \(at most 64\)"),
])
def test_9_impossible_safetensors_shapes(shape, match):
    data = safetensors_file({"a": {"dtype": "F32", "shape": shape, "data_offsets": [0, 0]}})
    refused(ts.load_safetensors, data, r"hostile\.bin: tensor 'a': " + match)


def test_9_a_5000_digit_integer_in_a_safetensors_header():
    data = safetensors_file('{"a": {"dtype": "F32", "shape": [%s], "data_offsets": [0, 0]}}'
                            % ("9" * 5000))
    refused(ts.load_safetensors, data, r"hostile\.bin: the header is not valid JSON")


@pytest.mark.parametrize("shape, match", [
    ((2 ** 62, 0), r"shape \(4611686018427387904, 0\) is too large"),
    ((1,) * 65, r"has 65 dims \(at most 64\)"),
])
def test_9_impossible_npy_shapes_in_a_checkpoint(shape, match):
    refused(ts.load, forged_checkpoint("float32", shape), r"hostile\.bin: member "
                                                          r"'tensors/0.npy'.*" + match)


def test_9_a_5000_digit_integer_in_a_checkpoint_structure():
    data = forge_zip([{"name": "tinygrad_seq.json",
                       "data": b'{"format": "tinygrad_seq", "version": 1, "object": '
                               + b"9" * 5000 + b"}"}])
    refused(ts.load, data, r"hostile\.bin: 'tinygrad_seq.json' is not valid JSON")


# ---- 10. devices, pipes and unseekable streams: a clear error, no unbounded read

def test_10_ts_load_of_an_unseekable_stream_says_it_needs_a_seekable_file():
    stream = io.BufferedReader(Unseekable(saved_bytes({"w": np.arange(3.0)})))
    with pytest.raises(ts.SerializationError, match=r"BufferedReader: ts.load needs a seekable "
                                                    r"file"):
        ts.load(stream)


LOAD_DEV_ZERO = """
import tinygrad_seq as ts
for load in (ts.load, ts.load_safetensors):
    for source in ("/dev/zero", open("/dev/zero", "rb")):
        try:
            load(source)
        except ts.SerializationError as e:
            print("REFUSED", e)
"""


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_10_dev_zero_is_refused_at_once():
    # in a subprocess limited to 1 GiB and 60 s: the unfixed ts.load read /dev/zero forever
    rc, out, err, _ = run_python(LOAD_DEV_ZERO, timeout=60, memory=2 ** 30)
    assert rc == 0, err[-1000:]
    lines = [line for line in out.splitlines() if line.startswith("REFUSED")]
    assert len(lines) == 4
    assert all("/dev/zero: not a regular file (a character device)" in line for line in lines)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_10_a_named_pipe_path_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code = ("import sys, tinygrad_seq as ts\n"
            "for load in (ts.load, ts.load_safetensors):\n"
            "    try:\n        load(sys.argv[1])\n"
            "    except ts.SerializationError as e:\n        print('REFUSED', e)\n")
    rc, out, err, _ = run_python(code, timeout=30, memory=2 ** 30, args=(str(fifo),))
    assert rc == 0, f"rc {rc} (None: blocked on the pipe) {err[-1000:]}"
    assert out.count("not a regular file (a named pipe)") == 2


def test_10_an_unseekable_safetensors_stream_reads_no_more_than_it_receives():
    # streaming is supported, but a header size or tensor size the stream does not
    # deliver is neither allocated nor read past
    huge_header = struct.pack("<Q", 2 ** 40) + b"{}"
    with pytest.raises(ts.SerializationError, match=r"header size 1099511627776 is over the "
                                                    r"limit"):
        ts.load_safetensors(io.BufferedReader(Unseekable(huge_header)))
    lying = safetensors_file({"a": {"dtype": "U8", "shape": [2 ** 40],
                                    "data_offsets": [0, 2 ** 40]}}, b"\0" * 10)
    as_stream = lambda f: ts.load_safetensors(io.BufferedReader(Unseekable(f.getvalue())))  # noqa
    assert check_hostile_load(as_stream, lying, name="BufferedReader") == "refused"
    with pytest.raises(ts.SerializationError, match=r"truncated: tensor 'a' needs "
                                                    r"1099511627776 bytes but only 10"):
        ts.load_safetensors(io.BufferedReader(Unseekable(lying)))


# ---- 11. duplicate zip members and duplicate JSON keys are refused

def test_11_a_duplicate_member_is_refused():
    good = zip_members(saved_bytes({"w": np.arange(3.0)}))
    evil = dict(good[1], data=npy("<f8", (3,), np.ones(3).tobytes()))
    refused(ts.load, forge_zip(good + [evil]), r"hostile\.bin: the archive holds "
                                               r"'tensors/0.npy' twice")


def test_11_a_duplicate_structure_member_is_refused():
    good = zip_members(saved_bytes({"w": 1}))
    refused(ts.load, forge_zip(good + [dict(good[0], data=structure(2))]),
            r"holds 'tinygrad_seq.json' twice")


@pytest.mark.parametrize("text, match", [
    (b'{"format": "tinygrad_seq", "version": 1, "object": 1, "object": 2}',
     r"the key 'object' twice"),
    (b'{"format": "tinygrad_seq", "version": 1, "object": {"$dict": [["a", 1], ["a", 2]]}}',
     r"the key 'a' twice in the dict at obj"),
    (b'{"format": "tinygrad_seq", "version": 1, "object": {"$float": "nan", "$float": "inf"}}',
     r"the key '\$float' twice"),
])
def test_11_duplicate_keys_are_refused(text, match):
    refused(ts.load, forge_zip([{"name": "tinygrad_seq.json", "data": text}]),
            r"hostile\.bin: .*" + match)


# ================================================================ mutations of valid files

def small_checkpoint():
    """A small save exercising every tag: nested dict with int keys, tuple, list, a
    tied array, requires_grad, several dtypes, a non-finite float (about 1.5 KB)."""
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    return {"model": {"w": ts.tensor(w, requires_grad=True), "b": np.array([1.5, -2.0]),
                      0: np.array(True), "tied": w},
            "meta": ("step", 7, [None, float("inf"), "x"]),
            "ints": np.array([[1, 2], [3, 4]], np.int16)}


def as_saved(obj):
    """What ts.load gives back for `obj`, with Tensors as NumPy arrays (for comparing)."""
    return ts.load(io.BytesIO(saved_bytes(obj)))


CHECKPOINT = saved_bytes(small_checkpoint())
EXPECTED = as_saved(small_checkpoint())
SAFETENSORS = safetensors_bytes({"w": np.arange(6, dtype=np.float32).reshape(2, 3),
                                 "b": np.array([1.5, -2.0]), "flag": np.array([True, False]),
                                 "e": np.zeros((0, 3), np.int8)}, metadata={"epoch": "3"})


def same_as_expected(a, b):
    """Deep equality for two ts.load results (Tensors by dtype, shape, requires_grad and
    bytes; tuples and lists kept apart; nan equal to nan)."""
    if isinstance(b, ts.Tensor):
        return (isinstance(a, ts.Tensor) and a.dtype == b.dtype and a.shape == b.shape
                and a.requires_grad == b.requires_grad and a.numpy().tobytes() == b.numpy().tobytes())
    if type(a) is not type(b):
        return False
    if isinstance(b, dict):
        return list(a) == list(b) and all(same_as_expected(a[k], b[k]) for k in b)
    if isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_as_expected(x, y) for x, y in zip(a, b))
    return a == b or (a != a and b != b)


def load_checkpoint(data, label):
    return check_hostile_load(ts.load, data, name="fuzzed.tsz", expected=EXPECTED,
                              same=same_as_expected, label=label)


def load_safetensors(data, label):
    # no checksum: a changed data byte loads as a changed value, so no `same` here
    return check_hostile_load(ts.load_safetensors, data, name="fuzzed.safetensors",
                              label=label)


def test_the_pristine_files_load():
    assert load_checkpoint(CHECKPOINT, "ts.load: the pristine file") == "loaded"
    assert load_safetensors(SAFETENSORS, "load_safetensors: the pristine file") == "loaded"


def test_ts_load_refuses_every_truncation():
    for n in range(len(CHECKPOINT)):
        assert load_checkpoint(CHECKPOINT[:n], "ts.load: truncation") == "refused", n


def test_load_safetensors_refuses_every_truncation():
    for n in range(len(SAFETENSORS)):
        assert load_safetensors(SAFETENSORS[:n], "load_safetensors: truncation") == "refused", n


def flips(size):
    return st.lists(st.tuples(st.integers(0, size - 1), st.integers(1, 255)), min_size=1,
                    max_size=8)


def flipped(data, changes):
    out = bytearray(data)
    for where, mask in changes:
        out[where] ^= mask
    return bytes(out)


@given(flips(len(CHECKPOINT)))
def test_ts_load_byte_flips(changes):
    load_checkpoint(flipped(CHECKPOINT, changes), "ts.load: byte flips")


@given(flips(len(SAFETENSORS)))
def test_load_safetensors_byte_flips(changes):
    load_safetensors(flipped(SAFETENSORS, changes), "load_safetensors: byte flips")


# sizes a forger would try: around the true ones, the 32-bit and ZIP64 edges, huge
SIZES = st.one_of(st.integers(0, 4096), st.sampled_from(
    [2 ** 31 - 1, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1, 2 ** 32, 2 ** 38, 2 ** 62, 2 ** 64 - 1]))


@given(st.data())
def test_ts_load_forged_zip_sizes(data):
    members = zip_members(CHECKPOINT)
    i = data.draw(st.integers(0, len(members) - 1), label="member")
    forged = dict(members[i])
    for field in data.draw(st.sets(st.sampled_from(["file_size", "compress_size", "crc"]),
                                   min_size=1), label="fields"):
        forged[field] = data.draw(SIZES if field != "crc" else st.integers(0, 2 ** 32 - 1),
                                  label=field)
    members[i] = forged
    load_checkpoint(forge_zip(members), "ts.load: forged zip sizes")


DIMS = st.one_of(st.integers(0, 8), st.sampled_from([2 ** 31, 2 ** 32, 2 ** 62, 2 ** 63,
                                                     2 ** 64, 10 ** 30]))
DESCRS = st.sampled_from(["<f4", "<f8", ">f4", "|b1", "<i2", "<u8", "<c8", "<f2", "|O", "<U3",
                          "|V8", "<M8[s]", "[('a', '<f4')]", "<f4 ", "", "f" * 100])


@given(st.data())
def test_ts_load_crafted_npy_headers(data):
    """A member's .npy header replaced by a crafted one (descr, shape, order, padding,
    version), the structure agreeing with it or not, CRCs intact."""
    members = zip_members(CHECKPOINT)
    tensor_members = [i for i, m in enumerate(members) if m["name"].endswith(".npy")]
    i = data.draw(st.sampled_from(tensor_members), label="member")
    shape = tuple(data.draw(st.lists(DIMS, max_size=70), label="shape"))
    descr = data.draw(DESCRS, label="descr")
    body = data.draw(st.binary(max_size=64), label="data")
    header = npy(descr, shape, body, fortran=data.draw(st.booleans()))
    if data.draw(st.booleans(), label="damage the header text"):
        cut = data.draw(st.integers(len(NPY_MAGIC), len(header) - 1))
        header = header[:cut] + data.draw(st.binary(min_size=1, max_size=8)) + header[cut + 1:]
    members[i] = dict(members[i], data=header)
    if data.draw(st.booleans(), label="structure agrees"):
        doc = json.loads(members[0]["data"])
        try:
            dtype = np.dtype(descr).name
        except TypeError:
            dtype = descr
        _retag(doc["object"], members[i]["name"], dtype, list(shape))
        members[0] = dict(members[0], data=json.dumps(doc).encode())
    outcome = check_hostile_load(ts.load, forge_zip(members), name="fuzzed.tsz",
                                 label="ts.load: crafted .npy headers")
    assert outcome == "refused" or np.dtype(descr).kind in "biufc"


def _retag(node, member, dtype, shape):
    if isinstance(node, dict):
        if node.get("$tensor") == member:
            node["dtype"], node["shape"] = dtype, shape
        for v in node.values():
            _retag(v, member, dtype, shape)
    elif isinstance(node, list):
        for v in node:
            _retag(v, member, dtype, shape)


JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
                        st.floats(allow_nan=False), st.text(max_size=8))
TAGS = st.sampled_from(["$tensor", "$dict", "$tuple", "$float", "dtype", "shape",
                        "requires_grad", "format", "version", "object", "x"])
JSON_TREES = st.recursive(JSON_LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(TAGS, inner, max_size=4),
    st.builds(lambda m, d, s: {"$tensor": m, "dtype": d, "shape": s},
              st.sampled_from(["tensors/0.npy", "tensors/1.npy", "tensors/9.npy", "x"]),
              st.sampled_from(["float32", "float64", "int16", "bool", "object", "x"]),
              st.lists(DIMS, max_size=4))), max_leaves=20)


@given(JSON_TREES, st.sampled_from([0, 1, 2, True, "1", None]))
def test_ts_load_crafted_structures(tree, version):
    members = zip_members(CHECKPOINT)
    doc = {"format": "tinygrad_seq", "version": version, "object": tree}
    members[0] = dict(members[0], data=json.dumps(doc).encode())
    check_hostile_load(ts.load, forge_zip(members), name="fuzzed.tsz",
                       label="ts.load: crafted structures")


SAFETENSORS_DTYPES = st.sampled_from(["F32", "F64", "BOOL", "I8", "U64", "BF16", "F8_E4M3",
                                      "C64", "f32", "", "F128"])


@given(st.dictionaries(st.text(max_size=6), st.one_of(
    st.fixed_dictionaries({"dtype": SAFETENSORS_DTYPES, "shape": st.lists(DIMS, max_size=70),
                           "data_offsets": st.lists(SIZES, min_size=2, max_size=2)}),
    JSON_TREES), max_size=4), st.binary(max_size=96), st.one_of(st.none(), SIZES))
def test_load_safetensors_crafted_headers(header, body, declared_size):
    """Crafted JSON headers over a random buffer, the 8-byte header size true or forged."""
    text = json.dumps(header).encode()
    size = len(text) if declared_size is None else declared_size
    data = struct.pack("<Q", size) + text + body
    load_safetensors(data, "load_safetensors: crafted headers")


@given(st.data())
def test_load_safetensors_forged_sizes(data):
    """One tensor's shape or data_offsets forged in the real file's header."""
    size = struct.unpack("<Q", SAFETENSORS[:8])[0]
    header = json.loads(SAFETENSORS[8:8 + size])
    key = data.draw(st.sampled_from(sorted(k for k in header if k != "__metadata__")))
    field = data.draw(st.sampled_from(["shape", "data_offsets"]))
    header[key][field] = data.draw(st.lists(SIZES, min_size=0 if field == "shape" else 2,
                                            max_size=3 if field == "shape" else 2))
    text = json.dumps(header).encode()
    load_safetensors(struct.pack("<Q", len(text)) + text + SAFETENSORS[8 + size:],
                     "load_safetensors: forged sizes")
