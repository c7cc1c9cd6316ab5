"""Save and load state dicts and checkpoints without pickle: ``ts.save`` / ``ts.load``.

    ts.save(model.state_dict(), "model.tsz")
    model.load_state_dict(ts.load("model.tsz"))       # checks names and shapes

    ts.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3},
            "checkpoint.tsz")
    ckpt = ts.load("checkpoint.tsz")                   # device="cpu" to pick a device

What can be saved
    Nested dicts (str or int keys; int keys come back as ints, the order is kept),
    lists, tuples (they come back as tuples), str, int, float (nan and inf included),
    bool, None, Tensors and NumPy/CuPy arrays of bool, integer, float or complex
    dtype. NumPy scalars are saved as the Python numbers they hold. Anything else
    (sets, objects, object arrays, cycles) raises a TypeError/ValueError that says
    where in the object it sits (``obj['state'][0]['step']``), before the file is
    touched. ``ts.load`` returns the structure with a Tensor in place of each Tensor
    or array, on the default device (``device=`` to choose), with ``requires_grad``
    as it was. An array that occurs several times (tied weights in a state dict) is
    stored once and comes back as one Tensor, in each place.

The format
    A zip archive (stored, not compressed, as ``numpy.savez`` writes) with

    - ``tinygrad_seq.json``: ``{"format": "tinygrad_seq", "version": 1, "object": ...}``,
      the structure in JSON. JSON's null, true/false, numbers, strings and arrays stand
      for None, bool, int/float, str and list; every JSON object is one tag:
      ``{"$tensor": "tensors/0.npy", "dtype": "float32", "shape": [3, 4]}`` (plus
      ``"requires_grad": true`` when set), ``{"$tuple": [...]}``,
      ``{"$dict": [[key, value], ...]}`` and ``{"$float": "nan" | "inf" | "-inf"}``;
    - ``tensors/<i>.npy``: the arrays in NumPy's .npy format (version 1.0, C order).

    So other tools can read it: ``numpy.load(path)`` lists the arrays and
    ``json.loads(zipfile.ZipFile(path).read("tinygrad_seq.json"))`` the structure. The
    same object always gives the same bytes. ``ts.save`` writes to `path` exactly (no
    extension is added); ``.tsz`` is only a suggestion. A binary file object (such as
    ``io.BytesIO``) works in place of a path for both functions.

Safety: nothing is ever unpickled, nothing is allocated that the file does not hold
    ``ts.load`` reads the JSON and the raw array bytes and nothing else: a .npy member
    holding Python objects (which only pickle can rebuild), a pickle file,
    ``torch.save`` output, a plain .npz, a truncated or corrupted file, a member that
    is missing or whose header disagrees with the structure all raise a
    ``ts.SerializationError`` (a ``TinygradSeqError`` and ``ValueError``) naming the file
    and the reason. A missing file raises FileNotFoundError as usual.

    Hostile files are refused the same way, before anything large is allocated: a
    compressed or encrypted member (``ts.save`` stores; inflating is how a small file
    becomes gigabytes), a name twice in the archive, a key twice in a JSON object or in
    a dict, declared sizes that disagree with the bytes stored, members that run past
    the end of the file or overlap, shapes NumPy cannot hold (over 64 dims, over 2**63
    bytes), integers of thousands of digits. So what ts.load allocates for the arrays is
    bounded by the file's size (twice it, briefly, for an array stored in the other
    byte order), plus the Python objects of the JSON structure. Every
    member carries a CRC-32 that is checked, so a damaged file is refused, not loaded
    as different values. A path must name a regular file (a device such as /dev/zero,
    a named pipe, a socket are refused before reading), and a file object must be
    seekable (a zip archive's directory is at its end: read a stream into io.BytesIO).
    The structure's ``version`` must be an integer; a version newer than this
    tinygrad_seq reads is refused as such (upgrade), older ones load.

Atomic writes, and what a hard kill leaves
    ``ts.save(obj, path)`` writes to a temporary file in the same directory, flushes and
    fsyncs it, then renames it over `path` (``os.replace``) and fsyncs the directory. An
    exception in the middle of a save leaves the old file untouched and no temporary
    file behind. An existing file keeps its permissions; a new one gets the usual umask
    ones.

    A hard stop (SIGKILL, the OOM killer, a power cut) cannot run any cleanup. It leaves
    `path` as it was or, once the rename is done, the complete new file, never a partial
    one; and, if it came before the rename, the temporary file
    ``.<name>.<pid>-<tag>-<random>.tmp`` next to `path`, up to the size of the
    checkpoint (``<pid>`` is the writer's process id, ``<tag>`` names its host and PID
    namespace). Each save of `path` first removes those temporaries of `path` whose
    writer, on this host and in this PID namespace, no longer exists; it never removes
    a live writer's (a concurrent save of the same path) nor another path's, nor one
    written elsewhere (another host on a network file system, another container), nor
    the ``.<name>.<random>.tmp`` of tinygrad_seq versions before the PID was in the
    name: remove those by hand. Until a later save of the same path runs, a killed
    writer's temporary stays. The same holds for ``ts.save_safetensors`` and
    ``Word2Vec.save``, which write through the same code. With a power cut, the file
    systems' usual caveat applies: the rename is durable once the directory's fsync
    returns (where the OS allows one).

Importing PyTorch weights
    tinygrad_seq.nn uses torch.nn's parameter names and shapes, so a PyTorch state dict
    converts with one line, and ``load_state_dict`` checks every name and shape::

        torch_model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 2))
        model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
        state = {k: v.detach().cpu().numpy() for k, v in torch_model.state_dict().items()}
        model.load_state_dict(state)      # float64 arrays are cast to the model's dtype
        ts.save(model.state_dict(), "model.tsz")   # no torch needed to load it again

    The other way, ``{k: torch.from_numpy(v.numpy()) for k, v in
    model.state_dict().items()}`` loads into the torch model. Keys carry the positions
    of a Sequential's children, parameterless ones (activations) included: torch's
    ``Sequential(Linear, Tanh, Linear)`` has "0.weight" and "2.weight", so the model
    needs a module at position 1 as well. A file written by ``torch.save`` is a pickle;
    ``ts.load`` refuses it (convert it where torch is installed, as above).
"""
import ast
import json
import math
import os
import re
import secrets
import socket
import stat
import struct
import zipfile
import zlib

