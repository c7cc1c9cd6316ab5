"""Hard stops during a save (issue "Hostile input and hard stops", defect 13): a process
SIGKILLed (by its own PID) anywhere in ``ts.save``, ``ts.save_safetensors`` or
``Word2Vec.save`` leaves the previous file loadable (or the new one, once renamed), at
most its own temporary file beside it, and the next save of the same path removes that
temporary; a live writer's temporary is never removed.

Kill points are drawn with a seeded generator among the bytes written to the temporary
file and the fsync/rename steps (harness.run_save_killed): KILLS_PER_FORMAT per format in
the default run, many more with HYPOTHESIS_PROFILE=thorough.
"""
import os
import random
import signal
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest

import tinygrad_seq as ts
from harness import KILL_EVENTS, ROOT, count_save_bytes, record, run_save_killed

THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
KILLS_PER_FORMAT = 40 if THOROUGH else 3


def tensors(seed):
    rng = np.random.default_rng(seed)
    return {"w": rng.standard_normal((64, 256)).astype(np.float32),
            "b": rng.standard_normal(256), "step": np.arange(7)}


# each format: (save code run in the child, with {path} and {seed}; load(path) -> a
# comparable value)
FORMATS = {
    "ts.save": (
        "import numpy as np, tinygrad_seq as ts\n"
        "rng = np.random.default_rng({seed})\n"
        "ts.save({{'w': rng.standard_normal((64, 256)).astype(np.float32),\n"
        "         'b': rng.standard_normal(256), 'step': np.arange(7)}}, {path!r})\n",
        lambda path: {k: v.numpy() for k, v in ts.load(path).items()}),
    "ts.save_safetensors": (
        "import numpy as np, tinygrad_seq as ts\n"
        "rng = np.random.default_rng({seed})\n"
        "ts.save_safetensors({{'w': rng.standard_normal((64, 256)).astype(np.float32),\n"
        "                     'b': rng.standard_normal(256), 'step': np.arange(7)}}, {path!r})\n",
        lambda path: {k: v.numpy() for k, v in ts.load_safetensors(path).items()}),
    "Word2Vec.save": (
        "from tinygrad_seq.word2vec import Word2Vec\n"
        "sentences = [['w%d' % ((i * 7 + j) % 50) for j in range(12)] for i in range(40)]\n"
        "Word2Vec(sentences, vector_size=64, min_count=1, epochs=0, progress=False,\n"
        "         seed={seed}).save({path!r})\n",
        lambda path: {k: v.numpy() for k, v in ts.load(path).items()
                      if k in ("syn0", "syn1neg")}),
}


def equal(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def kill_points(total, seed, n):
    """n kill points: byte offsets in [0, total) and the fsync/rename events."""
    rng = random.Random(seed)
    points = [("write", 0), ("replace", 0)] if n >= 2 else []
    while len(points) < n:
        if rng.random() < 0.2:
            points.append((rng.choice(KILL_EVENTS), 0))
        else:
            points.append(("write", rng.randrange(total)))
    return points[:n]


def strays(directory, keep):
    return sorted(set(os.listdir(directory)) - set(keep))


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_save_killed_anywhere_leaves_a_loadable_file_and_the_next_save_cleans_up(tmp_path, fmt):
    code, load = FORMATS[fmt]
    path = str(tmp_path / "model.ckpt")
    run_save_killed(code.format(path=path, seed=1), "none")          # the previous file
    previous = load(path)
    total = count_save_bytes(code.format(path=path, seed=2), path)     # the new one
    new = load(path)
    assert not equal(previous, new)
    run_save_killed(code.format(path=path, seed=1), "none")
    for kind, at in kill_points(total, seed=zlib.crc32(fmt.encode()), n=KILLS_PER_FORMAT):
        rc, _ = run_save_killed(code.format(path=path, seed=2), kind, at)
        assert rc == -signal.SIGKILL, (kind, at)
        after_kill = load(path)          # old before the rename, new after it
        assert equal(after_kill, new if kind == "replaced" else previous), (kind, at)
        left = strays(tmp_path, ["model.ckpt"])
        assert len(left) <= 1 and all(n.startswith(".model.ckpt.") for n in left), left
        record(f"kill during {fmt}", f"{kind} killed, {'a temporary left' if left else 'clean'}")
        run_save_killed(code.format(path=path, seed=1), "none")     # the next save
        assert equal(load(path), previous)
        assert strays(tmp_path, ["model.ckpt"]) == [], (kind, at)


HOLD_A_SAVE = """
import sys, tinygrad_seq as ts
import numpy as np
def write_then_wait(f):
    f.write(b"partial")
    f.flush()
    print("WRITING", flush=True)
    sys.stdin.readline()           # held mid-save until the test lets go
    raise SystemExit(0)
from tinygrad_seq.io import _atomic_write
_atomic_write(sys.argv[1], write_then_wait)
"""


def test_a_live_writers_temporary_is_kept_and_other_targets_are_untouched(tmp_path):
    path = tmp_path / "model.ckpt"
    ts.save({"x": np.arange(3)}, path)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    live = subprocess.Popen([sys.executable, "-c", HOLD_A_SAVE, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert live.stdout.readline().strip() == "WRITING"
        live_temporaries = strays(tmp_path, ["model.ckpt"])
        assert len(live_temporaries) == 1 and str(live.pid) in live_temporaries[0]
        # not ours to remove: another target's, an old-style name, any other file
        others = [".model.ckpt2.%d-00000000-0123456789ab.tmp" % 2 ** 22, ".model.ckpt.tmp",
                  ".model.ckpt.0123456789ab.tmp", "notes.txt"]
        for name in others:
            (tmp_path / name).write_bytes(b"x")
        ts.save({"x": np.arange(4)}, path)          # a concurrent save of the same target
        ts.save_safetensors({"x": np.arange(4)}, path)
        assert strays(tmp_path, ["model.ckpt"]) == sorted(live_temporaries + others)
    finally:
        live.stdin.close()
        live.wait(timeout=30)
    assert live.returncode == 0


def test_a_dead_writers_temporary_is_removed_by_the_next_save(tmp_path):
    path = str(tmp_path / "model.ckpt")
    code = FORMATS["ts.save"][0].format(path=path, seed=1)
    rc, _ = run_save_killed(code, "write", 100)
    assert rc == -signal.SIGKILL
    left = strays(tmp_path, [])
    assert len(left) == 1 and left[0].startswith(".model.ckpt.")       # no target yet
    time.sleep(0)
    ts.save_safetensors({"x": np.arange(2)}, path)
    assert strays(tmp_path, ["model.ckpt"]) == []
