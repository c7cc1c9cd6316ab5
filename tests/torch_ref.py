"""PyTorch as the reference, when it is installed.

Tests that compare with torch import it from here and carry ``@needs_torch``, so that
the suite passes (with those tests skipped, and the reason shown) on a fresh machine
without torch, as the README's test command promises.
"""
import pytest

try:
    import torch
except ImportError:          # the README's plain `pip install -e ".[test]"`
    torch = None

needs_torch = pytest.mark.skipif(torch is None,
                                 reason="PyTorch is not installed (pip install torch==2.13.0)")
