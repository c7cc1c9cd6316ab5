"""The adjoint of broadcasting: a gradient summed back to the shape of the input
that was broadcast (``sum_to``), and cast to its dtype (``grad_like``). Used by the
backward of every broadcasting primitive (elementwise, Expand, indexing, matmul)."""


def sum_to(g, shape):
    """Sum a gradient over the axes that broadcasting added or stretched, so that it
    has `shape` again (the backward of NumPy broadcasting)."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape)
                                      if n == 1 and g.shape[i + lead] != 1)
    out = g.sum(axis=axes, keepdims=True) if axes else g
    return out.reshape(shape) if out.shape != shape else out


def grad_like(g, t):
    """The gradient `g` summed to the shape of tensor `t` and cast to its dtype (mixed
    float32/float64 ops give float64 gradients to float32 inputs otherwise)."""
    if g.shape != t.shape:
        g = sum_to(g, t.shape)
    return g if g.dtype == t.dtype else g.astype(t.dtype)


def grad_to(g, shape, dtype):
    """grad_like for an input known by its shape and dtype only (what a rule that does
    not read the input's values saves in forward)."""
    if g.shape != shape:
        g = sum_to(g, shape)
    return g if g.dtype == dtype else g.astype(dtype)
