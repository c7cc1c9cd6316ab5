"""Read and write the safetensors format (Hugging Face's), without the ``safetensors``
package: ``ts.save_safetensors`` / ``ts.load_safetensors``.

    ts.save_safetensors(model.state_dict(), "model.safetensors", metadata={"epoch": "3"})
    model.load_state_dict(ts.load_safetensors("model.safetensors"))
    # a file from PyTorch: safetensors.torch.save_file(torch_model.state_dict(), path)

The format
    An 8-byte little-endian unsigned integer N, then N bytes of UTF-8 JSON (the header),
    then the byte buffer. The header maps each tensor name to
    ``{"dtype": "F32", "shape": [3, 4], "data_offsets": [begin, end]}``, the byte range
    of its data in the buffer (little-endian, C order); an optional ``"__metadata__"``
    entry maps str to str. The ranges must cover the buffer exactly, with no gap, no
    overlap and nothing after the last one. ``save_safetensors`` writes what the
    reference implementation (safetensors 0.8) writes, byte for byte: compact UTF-8
    JSON with ``"__metadata__"`` first (its entries in the dict's order; the
    reference's order for two or more varies from run to run), the tensors ordered by
    dtype as the reference orders them (8-byte elements first, then 4, 2 and 1, so each
    tensor's data is aligned to its element size) and then by name, the header padded
    with spaces to a multiple of 8 bytes. So the order of a state dict is not kept in
    the file: ``load_safetensors`` returns the tensors in file order (by offset), and
    ``load_state_dict`` matches them by name.

dtypes
    BOOL, U8, I8, I16, U16, F16, I32, U32, F32, C64, F64, I64 and U64 are NumPy's bool,
    uint8, int8, ..., complex64, float64, int64, uint64, both ways. BF16 has no NumPy
    dtype: ``load_safetensors`` turns it into float32, exactly (a bfloat16 is the top
    16 bits of a float32), and saving cannot produce it. The FP8, FP6 and FP4 dtypes
    are refused on load; arrays whose dtype the format lacks (complex128, float128,
    strings, objects) are refused on save with a DTypeError naming the key.

Safety
    Only JSON and raw bytes are read, nothing is unpickled. A truncated file, a header
    size beyond the end of the file or over 100 MB (the reference's limit), a header
    that is not UTF-8 JSON (integers of thousands of digits included), an unknown
    dtype, a shape NumPy cannot hold (over 64 dims, over 2**63 bytes, even with a zero
    dim), a shape that disagrees with the byte range, offsets that overlap or leave
    gaps, metadata that is not str to str, a name that appears twice: each raises a
    ``ts.SerializationError`` naming the file and what is wrong. The ranges are checked
    against the file's size before any data is read, so what is allocated is bounded by
    the file's size (twice it for BF16, which becomes float32). The format has no checksum: a changed byte of tensor data loads
    as a changed value (only ``ts.save``'s format detects that). A path must name a
    regular file (a device such as /dev/zero, a named pipe are refused before
    reading); an unseekable stream (a pipe) loads, read in bounded chunks, so a size it
    does not deliver costs no memory. Writing is atomic, as for ``ts.save`` (temporary
    file, fsync, rename; what a hard kill can leave is said in tinygrad_seq.io's
    docstring). A binary file object (such as ``io.BytesIO``) works in place of a path
    for both functions.
"""
import json
import os
import struct
from collections.abc import Mapping

from . import backend
from .autograd import Tensor
from .errors import DTypeError, SerializationError
from .io import _atomic_write, _open_for_reading, shape_problem

METADATA_KEY = "__metadata__"

# safetensors name -> NumPy dtype string (little-endian), in the order of the reference
# implementation's Dtype enum (increasing alignment): writers sort by it, descending.
_DTYPES = {"BOOL": "|b1", "U8": "|u1", "I8": "|i1", "I16": "<i2", "U16": "<u2", "F16": "<f2",
           "BF16": None, "I32": "<i4", "U32": "<u4", "F32": "<f4", "C64": "<c8",
           "F64": "<f8", "I64": "<i8", "U64": "<u8"}
_RANK = {name: i for i, name in enumerate(_DTYPES)}
_BY_KIND = {(backend.dtype(s).kind, backend.dtype(s).itemsize): name
            for name, s in _DTYPES.items() if s is not None}    # ("f", 4) -> "F32"
