"""Word2Vec's optional compiled step: the fast path's SGD step (``Word2Vec._step_fast``)
as a Numba kernel on the CPU's float32 tables, used by ``train()`` and ``step()`` where
numba is installed (``Word2Vec(compiled=None)``, the default; ``compiled=False`` keeps
the NumPy step).

Why a kernel: the NumPy step spends most of its time building (m, K, D) temporaries
and scattering them with ``add.at``; a loop over the examples does the same arithmetic
(one dot product, two axpys per (input vector, output row)) without them, as word2vec's
C loop does, and releases the GIL (``nogil``) so that ``workers=N`` threads run on N
cores. Numba (``pip install -e ".[fast]"``) compiles it on first use and caches the
machine code next to this file; without Numba everything runs on the NumPy path.

The step is the NumPy step exactly, up to float32 rounding (tests/word2vec/test_word2vec_compiled.py):
every example of a step is scored against the tables from before the step and rows
used several times add their updates. For the examples i of a step, their input
vectors h (skip-gram: each real context slot; CBOW: the mean or sum of the context
vectors) and their output rows t (negative sampling: the positive, then the negatives,
a negative equal to the positive skipped; hierarchical softmax: the path's inner nodes,
padded slots skipped), with f = u_t . h and g = -lr (s(f) - label):

    pass 1 (reads only):   g for every (h, t);  in_h = sum_t g u_t;
                           loss += log(1 + exp(-f)) (label 1) or log(1 + exp(f)) (label 0)
    pass 2 (output rows):  u_t += g h          (h read from syn0, not yet changed)
    pass 3 (input rows):   syn0[w] += in_h     (CBOW: every real context word w of the
                                                example gets the whole in_h, as word2vec)

Buffers: g (m, J, K + L) and in_h (m, J, D), a few hundred KB per step, the worker's
scratch arrays. The kernel itself is in ``numba_kernels.py`` (imported only here, on
first use, so that ``import tinygrad_seq`` never pays numba's import).
"""
import importlib

_kernel = None          # the compiled train_steps, once built
_failed = None          # the ImportError of numba, once tried


def available():
    """True when numba imports (the kernel can be built)."""
    return load() is not None


def load():
    """The compiled ``train_steps`` (built on first call, cached on disk), or None when
    numba is not installed."""
    global _kernel, _failed
    if _kernel is None and _failed is None:
        try:
            kernels = importlib.import_module(__package__ + ".numba_kernels")
        except ImportError as e:
            _failed = e
            return None
        _kernel = kernels.train_steps
    return _kernel


def missing_reason():
    """Why ``load`` gives None (the ImportError's text), or None."""
    load()
    return None if _failed is None else str(_failed)


