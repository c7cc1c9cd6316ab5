"""``ts.Size``: the shape of a tensor, a tuple (PyTorch's ``torch.Size``).

``x.shape`` and ``x.size()`` return one; it compares equal to the plain tuple of the same
sizes, and slicing or adding it gives a Size again. ``repr`` shows
``tinygrad_seq.Size([2, 3])``; ``str`` (print, f-strings) the tuple, ``(2, 3)``.
"""


class Size(tuple):
    """A tuple of dimension sizes with ``numel()``, as ``torch.Size``."""
    __slots__ = ()

    def __new__(cls, sizes=()):
        return super().__new__(cls, (int(n) for n in sizes))

    def numel(self):
        """The number of elements of a tensor of this shape (1 for a 0-d tensor)."""
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, index):
        item = tuple.__getitem__(self, index)
        return Size(item) if isinstance(index, slice) else item

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self))

    def __repr__(self):
        return f"tinygrad_seq.Size({list(self)})"

    def __str__(self):
        # printed as the plain tuple, "(2, 3)": error messages quote shapes this way
        return tuple.__repr__(self)