_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4,
          "U32": 4, "F32": 4, "C64": 8, "F64": 8, "I64": 8, "U64": 8}
_UNSUPPORTED = ("F8_E5M2", "F8_E4M3", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4")
MAX_HEADER_SIZE = 100_000_000   # the reference implementation's limit on the JSON header
_CHUNK = 1 << 20                # bytes per read from a stream whose size is unknown


# ---------------------------------------------------------------- saving

def _format_dtype(array, key):
    dtype = array.dtype
    name = _BY_KIND.get((dtype.kind, dtype.itemsize)) if dtype.fields is None else None
    if name is None:
        raise DTypeError(f"ts.save_safetensors: {key!r} has dtype {dtype}, which the "
                         "safetensors format does not have (it has bool, uint8/16/32/64, "
                         "int8/16/32/64, float16/32/64 and complex64)")
    return name


def _entries(tensors):
    """(name, dtype name, host-or-device array) of each tensor, in the file's order."""
    if not isinstance(tensors, Mapping):
        raise TypeError(f"ts.save_safetensors: expected a dict of name -> Tensor or array "
                        f"(a state dict), got {type(tensors).__name__}")
    entries = []
    for key, value in tensors.items():
        if not isinstance(key, str):
            raise TypeError(f"ts.save_safetensors: tensor names must be str, got "
                            f"{type(key).__name__} {key!r}")
        if key == METADATA_KEY:
            raise ValueError(f"ts.save_safetensors: {METADATA_KEY!r} is reserved for the "
                             "metadata (pass metadata=...), it cannot name a tensor")
        if isinstance(value, Tensor):
            array = value.array
        elif backend.is_array(value):
            array = backend.as_ndarray(value) if isinstance(value, backend.numpy_scalar) \
                else value
        else:
            raise TypeError(f"ts.save_safetensors: {key!r} is a {type(value).__name__}; "
                            "expected a Tensor or a NumPy/CuPy array")
        entries.append((key, _format_dtype(array, key), array))
    entries.sort(key=lambda e: (-_RANK[e[1]], e[0]))
    return entries


def _check_metadata(metadata):
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError("ts.save_safetensors: metadata must be a dict of str -> str (the "
                        "format allows nothing else; json.dumps other values first), got "
                        f"{metadata!r:.100}")
    return dict(metadata)


def _header(entries, metadata):
    header, offset = {}, 0
    if metadata is not None:
        header[METADATA_KEY] = metadata
    for key, name, array in entries:
        nbytes = array.size * _SIZES[name]
        header[key] = {"dtype": name, "shape": [int(n) for n in array.shape],
                       "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    try:
        text = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"ts.save_safetensors: a name or metadata string is not valid "
                         f"Unicode ({e})") from None
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text


def _write(f, header, entries):
    f.write(header)
    for key, name, array in entries:
        if not array.size:
            continue
        if backend.device_of(array) != "cpu":
            array = backend.to_numpy(array)
        little = backend.dtype(_DTYPES[name])
        if array.dtype != little or not array.flags.c_contiguous:
            array = backend.as_ndarray(array, dtype=little, order="C")
        f.write(memoryview(array.reshape(-1).view("u1")))


def save_safetensors(tensors, path, metadata=None):
    """Write a dict of name -> Tensor or NumPy/CuPy array (a state dict) to `path` in
    the safetensors format, atomically, or to a binary file object. `metadata`, if
    given, is a dict of str -> str stored under ``"__metadata__"``. The bytes are those
    the safetensors package writes for the same input. A dtype the format lacks
    (complex128, float128, ...) raises DTypeError; a non-str name or metadata raises
    TypeError. See the module docstring."""
    metadata = _check_metadata(metadata)
    entries = _entries(tensors)
    header = _header(entries, metadata)
    if hasattr(path, "write"):
        _write(path, header, entries)
        return
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"ts.save_safetensors: path must be a str, os.PathLike or binary "
                        f"file, got {type(path).__name__}")
    _atomic_write(os.fsdecode(path), lambda f: _write(f, header, entries))


# ---------------------------------------------------------------- loading