from . import backend
from .autograd import Tensor
from .errors import SerializationError

FORMAT = "tinygrad_seq"
VERSION = 1
STRUCTURE = "tinygrad_seq.json"
_MAGIC = b"\x93NUMPY"
_KINDS = "biufc"                      # bool, signed/unsigned int, float, complex
_DATE = (1980, 1, 1, 0, 0, 0)         # fixed timestamps: the same object, the same bytes
_CHUNK = 4 << 20                      # bytes per read of a member: bounds the extra memory
MAX_DIMS = 64                         # NumPy's limit on an array's dims (NPY_MAXDIMS)
_MAX_BYTES = 2 ** 63 - 1              # NumPy indexes bytes with a signed 64-bit integer


# ---------------------------------------------------------------- saving

class _Encoder:
    """Turns the object into JSON-ready data, collecting the arrays on the way."""

    def __init__(self):
        self.arrays = []          # (member name, array), in order of first appearance
        self._members = {}        # id(array) -> member name
        self._active = set()      # ids of the containers on the current path (cycles)

    def encode(self, obj, where):
        if obj is None or isinstance(obj, (bool, str, int)):
            return obj
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"$float": repr(float(obj))}
        if isinstance(obj, Tensor):
            return self._tensor(obj.array, obj.requires_grad, where)
        if isinstance(obj, backend.numpy_scalar):
            return self.encode(obj.item(), where)
        if backend.is_array(obj):
            return self._tensor(obj, False, where)
        if isinstance(obj, (dict, list, tuple)):
            if id(obj) in self._active:
                raise ValueError(f"ts.save: {where} contains itself (a cycle)")
            self._active.add(id(obj))
            try:
                if isinstance(obj, dict):
                    return {"$dict": [[self._key(k, where), self.encode(v, f"{where}[{k!r}]")]
                                      for k, v in obj.items()]}
                items = [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
                return items if isinstance(obj, list) else {"$tuple": items}
            finally:
                self._active.discard(id(obj))
        raise TypeError(f"ts.save: cannot save a {type(obj).__name__} (at {where}); expected "
                        "dicts, lists, tuples, str, int, float, bool, None, Tensors or arrays")

    @staticmethod
    def _key(key, where):
        if not isinstance(key, (str, int)):
            raise TypeError(f"ts.save: dict keys must be str or int, got {type(key).__name__} "
                            f"{key!r} (in {where})")
        return key

    def _tensor(self, array, requires_grad, where):
        if array.dtype.kind not in _KINDS:
            why = " (it would need pickle)" if array.dtype.kind == "O" else ""
            raise TypeError(f"ts.save: cannot save an array of dtype {array.dtype}{why} (at "
                            f"{where}); expected bool, integer, float or complex")
        name = self._members.get(id(array))
        if name is None:
            name = self._members[id(array)] = f"tensors/{len(self.arrays)}.npy"
            self.arrays.append((name, array))
        tag = {"$tensor": name, "dtype": array.dtype.name, "shape": list(array.shape)}
        if requires_grad:
            tag["requires_grad"] = True
        return tag


def _npy_header(descr, shape):
    """The .npy (version 1.0) header, padded to a multiple of 64 bytes as NumPy does."""
    text = "{'descr': %r, 'fortran_order': False, 'shape': %r, }" % (descr, tuple(shape))
    pad = -(len(_MAGIC) + 4 + len(text) + 1) % 64
    text = (text + " " * pad + "\n").encode("latin1")
    if len(text) > 0xFFFF:
        raise ValueError(f"ts.save: an array of {len(shape)} dims has too long a header")
    return _MAGIC + b"\x01\x00" + struct.pack("<H", len(text)) + text


def _member(name, size=0):
    info = zipfile.ZipInfo(name, date_time=_DATE)
    info.external_attr = 0o644 << 16
    info.file_size = size          # lets zipfile pick ZIP64 for members over 2 GiB
    return info


def _write_array(zf, name, array):
    """One array as a .npy member, without copying host arrays that are C-contiguous."""
    if backend.device_of(array) != "cpu":
        array = backend.to_numpy(array)
    if not array.flags.c_contiguous:
        array = array.copy(order="C")
    header = _npy_header(array.dtype.str, array.shape)
    with zf.open(_member(name, len(header) + array.nbytes), "w") as f:
        f.write(header)
        if array.nbytes:
            f.write(memoryview(array.reshape(-1).view("u1")))


def _write_zip(fileobj, structure, arrays):
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr(_member(STRUCTURE), structure)
        for name, array in arrays:
            _write_array(zf, name, array)


def _fsync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:            # not possible everywhere (Windows): the rename is enough
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _writer_tag():
    """Tells this host and PID namespace apart from others that may share the
    directory (a network file system, containers on one volume): a PID is only
    meaningful there. The namespace's inode where /proc shows it."""
    try:
        namespace = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        namespace = ""
    return f"{zlib.crc32((socket.gethostname() + '/' + namespace).encode()):08x}"


_WRITER = _writer_tag()
# .<target's name>.<pid>-<writer tag>-<random>.tmp, next to the target
_TEMPORARY = re.compile(r"(\d{1,10})-([0-9a-f]{8})-[0-9a-f]{12}\.tmp")


def _temporary_name(base):
    return f".{base}.{os.getpid()}-{_WRITER}-{secrets.token_hex(6)}.tmp"


def _process_exists(pid):
    if os.name == "nt":        # os.kill(pid, 0) would end the process there: assume it runs
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:    # another user's process: it exists
        return True
    except (OverflowError, ValueError, OSError):
        return False           # no process can have such a number
    return True


def _remove_stale_temporaries(directory, base):
    """Remove the temporaries of this target that writers of this host and PID
    namespace left when they were killed (SIGKILL, OOM killer, power loss): their
    process no longer exists. A live writer's temporary (a concurrent save of the same
    target, in this process or another) is never touched; other targets' and other
    hosts' temporaries neither."""
    prefix = f".{base}."
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        match = _TEMPORARY.fullmatch(entry[len(prefix):]) if entry.startswith(prefix) else None
        if match is None or match.group(2) != _WRITER or _process_exists(int(match.group(1))):
            continue
        try:
            os.unlink(os.path.join(directory, entry))
        except OSError:        # removed meanwhile by another save, or not ours to remove
            pass


def _atomic_write(path, write):
    """Call write(file) on a temporary file next to `path`, fsync it, rename it over
    `path`; on any error remove the temporary file and re-raise. The temporary's name
    carries the writer's PID, so that a later save of the same `path` removes it if
    this process is killed before it can (see the module docstring), first of all."""
    target = os.path.realpath(path)     # through a symlink, as open(path, "wb") would
    directory, base = os.path.split(target)
    _remove_stale_temporaries(directory, base)
    while True:
        tmp = os.path.join(directory, _temporary_name(base))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         0o666)         # the umask applies, as for any new file
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        except FileNotFoundError:
            pass
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def save(obj, path):
    """Save a nested structure of dicts, lists, tuples, Python scalars, None, Tensors and
    arrays to `path` (written exactly there, atomically) or to a binary file object;
    never with pickle. See the module docstring for what fits and for the format."""
    encoder = _Encoder()
    structure = json.dumps({"format": FORMAT, "version": VERSION,
                            "object": encoder.encode(obj, "obj")},
                           allow_nan=False, separators=(",", ":"))
    if hasattr(path, "write"):
        _write_zip(path, structure, encoder.arrays)
        return
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"ts.save: path must be a str, os.PathLike or binary file, got "
                        f"{type(path).__name__}")
    _atomic_write(os.fsdecode(path), lambda f: _write_zip(f, structure, encoder.arrays))


