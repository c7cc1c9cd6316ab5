"""Hostile word2vec files: Hypothesis mutates valid files (a cut at any offset, byte
flips, forged header counts) for ``Word2Vec.load`` (negative sampling, hierarchical
softmax), ``KeyedVectors.load`` (read or memory-mapped), ``GloVe.load`` and
``load_word2vec_format`` (text and binary), checked by harness.check_hostile_load.
Invariant per case: a documented exception (ValueError, which
``ts.SerializationError`` is) or a successful load, within 2 s and 256 MB above the
file's size; never a MemoryError, a hang or another exception. And a save killed by
SIGKILL half-way leaves the previous file loadable. Bounded in the default ("ci")
profile; HYPOTHESIS_PROFILE=thorough runs many more cases."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import check_hostile_load
from tinygrad_seq.word2vec import GloVe, KeyedVectors, Word2Vec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
SENTENCES = [["a", "b", "c", "a"], ["b", "a", "d"], ["e", "c", "a"], ["d", "b"]] * 3


def within_bounds(load, data, tmp_dir, name, label=None):
    """Write `data` to a file and load it from its path, under the harness's invariant
    (a ValueError naming the file, which ts.SerializationError is, or a load, within
    the time and memory bounds). Returns "refused" or "loaded"."""
    path = os.path.join(tmp_dir, name)

    def load_from_path(f):
        with open(path, "wb") as out:
            out.write(f.getvalue())
        return load(path)
    return check_hostile_load(load_from_path, data, name=name, errors=(ValueError,),
                              label=label)


def vectors():
    return KeyedVectors(np.array([[0.5, -1.25, 3.0], [6.5, 0.0, -2.0], [1e-8, 2.0, 4.0]],
                                 np.float32), ["ab", "é", "c"])


def file_bytes(tmp_dir, save):
    path = os.path.join(tmp_dir, "valid")
    save(path)
    with open(path, "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory):
    """The valid files to mutate: vectors as text and binary, a whole model."""
    d = str(tmp_path_factory.mktemp("valid"))
    model = Word2Vec(SENTENCES, vector_size=3, window=2, min_count=1, sample=0, epochs=1,
                     progress=False, seed=1)
    hs_model = Word2Vec(SENTENCES, vector_size=3, window=2, min_count=1, sample=0, epochs=1,
                        progress=False, seed=1, hs=1, negative=0)
    keyed = file_bytes(d, vectors().save)
    return {
        "text": file_bytes(d, lambda p: vectors().save_word2vec_format(p)),
        "binary": file_bytes(d, lambda p: vectors().save_word2vec_format(p, binary=True)),
        "model": file_bytes(d, model.save),
        "model_hs": file_bytes(d, hs_model.save),
        "keyed": keyed,
        "keyed_mmap": keyed,
        "glove": file_bytes(d, GloVe(SENTENCES, vector_size=3, window=2, min_count=1,
                                     epochs=1, seed=1).save),
    }


LOADERS = {
    "text": lambda p: KeyedVectors.load_word2vec_format(p),
    "binary": lambda p: KeyedVectors.load_word2vec_format(p, binary=True),
    "model": lambda p: Word2Vec.load(p),
    "model_hs": lambda p: Word2Vec.load(p),
    "keyed": lambda p: KeyedVectors.load(p),
    "keyed_mmap": lambda p: KeyedVectors.load(p, mmap="r"),
    "glove": lambda p: GloVe.load(p),
}
KINDS = ["text", "binary", "model", "model_hs", "keyed", "keyed_mmap", "glove"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_truncation_is_refused_or_loads(kind, valid_files, tmp_path):
    data = valid_files[kind]
    # the model's zip is a few KB: every offset in the thorough profile, a stride else
    stride = 1 if kind in ("text", "binary") or THOROUGH else 7
    for cut in range(0, len(data), stride):
        outcome = within_bounds(LOADERS[kind], data[:cut], str(tmp_path), "cut",
                                label=f"word2vec {kind}: truncation")
        if kind == "text":
            assert outcome == "refused", f"a text file cut at {cut} of {len(data)} loaded"


@pytest.mark.parametrize("kind", KINDS)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(1, 255)), min_size=1,
                      max_size=8))
def test_byte_flips_are_refused_or_load(kind, valid_files, tmp_path, flips):
    data = bytearray(valid_files[kind])
    for at, xor in flips:
        data[at % len(data)] ^= xor
    within_bounds(LOADERS[kind], bytes(data), str(tmp_path), "flipped",
                  label=f"word2vec {kind}: byte flips")


@pytest.mark.parametrize("kind", ["text", "binary"])
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(count=st.integers(0, 10 ** 19 - 1), dim=st.integers(0, 10 ** 19 - 1),
       limit=st.one_of(st.none(), st.integers(0, 10 ** 12)))
def test_forged_header_counts_are_refused_or_load(kind, valid_files, tmp_path, count, dim,
                                                  limit):
    body = valid_files[kind].split(b"\n", 1)[1]
    data = f"{count} {dim}\n".encode() + body
    binary = kind == "binary"
    within_bounds(lambda p: KeyedVectors.load_word2vec_format(p, binary=binary, limit=limit),
                  data, str(tmp_path), "forged", label=f"word2vec {kind}: forged header")


# ---------------------------------------------------------------- a save killed half-way

_SAVER = """
import sys, numpy as np
sys.path.insert(0, {root!r})
from tinygrad_seq.word2vec import KeyedVectors
n = 200000
kv = KeyedVectors(np.random.default_rng(0).random((n, 50), dtype=np.float32),
                  [f"w{{i}}" for i in range(n)])
print("ready", flush=True)
while True:
    kv.save_word2vec_format({path!r}, binary={binary})
"""


@pytest.mark.parametrize("binary,delay", [(False, 0.3), (False, 1.1), (True, 0.2),
                                          (True, 0.7)])
def test_a_save_killed_half_way_leaves_the_previous_file(tmp_path, binary, delay):
    path = str(tmp_path / "vectors")
    vectors().save_word2vec_format(path, binary=binary)
    before = open(path, "rb").read()
    proc = subprocess.Popen([sys.executable, "-c", _SAVER.format(root=ROOT, path=path,
                                                                  binary=binary)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)                      # inside a save (each takes about a second)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    loaded = KeyedVectors.load_word2vec_format(path, binary=binary)
    after = open(path, "rb").read()
    assert after == before or len(loaded) == 200000      # the old file, or a whole new one
    leftovers = [f for f in os.listdir(tmp_path) if f != "vectors"]
    assert all(f.endswith(".tmp") for f in leftovers)    # a killed writer cannot clean up
