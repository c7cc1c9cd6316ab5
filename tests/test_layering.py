"""Layering (DESIGN "Layers"): backend/ is the only part of the package that
imports numpy or cupy (or cupyx) by name; everything else asks backend for the array
module, so the same code runs on NumPy and CuPy. Every import statement counts,
including those inside functions and GPU-only branches."""
import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "tinygrad_seq"
FORBIDDEN = {"numpy", "cupy", "cupyx"}
# backend/: the array side (dtypes, devices, generators, kernels), one job per module;
# its modules are the ones that name numpy and cupy, so the rest of the package need not
ALLOWED_PACKAGES = {"backend"}
ALLOWED_FILES = {
    "corpus.py",        # word2vec/: host-side data code (vocabulary, subsampling, sampling indices)
    "keyedvectors.py",  # word2vec/: host-side vectors (wv[word] is a NumPy array, as gensim), file formats
    "saved.py",         # word2vec/: checks of a loaded save's host arrays and generator state
    "settings.py",      # word2vec/: checks of settings (NumPy integer and bool scalars accepted)
}


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name not in ALLOWED_FILES
                  and p.relative_to(PACKAGE).parts[0] not in ALLOWED_PACKAGES)


def _array_module_imports(path):
    """(line, module) for every import of numpy/cupy/cupyx in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [(node.lineno, n) for n in names if n.split(".")[0] in FORBIDDEN]
    return sorted(found)


def test_the_scan_sees_the_package_and_catches_imports(tmp_path):
    assert len(_modules()) >= 10
    probe = tmp_path / "probe.py"
    probe.write_text("import os, numpy as np\n"
                     "def f():\n    from cupyx import scatter_add\n"
                     "from numpy.linalg import norm\nimport numpyish\n")
    assert _array_module_imports(probe) == [(1, "numpy"), (3, "cupyx"), (4, "numpy.linalg")]
    assert _array_module_imports(PACKAGE / "backend" / "devices.py")     # ones that may
    assert not any(p.relative_to(PACKAGE).parts[0] == "backend" for p in _modules())


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_does_not_import_numpy_or_cupy_by_name(path):
    assert _array_module_imports(path) == [], (
        f"{path.relative_to(PACKAGE.parent)} imports an array module by name; ask "
        "tinygrad_seq.backend for it (xp(device) / array_module(a)) instead")