# ---------------------------------------------------------------- loading

class _Decoder:
    def __init__(self, zf, name, device):
        self.zf, self.name, self.device = zf, name, device
        self.tensors = {}         # member name -> Tensor (one Tensor per stored array)

    def fail(self, reason):
        return SerializationError(f"ts.load: {self.name}: {reason}")

    def decode(self, node, where):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v, f"{where}[{i}]") for i, v in enumerate(node)]
        if isinstance(node, dict):
            if set(node) == {"$tuple"} and isinstance(node["$tuple"], list):
                return tuple(self.decode(v, f"{where}[{i}]") for i, v in enumerate(node["$tuple"]))
            if set(node) == {"$dict"} and isinstance(node["$dict"], list):
                return self._dict(node["$dict"], where)
            if set(node) == {"$float"} and node["$float"] in ("nan", "inf", "-inf"):
                return float(node["$float"])
            if "$tensor" in node:
                return self._tensor(node, where)
        raise self.fail(f"unexpected {json.dumps(node)[:80]} at {where} in the structure")

    def _dict(self, pairs, where):
        out = {}
        for pair in pairs:
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], (str, int))):
                raise self.fail(f"a dict entry at {where} is not a [str or int key, value] pair")
            if pair[0] in out:          # a writer never repeats a key: which one was meant?
                raise self.fail(f"the key {pair[0]!r} twice in the dict at {where}")
            out[pair[0]] = self.decode(pair[1], f"{where}[{pair[0]!r}]")
        return out

    def _tensor(self, tag, where):
        member = tag["$tensor"]
        if not (isinstance(member, str) and set(tag) <= {"$tensor", "dtype", "shape",
                                                         "requires_grad"}
                and isinstance(tag.get("dtype"), str) and isinstance(tag.get("shape"), list)
                and isinstance(tag.get("requires_grad", False), bool)):
            raise self.fail(f"malformed tensor entry {json.dumps(tag)[:80]} at {where}")
        t = self.tensors.get(member)
        if t is None:
            array = self._read_array(member)
            if array.dtype.name != tag["dtype"] or list(array.shape) != tag["shape"]:
                raise self.fail(f"member {member!r} holds {array.dtype.name} {list(array.shape)} "
                                f"but the structure says {tag['dtype']} {tag['shape']}")
            t = self.tensors[member] = Tensor._make(backend.to_device(array, self.device))
            if tag.get("requires_grad") is True and backend.is_float(array.dtype):
                t.requires_grad_(True)
        return t

    def _read_array(self, member):
        """The array of a .npy member. _check_members has made sure that the member is
        stored (not compressed) and that its bytes lie in the file, so an array whose
        header agrees with the member's size can be allocated before it is read."""
        try:
            info = self.zf.getinfo(member)
        except KeyError:
            raise self.fail(f"member {member!r} is missing (the structure refers to it)") from None
        with self.zf.open(info) as f:
            prefix = f.read(len(_MAGIC) + 4)
            if len(prefix) < len(_MAGIC) + 4 or prefix[:len(_MAGIC)] != _MAGIC:
                raise self.fail(f"member {member!r} is not a .npy array")
            if prefix[6:8] != b"\x01\x00":
                raise self.fail(f"member {member!r}: unsupported .npy version "
                                f"{prefix[6]}.{prefix[7]} (tinygrad_seq writes 1.0)")
            header_len = struct.unpack("<H", prefix[8:10])[0]
            header = f.read(header_len)
            dtype, shape, fortran = self._parse_header(member, header, header_len)
            count = math.prod(shape)
            nbytes = count * dtype.itemsize
            if info.file_size != len(prefix) + header_len + nbytes:
                raise self.fail(f"member {member!r} has {info.file_size} bytes but its header "
                                f"({dtype.str} {shape}) needs {len(prefix) + header_len + nbytes}")
            array = backend.xp("cpu").empty(count, dtype=dtype)
            self._read_exactly(f, memoryview(array.view("u1")), member)
            if f.read(1):      # reaching the end makes zipfile check the CRC
                raise self.fail(f"member {member!r} has bytes after its array")
        array = array.reshape(shape[::-1]).transpose() if fortran else array.reshape(shape)
        if not dtype.isnative:
            array = array.astype(dtype.newbyteorder("="))
        return array

    def _read_exactly(self, f, view, member):
        """Fill `view` from `f` in bounded chunks (zipfile's read(n) would first build
        one bytes object of n, doubling the peak memory of a large array)."""
        got = 0
        while got < len(view):
            chunk = f.read(min(_CHUNK, len(view) - got))
            if not chunk:
                raise self.fail(f"member {member!r} is truncated")
            view[got:got + len(chunk)] = chunk
            got += len(chunk)

    def _parse_header(self, member, header, header_len):
        try:
            if len(header) != header_len:
                raise ValueError("truncated")
            d = ast.literal_eval(header.decode("latin1"))   # literals only: nothing runs
            descr, shape, fortran = d["descr"], d["shape"], d["fortran_order"]
            if not (isinstance(d, dict) and isinstance(descr, str) and isinstance(fortran, bool)
                    and isinstance(shape, tuple)
                    and all(type(n) is int and n >= 0 for n in shape)):
                raise ValueError("bad fields")
        except (ValueError, SyntaxError, TypeError, KeyError, MemoryError, RecursionError) as e:
            raise self.fail(f"member {member!r} has a malformed .npy header ({e})") from None
        try:
            dtype = backend.dtype(descr)
        except (TypeError, ValueError, SyntaxError):
            raise self.fail(f"member {member!r} has an unknown dtype {descr!r:.80}") from None
        if dtype.kind == "O":
            raise self.fail(f"member {member!r} is an array of Python objects, which only "
                            "pickle can read; refused (ts.load never unpickles)")
        if dtype.kind not in _KINDS or dtype.fields is not None or dtype.subdtype is not None:
            raise self.fail(f"member {member!r} has dtype {descr!r}, which is not a tensor dtype")
        problem = shape_problem(shape, dtype.itemsize)
        if problem:
            raise self.fail(f"member {member!r}: shape {str(shape):.80} {problem}")
        return dtype, shape, fortran


