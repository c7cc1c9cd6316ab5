"""Graph export: ``ts.viz.to_dot`` gives well-formed DOT text with the op names and the
leaf shapes; ``render`` needs Graphviz's ``dot`` and says how to install it."""
import re
import shutil
import stat
import sys

import pytest

import tinygrad_seq as ts


def _graph():
    x = ts.ones(2, 3, requires_grad=True)
    w = ts.ones(3, 4, requires_grad=True)
    return ((x @ w).tanh() * 2).sum()


def _declared_and_used(dot):
    declared = set(re.findall(r"^\s*(\w+) \[label=", dot, flags=re.M))
    used = set()
    for a, b in re.findall(r"^\s*(\w+) -> (\w+)", dot, flags=re.M):
        used |= {a, b}
    return declared, used


def test_to_dot_has_the_ops_and_the_leaf_shapes():
    dot = ts.viz.to_dot(_graph())
    assert dot.startswith("digraph")
    assert dot.rstrip().endswith("}")
    for name in ("SumBackward", "MulBackward", "TanhBackward", "MatMulBackward"):
        assert name in dot
    assert "(2, 3)" in dot and "(3, 4)" in dot
    assert "requires_grad" in dot


def test_to_dot_is_well_formed():
    dot = ts.viz.to_dot(_graph())
    declared, used = _declared_and_used(dot)
    assert used and used <= declared
    assert dot.count("{") == dot.count("}")
    assert dot.count("Backward") == 4     # each op once


def test_to_dot_of_a_shared_subexpression_draws_it_once():
    x = ts.ones(3, requires_grad=True)
    a = x.exp()
    dot = ts.viz.to_dot((a * a + a).sum())
    assert dot.count('label="ExpBackward') == 1


def test_to_dot_of_a_leaf_and_of_a_non_tensor():
    dot = ts.viz.to_dot(ts.ones(5))
    assert "digraph" in dot and "(5,)" in dot and "->" not in dot
    with pytest.raises(TypeError, match="to_dot"):
        ts.viz.to_dot([1.0, 2.0])


def test_to_dot_after_backward_marks_freed_nodes():
    y = _graph()
    y.backward()
    assert "(freed)" in ts.viz.to_dot(y)


def test_render_without_dot_raises_with_install_hint(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="(?i)install graphviz"):
        ts.viz.render(_graph(), tmp_path / "graph.png")
    assert not (tmp_path / "graph.png").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="uses a shell script as a fake `dot`")
def test_render_pipes_the_dot_text_to_dot_with_the_format(monkeypatch, tmp_path):
    fake = tmp_path / "dot"
    fake.write_text('#!/bin/sh\n# usage: dot -T<fmt> -o <path>; record the format, copy stdin\n'
                    'echo "$1" > "$3.args"\ncat > "$3"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(shutil, "which", lambda name: str(fake) if name == "dot" else None)
    out = tmp_path / "graph.svg"
    assert ts.viz.render(_graph(), out) == out
    assert out.read_text().startswith("digraph")
    assert (tmp_path / "graph.svg.args").read_text().strip() == "-Tsvg"


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_render_with_graphviz_writes_an_image(tmp_path):
    out = tmp_path / "graph.png"
    ts.viz.render(_graph(), out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
