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
import stat
import struct
import sys
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import tinygrad_seq as ts
from harness import (NamedBytes, check_hostile_load, forge_zip, local_header, run_python,
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

class Unseekable(io.RawIOBase):
    def __init__(self, data):
        self.inner = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, b):
        return self.inner.readinto(b)


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
    with pytest.raises(ts.SerializationError, match=r"truncated"):
        check = check_hostile_load(lambda f: ts.load_safetensors(
            io.BufferedReader(Unseekable(f.getvalue()))), lying, name="BufferedReader")
        assert check == "refused"
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