_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, struct.error,
               NotImplementedError, UnicodeDecodeError, OverflowError, RuntimeError)


def _not_ours(head, names):
    """Why a file that is not a tinygrad_seq save is not one, as helpfully as we can."""
    if head[:1] == b"\x80" or head[:2] in (b"(d", b"(l", b"}q", b"]q"):
        return ("it looks like a pickle (torch.save, pickle.dump), which ts.load never "
                "loads: convert it where it came from (see tinygrad_seq.io's docstring)")
    if names is None:
        return "not a zip archive, so not a tinygrad_seq save file"
    if any(n.endswith(".pkl") for n in names):
        return ("it looks like a torch.save archive (it holds a pickle), which ts.load never "
                "loads: convert it with torch (see tinygrad_seq.io's docstring)")
    if names and all(n.endswith(".npy") for n in names):
        return (f"a plain .npz archive, not a tinygrad_seq save (no {STRUCTURE!r} member): "
                "read it with numpy.load(path, allow_pickle=False)")
    return f"not a tinygrad_seq save file (no {STRUCTURE!r} member)"


def load(path, device=None, *, map_location=None, weights_only=None, mmap=None):
    """Load what ``save`` wrote: the same structure with Tensors (on `device`, the
    default device if None) in place of the Tensors and arrays. Never unpickles; raises
    SerializationError naming the file for anything that is not an intact save.

    torch.load's keywords are accepted: ``map_location`` (a device name or ``ts.device``;
    the same as `device`), ``weights_only`` (this loader only ever reads data, so any
    value means what True means in torch) and ``mmap`` (None or False)."""
    if map_location is not None:
        if device is not None:
            raise TypeError("ts.load: give device or map_location, not both")
        if isinstance(map_location, dict) or callable(map_location):
            raise TypeError("ts.load: map_location must be a device (a str or ts.device); "
                            "dicts and functions are not supported, the tensors of a save "
                            "all go to one device")
        device = str(map_location)
    if mmap:
        raise ValueError("ts.load: mmap=True is not supported")
    device = backend.check_device(device)
    name, fileobj, close = _open_for_reading(path, "ts.load")
    try:
        return _load(fileobj, name, device)
    finally:
        if close:
            fileobj.close()


