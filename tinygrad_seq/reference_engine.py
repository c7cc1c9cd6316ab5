"""The engine for study: reverse mode in one screen, without the fast paths.

Read this before ``run_backward`` in autograd.py. It walks the graph that the forward
pass recorded (``Node`` objects: ``parents``, ``edges``, ``needs_input_grad``) and
calls the same backward rules as the real engine, but it always hands them Tensors and
keeps grad mode on, so every rule runs its recorded branch (the one ``create_graph``
uses) and each gradient is itself a graph that can be differentiated again.

    y = f(x);  dy/dy = 1;  for each node, outputs before inputs:
        d(inputs) = node.backward(d(outputs));  add each to the tensor it belongs to

What the real engine adds, all of it speed or safety, none of it mathematics: array
gradients when nothing records them (the fast path), hooks and ``retain_grad``,
version checks for in-place changes, freeing what the rules saved, index gradients
kept as parts (indexed_grad.py), row-sparse gradients (sparse.py), anomaly checks, and
``.grad`` that owns its memory. tests/branch_check.py checks that both engines give
the same gradients for every primitive.
"""
from . import backend
from .autograd import Tensor, edge_index
from .errors import AutogradError
from .modes import enable_grad


def toposort(roots):
    """Every node reachable from `roots`, each before the nodes that made its inputs
    (a depth-first post-order, reversed; a stack instead of recursion)."""
    order, seen = [], set()
    stack = [(node, False) for node in roots]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            parents = getattr(node, "parents", ())      # () once a backward freed it
            stack.extend((p, False) for p in parents if p is not None)
    return order[::-1]


def backward_pass(outputs, grad_outputs, wanted=()):
    """Reverse mode from `outputs` (whose gradients are `grad_outputs`, Tensors).
    Returns {id(tensor): (tensor, gradient)} for every leaf reached and every tensor in
    `wanted`."""
    node_grads = {}            # id(node) -> [gradient of each output, or None]
    found = {}                 # id(leaf or wanted tensor) -> (tensor, gradient)
    wanted_at = {}             # id(node) -> the wanted tensors it made
    for t in wanted:
        if t._ctx is not None:
            wanted_at.setdefault(id(t._ctx), []).append(t)

    def send(edge, node, g):   # add g to the gradient of output edge_index(edge) of
        if node is None:       # `node`, or of the leaf Tensor `edge` when node is None
            found[id(edge)] = (edge, g if id(edge) not in found else found[id(edge)][1] + g)
            return
        slots = node_grads.setdefault(id(node), [None] * node.n_outputs)
        i = edge_index(edge)
        slots[i] = g if slots[i] is None else slots[i] + g

    with enable_grad():        # the rules see Tensors and record what they compute
        for t, g in zip(outputs, grad_outputs):
            send(t, t._ctx, g)
        for node in toposort([t._ctx for t in outputs if t._ctx is not None]):
            grads = node_grads.pop(id(node), None)
            if grads is None:
                continue
            if node.released:
                raise AutogradError(f"reference engine: {node.name} was freed by an earlier "
                                    "backward (pass retain_graph=True to that one)")
            if node.once_differentiable:
                raise AutogradError(f"reference engine: {node.name} is differentiable once "
                                    "(its rule has no recorded branch)")
            for t in wanted_at.get(id(node), ()):
                found[id(t)] = (t, grads[t._index])
            grads = [_zeros(node, i, grads) if g is None else g for i, g in enumerate(grads)]
            input_grads = node.backward(*grads)
            for edge, parent, g, needed in zip(node.edges, node.parents, input_grads,
                                               node.needs_input_grad):
                if needed and g is not None:
                    send(edge, parent, g)
    return found


def _zeros(node, index, grads):
    """Zeros for an output of a multi-output node that got no gradient."""
    shape, dtype = node.output_meta[index]
    like = next(g for g in grads if g is not None).array
    return Tensor._make(backend.array_module(like).zeros(shape, dtype=dtype))


def _seed(t, g):
    if g is None:
        if t.numel() != 1:
            raise AutogradError("reference engine: pass a gradient for a non-scalar output")
        return Tensor._make(backend.array_module(t.array).ones(t.shape, dtype=t.dtype))
    return g if isinstance(g, Tensor) else Tensor(g, dtype=t.dtype)


def grad(outputs, inputs, grad_outputs=None):
    """The gradients of `outputs` with respect to `inputs` (None where unused), like
    ``ts.grad(..., create_graph=True, allow_unused=True)``: nothing goes to ``.grad``."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    grad_outputs = grad_outputs or [None] * len(outputs)
    found = backward_pass(outputs, [_seed(t, g) for t, g in zip(outputs, grad_outputs)], inputs)
    return tuple(found.get(id(t), (t, None))[1] for t in inputs)


def backward(output, gradient=None):
    """Add d(output)/d(leaf) to ``leaf.grad`` of every leaf that requires grad."""
    for leaf, g in backward_pass([output], [_seed(output, gradient)]).values():
        if leaf.requires_grad:
            leaf.grad = g if leaf.grad is None else leaf.grad + g