class _Reader:
    def __init__(self, fileobj, name):
        self.f, self.name = fileobj, name
        try:                                   # bytes left in the file, when it can tell
            start = fileobj.tell()
            self.remaining = fileobj.seek(0, os.SEEK_END) - start
            fileobj.seek(start)
        except (AttributeError, OSError, ValueError):
            self.remaining = None

    def fail(self, reason):
        return SerializationError(f"ts.load_safetensors: {self.name}: {reason}")

    def read(self, n, what):
        """n bytes. From a stream of unknown size they are read in chunks, so that a
        size the stream does not deliver costs no more memory than what arrived."""
        if self.remaining is not None:
            if n > self.remaining:
                raise self.fail(f"truncated: {what} needs {n} bytes but only "
                                f"{self.remaining} are left in the file")
            data = self.f.read(n)
            self.remaining -= len(data)
        else:
            parts, got = [], 0
            while got < n:
                part = self.f.read(min(_CHUNK, n - got))
                if not part:
                    break
                parts.append(part)
                got += len(part)
            data = b"".join(parts)
        if len(data) < n:
            raise self.fail(f"truncated: {what} needs {n} bytes but only {len(data)} are "
                            "left in the file")
        return data

    def read_into(self, buffer, what):
        view, got = memoryview(buffer), 0
        while got < len(buffer):
            n = self.f.readinto(view[got:])
            if not n:
                raise self.fail(f"truncated: {what} ends {len(buffer) - got} bytes early")
            got += n

    def tensor_bytes(self, n, what):
        """The n bytes of a tensor's data. The size is checked against the file's
        when it is known (_check_layout); from a stream it grows as bytes arrive."""
        if self.remaining is None:
            return bytearray(self.read(n, what))
        buffer = bytearray(n)
        self.read_into(buffer, what)
        return buffer


def _no_duplicates(reader):
    def hook(pairs):
        out = {}
        for key, value in pairs:
            if key in out:
                raise reader.fail(f"the header has the key {key!r} twice in one object")
            out[key] = value
        return out
    return hook