_FILE_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe"),
               (stat.S_ISSOCK, "a socket"))


def _file_kind(mode):
    return next((kind for test, kind in _FILE_KINDS if test(mode)), "not a regular file")


def _open_for_reading(path, op):
    """(name, binary file, whether to close it) for a path or an open binary file.
    A path must name a regular file: opening a named pipe would block until a writer
    comes, and a device such as /dev/zero never ends. An open file on a device is
    refused too; a pipe or other stream is left to the loader (one that needs to seek
    refuses it)."""
    if hasattr(path, "read"):
        name = getattr(path, "name", None)
        name = name if isinstance(name, str) else type(path).__name__
        mode = _fstat_mode(path)
        if mode is not None and (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)):
            raise SerializationError(f"{op}: {name}: not a regular file ({_file_kind(mode)})")
        return name, path, False
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{op}: path must be a str, os.PathLike or binary file, got "
                        f"{type(path).__name__}")
    name = os.fsdecode(path)
    _refuse_unless_regular(os.stat(name).st_mode, name, op)    # missing: FileNotFoundError
    f = open(name, "rb")
    try:
        _refuse_unless_regular(os.fstat(f.fileno()).st_mode, name, op)   # replaced meanwhile
    except BaseException:
        f.close()
        raise
    return name, f, True


