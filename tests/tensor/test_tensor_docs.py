"""Every public Tensor method is a named function with a docstring, so ``help(x.tanh)``
shows the formula of the primitive it applies (the docstring is the primitive's)."""
import inspect
import pydoc

import pytest

import tinygrad_seq as ts
from tinygrad_seq.ops.elementwise import Tanh


def _public_methods():
    """(name, function) for every public method and property of Tensor (the getter
    for a property)."""
    found = []
    for name in sorted(dir(ts.Tensor)):
        if name.startswith("_"):
            continue
        attr = inspect.getattr_static(ts.Tensor, name)
        if isinstance(attr, property):
            attr = attr.fget
        elif isinstance(attr, (staticmethod, classmethod)):
            attr = attr.__func__
        if callable(attr):
            found.append((name, attr))
    return found


METHODS = _public_methods()


def test_the_scan_finds_the_methods():
    names = {name for name, _ in METHODS}
    assert len(METHODS) > 150
    assert {"tanh", "exp", "sigmoid", "relu", "neg", "abs", "T", "mT", "sum", "add_"} <= names


@pytest.mark.parametrize("name,fn", METHODS, ids=[name for name, _ in METHODS])
def test_public_method_has_a_name_and_a_docstring(name, fn):
    assert getattr(fn, "__name__", "<lambda>") != "<lambda>", f"Tensor.{name} is a lambda"
    assert fn.__name__.isidentifier()
    assert (inspect.getdoc(fn) or "").strip(), f"Tensor.{name} has no docstring"


def test_help_shows_the_primitive_formula():
    assert ts.Tensor.tanh.__doc__ == Tanh.__doc__
    assert "y = tanh(x);  dx = dy * (1 - y^2)" in pydoc.render_doc(ts.Tensor.tanh)
    for name in ("exp", "log", "sqrt", "sigmoid", "relu", "neg", "abs", "softmax"):
        assert "dx = " in getattr(ts.Tensor, name).__doc__, name
