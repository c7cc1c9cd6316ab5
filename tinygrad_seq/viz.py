"""Draw the computation graph of a tensor: ``to_dot(t)`` gives Graphviz DOT text,
``render(t, path)`` writes a PNG or SVG when Graphviz's ``dot`` program is installed.

Boxes are the nodes (one call of a primitive), ellipses the leaf tensors (blue when
they require grad), and each edge is labelled with the shape of the tensor it carries
where the graph keeps it (the input of a node whose backward does not read it is not
kept, nor is a constant's box).
Draw before ``backward()`` (or pass ``retain_graph=True`` to it): backward frees the
graph.
"""
import shutil
import subprocess

from .autograd import Tensor, edge_index


def _quote(text):
    return '"' + str(text).replace('"', r'\"') + '"'


def _edge_shape(t, parent, edge):
    """The shape an edge carries, where the graph still knows it: the input Tensor when
    the node kept it, else the parent's record of its outputs (a node that does not read
    an input keeps neither the tensor nor its shape)."""
    if t is not None:
        return tuple(t.shape)
    meta = getattr(parent, "output_meta", None)
    return tuple(meta[edge_index(edge)][0]) if meta else None


def to_dot(tensor, name="graph"):
    """Graphviz DOT text of the graph that produced `tensor`."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dot: expected a Tensor, got {type(tensor).__name__}")
    lines = [f"digraph {name} {{", "  rankdir=BT;", '  node [fontname="Helvetica"];']
    ids = {}

    def ident(obj, prefix):
        if id(obj) not in ids:
            ids[id(obj)] = f"{prefix}{len(ids)}"
        return ids[id(obj)]

    out_id = ident(tensor, "out")
    lines.append(f"  {out_id} [label={_quote(f'output {tuple(tensor.shape)} {tensor.dtype}')}, "
                 "shape=ellipse, style=filled, fillcolor=lightyellow];")
    if tensor._ctx is None:
        lines.append("}")
        return "\n".join(lines)
    root = tensor._ctx
    lines.append(f"  {ident(root, 'op')} -> {out_id} [label={_quote(tuple(tensor.shape))}];")
    seen, stack = {id(root)}, [root]
    while stack:
        node = stack.pop()
        node_id = ident(node, "op")
        freed = " (freed)" if node.released else ""
        lines.append(f"  {node_id} [label={_quote(node.name + freed)}, shape=box, style=filled, "
                     "fillcolor=lightgrey];")
        kept = getattr(node, "inputs", None)     # the input Tensors, if the node keeps them
        for i, (edge, parent) in enumerate(zip(getattr(node, "edges", ()),
                                               getattr(node, "parents", ()))):
            t = kept[i] if kept is not None else edge if isinstance(edge, Tensor) else None
            if parent is not None:
                shape = _edge_shape(t, parent, edge)
                label = f" [label={_quote(shape)}]" if shape is not None else ""
                lines.append(f"  {ident(parent, 'op')} -> {node_id}{label};")
                if id(parent) not in seen:
                    seen.add(id(parent))
                    stack.append(parent)
            elif t is not None:
                leaf_id = ident(t, "leaf")
                colour = "lightblue" if t.requires_grad else "white"
                label = f"{tuple(t.shape)} {t.dtype}" + ("\\nrequires_grad" if t.requires_grad else "")
                lines.append(f"  {leaf_id} [label={_quote(label)}, shape=ellipse, style=filled, "
                             f"fillcolor={colour}];")
                lines.append(f"  {leaf_id} -> {node_id};")
    lines.append("}")
    return "\n".join(dict.fromkeys(lines))


def render(tensor, path, format=None):
    """Write the graph of `tensor` to `path` (format from its extension: png, svg, pdf)
    with Graphviz's ``dot``; returns the path."""
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError("render: Graphviz's `dot` program is not installed (Debian/Ubuntu: "
                           "apt-get install graphviz; macOS: brew install graphviz); "
                           "to_dot() gives the DOT text without it")
    fmt = format or str(path).rsplit(".", 1)[-1].lower()
    subprocess.run([dot, f"-T{fmt}", "-o", str(path)], input=to_dot(tensor).encode(), check=True)
    return path