def _count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _parse_header(reader, text):
    try:
        header = json.loads(text.decode("utf-8"), object_pairs_hook=_no_duplicates(reader))
    except UnicodeDecodeError as e:
        raise reader.fail(f"the header is not UTF-8 ({e})") from None
    except (ValueError, RecursionError) as e:    # JSONDecodeError, 5000-digit integers
        raise reader.fail(f"the header is not valid JSON ({str(e)[:200]})") from None
    if not isinstance(header, dict):
        raise reader.fail(f"the header is a JSON {type(header).__name__}, not an object of "
                          "name -> tensor info")
    metadata = header.pop(METADATA_KEY, None)
    if metadata is not None and not (isinstance(metadata, dict) and all(
            isinstance(v, str) for v in metadata.values())):
        raise reader.fail(f"{METADATA_KEY!r} must map str to str, got "
                          f"{json.dumps(metadata)[:80]}")
    infos = []
    for key, info in header.items():
        if not (isinstance(info, dict) and {"dtype", "shape", "data_offsets"} <= set(info)):
            raise reader.fail(f"tensor {key!r}: expected an object with dtype, shape and "
                              f"data_offsets, got {json.dumps(info)[:80]}")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype in _UNSUPPORTED:
            raise reader.fail(f"tensor {key!r} has dtype {dtype}, which tinygrad_seq cannot "
                              "hold (no NumPy dtype); convert it where it was written")
        if not isinstance(dtype, str) or dtype not in _DTYPES:
            raise reader.fail(f"tensor {key!r} has an unknown dtype {json.dumps(dtype)[:40]} "
                              f"(expected one of {', '.join(_DTYPES)})")
        if not (isinstance(shape, list) and all(_count(n) for n in shape)):
            raise reader.fail(f"tensor {key!r}: shape {json.dumps(shape)[:80]} is not a list "
                              "of non-negative integers")
        problem = shape_problem(shape, _SIZES[dtype])
        if problem:
            raise reader.fail(f"tensor {key!r}: shape {json.dumps(shape)[:80]} {problem}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_count, offsets))):
            raise reader.fail(f"tensor {key!r}: data_offsets {json.dumps(offsets)[:80]} is "
                              "not a [begin, end] pair of non-negative integers")
        infos.append((key, dtype, tuple(shape), offsets[0], offsets[1]))
    return infos, metadata


def _check_layout(reader, infos, buffer_size):
    """Sort the tensors by offset and check that they tile [0, buffer_size) exactly."""
    infos.sort(key=lambda e: (e[3], e[4]))
    cursor = 0
    for key, dtype, shape, begin, end in infos:
        if end < begin:
            raise reader.fail(f"tensor {key!r}: data_offsets [{begin}, {end}] end before "
                              "they begin")
        if begin != cursor:
            how = "overlaps the previous tensor" if begin < cursor else \
                f"leaves a gap of {begin - cursor} bytes before it"
            raise reader.fail(f"tensor {key!r}: data_offsets [{begin}, {end}] {how} (the "
                              f"previous one ends at {cursor}); the tensors must cover the "
                              "buffer without gaps or overlaps")
        count = 1
        for n in shape:
            count *= n
        if (end - begin) != count * _SIZES[dtype]:
            raise reader.fail(f"tensor {key!r}: {dtype} of shape {list(shape)} needs "
                              f"{count * _SIZES[dtype]} bytes but data_offsets [{begin}, "
                              f"{end}] hold {end - begin}")
        cursor = end
    if buffer_size is not None and cursor != buffer_size:
        if cursor > buffer_size:
            raise reader.fail(f"truncated: the tensors need {cursor} bytes of data but only "
                              f"{buffer_size} follow the header")
        raise reader.fail(f"{buffer_size - cursor} bytes after the last tensor's data (the "
                          f"tensors cover {cursor} of the {buffer_size} bytes after the "
                          "header)")
    return infos


def _array(buffer, dtype, shape):
    xp = backend.xp("cpu")
    if dtype == "BF16":          # bfloat16 is the top half of a float32: exact
        bits = xp.frombuffer(buffer, dtype="<u2").astype(xp.uint32) << 16
        return bits.view(xp.float32).reshape(shape)
    if dtype == "BOOL":          # any nonzero byte is True, as a stored 0/1 would be
        return (xp.frombuffer(buffer, dtype=xp.uint8) != 0).reshape(shape)
    little = xp.dtype(_DTYPES[dtype])
    array = xp.frombuffer(buffer, dtype=little).reshape(shape)
    if not little.isnative:
        array = array.astype(little.newbyteorder("="))
    return array


def load_safetensors(path, device=None):
    """Read a safetensors file (from a path or a binary file object) into a dict of
    name -> Tensor, in file order, on `device` (the default device if None). BF16
    tensors come back as float32, converted exactly; the other dtypes as they are
    (see the module docstring). Never unpickles; anything that is not an intact
    safetensors file raises SerializationError naming the file and the reason."""
    return _load(path, device)[0]


def load_safetensors_metadata(path):
    """The ``"__metadata__"`` dict (str -> str) of a safetensors file, {} if it has none;
    checks the whole header as ``load_safetensors`` does but reads no tensor data."""
    return _load(path, None, data=False)[1]


def _load(path, device, data=True):
    device = backend.check_device(device)
    name, fileobj, close = _open_for_reading(path, "ts.load_safetensors")
    try:
        reader = _Reader(fileobj, name)
        if reader.remaining is not None and reader.remaining < 8:
            raise reader.fail(f"truncated: {reader.remaining} bytes, but a safetensors file "
                              "starts with an 8-byte header size")
        size = struct.unpack("<Q", reader.read(8, "the header size"))[0]
        if reader.remaining is not None and size > reader.remaining:
            raise reader.fail(f"the header size {size} is larger than the file (only "
                              f"{reader.remaining} bytes follow it): truncated, or not a "
                              "safetensors file")
        if size > MAX_HEADER_SIZE:      # from a stream: before reading any of it
            raise reader.fail(f"the header size {size} is over the limit of {MAX_HEADER_SIZE} "
                              "bytes (the reference implementation's): not a safetensors file")
        infos, metadata = _parse_header(reader, reader.read(size, f"the {size}-byte header"))
        infos = _check_layout(reader, infos, reader.remaining)
        if not data:
            return None, metadata or {}
        out = {}
        for key, dtype, shape, begin, end in infos:
            buffer = reader.tensor_bytes(end - begin, f"tensor {key!r}")
            out[key] = Tensor._make(backend.to_device(_array(buffer, dtype, shape), device))
        if reader.remaining is None and fileobj.read(1):
            raise reader.fail("bytes after the last tensor's data (the tensors must cover "
                              "the buffer exactly)")
        return out, metadata or {}
    finally:
        if close:
            fileobj.close()
