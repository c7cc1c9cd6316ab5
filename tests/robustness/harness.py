"""Reusable checks for hostile-input and hard-stop tests of the file formats.

Loaders (``check_hostile_load``)
    The invariant every loader keeps on any input: it either loads or raises a
    documented exception (SerializationError) whose message names the file, within
    SECONDS_PER_CASE and MEMORY_ABOVE_FILE bytes of allocations (traced by tracemalloc,
    which sees NumPy's array buffers too) above the input's size; never MemoryError,
    another exception, a hang (an interval timer interrupts one) or a silently
    different result when the format is checksummed (pass `expected` and `same`).

    check_hostile_load(ts.load, data, expected=obj, same=same_structure)   # -> "refused"
                                                                           #  or "loaded"
Bounded subprocesses (``run_python``)
    Runs a snippet in a fresh interpreter with an address-space limit and a timeout,
    for what must not run in the test process (a loader that may allocate without
    bound or block forever before it is fixed); reports its peak RSS (ru_maxrss).

Hard kills (``run_save_killed``, ``count_save_bytes``)
    Runs a save in a subprocess that SIGKILLs itself (its own PID) at a chosen point:
    after the first `n` bytes written to the temporary file, before the fsync, before
    or after the rename. The child wraps ``os.fdopen`` / ``os.fsync`` / ``os.replace``,
    the calls ``tinygrad_seq.io._atomic_write`` makes; ``count_save_bytes`` checks that
    the wrapping saw every byte, so a change there cannot make these tests vacuous.

``OUTCOMES`` counts the outcomes per test (printed at the end of a run by
tests/robustness/conftest.py): the figures quoted in the README.
"""
import collections
import io
import os
import resource
import signal
import struct
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zlib

import tinygrad_seq as ts

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECONDS_PER_CASE = 2.0
MEMORY_ABOVE_FILE = 256 * 2 ** 20
OUTCOMES = collections.defaultdict(collections.Counter)    # test label -> outcome -> count


def record(label, outcome):
    OUTCOMES[label][outcome] += 1
    return outcome


# ---------------------------------------------------------------- loaders

class NamedBytes(io.BytesIO):
    """An in-memory file with a name, as loaders report it in their messages."""

    def __init__(self, data, name):
        super().__init__(data)
        self.name = name


class Hang(BaseException):
    """Raised by the interval timer in a case that runs far past its time limit
    (a BaseException, so that no loader's `except Exception` can swallow it)."""


def _on_alarm(signum, frame):
    raise Hang()


def _measure(fn):
    """(result or exception, seconds, peak traced bytes above the start) of fn()."""
    started_tracing = not tracemalloc.is_tracing()
    if started_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, 10 * SECONDS_PER_CASE)
    t0 = time.perf_counter()
    try:
        try:
            result = fn()
        except Exception as e:          # judged by the caller
            result = e
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] - base
    except Hang:
        raise AssertionError(f"hang: interrupted after {10 * SECONDS_PER_CASE:.0f} s") from None
    finally:
        signal.signal(signal.SIGALRM, previous)
        if started_tracing:
            tracemalloc.stop()
    return result, seconds, peak


def check_hostile_load(load, data, name="case.bin", expected=None, same=None,
                       errors=(ts.SerializationError,), label=None):
    """Run load(file) on `data` (bytes, as an in-memory file called `name`) and assert
    the invariant above. With `same`, a successful load must give `expected`
    (same(result, expected) true): for checksummed formats only. Returns "refused" or
    "loaded" (counted under `label` in OUTCOMES when given)."""
    result, seconds, peak = _measure(lambda: load(NamedBytes(data, name)))
    assert seconds <= SECONDS_PER_CASE, f"{seconds:.2f} s for a {len(data)}-byte input"
    assert peak <= len(data) + MEMORY_ABOVE_FILE, \
        f"{peak / 2 ** 20:.0f} MiB allocated for a {len(data)}-byte input"
    if isinstance(result, BaseException):
        if not isinstance(result, errors):
            raise AssertionError(f"undocumented {type(result).__name__}: {result}") from result
        assert name in str(result), f"the message does not name the file: {result}"
        outcome = "refused"
    else:
        if same is not None:
            assert same(result, expected), "a damaged file loaded as a different object"
        outcome = "loaded"
    return record(label, outcome) if label else outcome


# ---------------------------------------------------------------- zip archives by hand

def forge_zip(members, prefix=b""):
    """A zip archive of `members`, each a dict with "name" (str) and "data" (bytes) and,
    to forge them, any of "file_size", "compress_size" (the declared sizes; default:
    len(data)), "crc" (default: the data's), "method" (0 stored, 8 deflate; the data is
    written as given), "offset" (write no local header or data for this member: its
    directory entry points at that offset, say inside another member's data). Sizes from
    4 GiB up are written in a ZIP64 extra field, as zipfile reads them. Duplicate names
    are written as given."""
    local, central = bytearray(prefix), bytearray()
    for m in members:
        header, fields = local_header(m)
        offset = m.get("offset", len(local))
        if "offset" not in m:
            local += header + m["data"]
        name, extra, version, method, crc, sizes = fields
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, version, version, 0, method,
                               0, 0x21, crc, *sizes, len(name), len(extra), 0, 0, 0,
                               0o644 << 16, offset) + name + extra
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members),
                      len(central), len(local), 0)
    return bytes(local + central + end)