def _refuse_unless_regular(mode, name, op):
    if not stat.S_ISREG(mode):
        raise SerializationError(f"{op}: {name}: not a regular file ({_file_kind(mode)})")


def _fstat_mode(fileobj):
    try:
        return os.fstat(fileobj.fileno()).st_mode
    except (AttributeError, OSError, ValueError):     # io.BytesIO and other in-memory files
        return None


def _archive_size(fileobj):
    """Bytes from the current position to the end, or None for a stream that cannot
    seek (a zip archive's directory is at its end: ts.load must seek)."""
    try:
        if not fileobj.seekable():
            return None
        start = fileobj.tell()
        size = fileobj.seek(0, os.SEEK_END) - start
        fileobj.seek(start)
        return size
    except (AttributeError, OSError, ValueError):
        return None


def shape_problem(shape, itemsize):
    """Why NumPy cannot hold an array of `shape` (even an empty one), or None: more
    than MAX_DIMS dims, or a size in bytes (zero dims left out, as NumPy counts) that
    does not fit its signed 64-bit index."""
    if len(shape) > MAX_DIMS:
        return f"has {len(shape)} dims (at most {MAX_DIMS})"
    nbytes = itemsize
    for n in shape:
        nbytes *= n or 1
    if nbytes > _MAX_BYTES:
        return "is too large (over 2**63 bytes, even with a zero dim NumPy refuses it)"
    return None


