"""``tinygrad_seq.nn.functional`` is ``tinygrad_seq.functional`` (torch's path,
``import tinygrad_seq.nn.functional as F``): this module replaces itself by that one
on import, so the two are one module with one implementation of every function."""
import sys

from .. import functional as _functional

sys.modules[__name__] = _functional