def local_header(m):
    """(the local file header of member dict `m` as forge_zip writes it, its fields)."""
    name = m["name"].encode("utf-8")
    data = m["data"]
    usize = m.get("file_size", len(data))
    csize = m.get("compress_size", len(data))
    crc = m.get("crc", zlib.crc32(data))
    method = m.get("method", 0)
    big = usize >= 0xFFFFFFFF or csize >= 0xFFFFFFFF
    extra = struct.pack("<HHQQ", 1, 16, usize, csize) if big else b""
    sizes = (0xFFFFFFFF, 0xFFFFFFFF) if big else (csize, usize)
    version = 45 if big else 20
    header = struct.pack("<IHHHHHIIIHH", 0x04034B50, version, 0, method, 0, 0x21, crc, *sizes,
                         len(name), len(extra)) + name + extra
    return header, (name, extra, version, method, crc, sizes)


def zip_members(data):
    """[{"name", "data"}] of a zip archive zipfile can read, in order (to forge variants)."""
    import zipfile
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [{"name": i.filename, "data": zf.read(i)} for i in zf.infolist()]


# ---------------------------------------------------------------- subprocesses

def run_python(code, timeout=60, memory=2 * 2 ** 30, args=()):
    """Run `code` in a fresh interpreter (this checkout first on sys.path) with its
    address space limited to `memory` bytes; returns (returncode, stdout, stderr,
    peak RSS in bytes, from the child's own ru_maxrss). A timeout kills it and
    returns returncode None."""
    wrapped = (code + "\nimport resource as _r, sys as _s\n"
               "_s.stdout.write('\\nMAXRSS %d\\n' % _r.getrusage(_r.RUSAGE_SELF).ru_maxrss)\n")

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    p = subprocess.Popen([sys.executable, "-c", wrapped, *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env, preexec_fn=limit)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return None, out, err, None
    rss = None
    for line in out.splitlines():
        if line.startswith("MAXRSS "):
            rss = int(line.split()[1]) * 1024          # kilobytes on Linux
    return p.returncode, out, err, rss


# ---------------------------------------------------------------- hard kills

_KILLER = textwrap.dedent("""
    import os, signal, sys
    KIND, AT = sys.argv[1], int(sys.argv[2])
    written = 0

    def die():
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    class KillingFile:
        # counts the bytes written to the temporary file; dies after the first AT
        def __init__(self, f):
            self._f = f
        def write(self, b):
            global written
            b = memoryview(b).cast("B")
            if KIND == "write" and written + len(b) > AT:
                self._f.write(b[:AT - written])
                self._f.flush()
                die()
            written += len(b)
            return self._f.write(b)
        def __getattr__(self, name):
            return getattr(self._f, name)
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            return self._f.__exit__(*exc)

    def wrap(real, kind, after=False):
        def call(*a, **k):
            if KIND == kind and not after:
                die()
            out = real(*a, **k)
            if KIND == kind + "d" and after:
                die()
            return out
        return call

    _fdopen = os.fdopen
    os.fdopen = lambda *a, **k: KillingFile(_fdopen(*a, **k))
    os.fsync = wrap(os.fsync, "fsync")
    os.replace = wrap(wrap(os.replace, "replace"), "replace", after=True)
""")

KILL_EVENTS = ("fsync", "replace", "replaced")   # before the first fsync, before/after rename


def run_save_killed(save_code, kind, at=0, timeout=60):
    """Run `save_code` (Python that performs one save) in a subprocess that SIGKILLs
    itself at the point (kind, at): ("write", n) after the first n bytes written to the
    temporary file, or one of KILL_EVENTS. Returns (returncode, stdout); -SIGKILL when
    the kill happened, 0 when the save finished first."""
    code = _KILLER + "\n" + save_code + "\nprint('WRITTEN', written)\n"
    rc, out, err, _ = run_python(code, timeout=timeout, args=(kind, str(at)))
    assert rc in (0, -signal.SIGKILL), f"the save failed (rc {rc}): {err[-2000:]}"
    return rc, out


def count_save_bytes(save_code, path):
    """Bytes the save writes through the wrapped temporary file, checked against the
    size of the file it produces (so the kill points cover the whole write; zipfile
    rewrites each member's local header once its size is known, so a zip writes a few
    bytes more than it keeps)."""
    rc, out = run_save_killed(save_code, "none")
    written = int(out.split("WRITTEN")[1].split()[0])
    assert written >= os.path.getsize(path) > 0, \
        f"the wrapper saw {written} bytes of {os.path.getsize(path)}: _atomic_write changed?"
    return written


class Unseekable(io.RawIOBase):
    """A stream that can only be read forward (a pipe, a socket, a decompressor)."""

    def __init__(self, data):
        self.inner = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, b):
        return self.inner.readinto(b)

    def seekable(self):
        return False

    def tell(self):
        raise OSError("not seekable")