def _check_members(zf, size, fail):
    """Refuse an archive that ts.save cannot have written, before reading any member:
    a name twice (which one is meant?), a compressed or encrypted member (ts.save
    stores; inflating is how a small file becomes gigabytes), declared sizes that
    disagree, or members whose bytes lie past the end of the file or inside another
    member's (overlaps let a small file stand for many large arrays). Afterwards the
    members' sizes add up to at most the file's size: what ts.load allocates for them
    is bounded by the file."""
    seen = set()
    for info in zf.infolist():
        if info.orig_filename in seen:
            raise fail(f"the archive holds {info.orig_filename!r} twice")
        seen.add(info.orig_filename)
        if info.compress_type != zipfile.ZIP_STORED:
            raise fail(f"member {info.orig_filename!r} is compressed (method "
                       f"{info.compress_type}); ts.save stores members uncompressed and "
                       "ts.load reads no other")
        if info.flag_bits & 0x1:
            raise fail(f"member {info.orig_filename!r} is encrypted")
        if info.file_size != info.compress_size:
            raise fail(f"member {info.orig_filename!r} declares {info.file_size} bytes but "
                       f"stores {info.compress_size}")
    end, previous = 0, None
    for info in sorted(zf.infolist(), key=lambda i: i.header_offset):
        if info.header_offset < 0:
            raise fail(f"member {info.orig_filename!r} starts before the archive (offset "
                       f"{info.header_offset})")
        if info.header_offset < end:
            raise fail(f"member {info.orig_filename!r} overlaps member "
                       f"{previous.orig_filename!r}")
        end = info.header_offset + _local_header_size(info) + info.compress_size
        if end > size:
            raise fail(f"member {info.orig_filename!r} ({info.compress_size} bytes) runs past "
                       f"the end of the file ({size} bytes): truncated or forged")
        previous = info


def _local_header_size(info):
    """The least size of a member's local header: 30 bytes and its name (its extra
    field may add more; zipfile checks the name when it opens the member)."""
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    try:
        return 30 + len(info.orig_filename.encode(encoding))
    except UnicodeEncodeError:
        return 30 + len(info.orig_filename)


def _no_duplicate_keys(fail):
    def object_pairs(pairs):
        out = {}
        for key, value in pairs:
            if key in out:      # json.loads would keep the last silently
                raise fail(f"{STRUCTURE!r} has the key {key!r} twice in one object")
            out[key] = value
        return out
    return object_pairs


def _read_structure(zf, fail):
    try:
        doc = json.loads(zf.read(STRUCTURE).decode("utf-8"),
                         object_pairs_hook=_no_duplicate_keys(fail))
    except (ValueError, RecursionError) as e:     # JSONDecodeError, UnicodeDecodeError,
        raise fail(f"{STRUCTURE!r} is not valid JSON ({e})") from None   # 5000-digit ints
    if not (isinstance(doc, dict) and doc.get("format") == FORMAT and "object" in doc):
        raise fail(f"{STRUCTURE!r} does not describe a tinygrad_seq save")
    version = doc.get("version")
    if not (isinstance(version, int) and not isinstance(version, bool)):
        raise fail(f"{STRUCTURE!r}: the format version {json.dumps(version)[:40]} is not an "
                   "integer")
    if version > VERSION:
        raise fail(f"format version {version} was written by a newer tinygrad_seq; this one "
                   f"reads versions up to {VERSION}: upgrade tinygrad_seq to load it")
    if version < 1:
        raise fail(f"format version {version} does not exist (versions start at 1)")
    return doc


def _load(fileobj, name, device):
    def fail(reason):
        return SerializationError(f"ts.load: {name}: {reason}")

    size = _archive_size(fileobj)
    if size is None:
        raise fail("ts.load needs a seekable file (a zip archive's directory is at its end); "
                   "read the stream into io.BytesIO first")
    start = fileobj.tell()
    head = fileobj.read(8)
    fileobj.seek(start)
    try:
        zf = zipfile.ZipFile(fileobj)
    except _ZIP_ERRORS + (ValueError, OSError) as e:
        raise fail(f"{_not_ours(head, None)} ({e})") from None
    with zf:
        decoder = _Decoder(zf, name, device)
        try:
            names = zf.namelist()
            if STRUCTURE not in names:
                raise fail(_not_ours(head, names))
            _check_members(zf, size, fail)
            doc = _read_structure(zf, fail)
            return decoder.decode(doc["object"], "obj")
        except SerializationError:
            raise
        except _ZIP_ERRORS + (ValueError, OSError) as e:   # truncated or corrupted data
            raise fail(f"corrupted or truncated file ({type(e).__name__}: {e})") from None
