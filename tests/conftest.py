"""Shared test configuration: Hypothesis profiles and the device parametrization.

Profiles: "ci" (the default: derandomized, so CI never flakes, with a bounded number
of examples) and "thorough" (HYPOTHESIS_PROFILE=thorough: many more random examples).
Device: tests that take the `device` fixture run on "cpu" and on "cuda"; the cuda
cases skip with the reason when CuPy or a GPU is missing. With
TINYGRAD_SEQ_DEVICE=cuda the default device is the GPU, so the whole suite runs there.

Layout: tests/ mirrors the package (engine/, backend/, tensor/, ops/, nn/, optim/,
data/ for utils.data, word2vec/, serialization/; the whole-project checks at the top).
Test modules share cases by module name (ops/test_primitives_grad.py gathers the
property tests that other folders define), so every folder is put on sys.path here;
basenames are unique across folders.
"""
import os
import pathlib
import sys

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=25, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=400, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

_TESTS = pathlib.Path(__file__).resolve().parent
for _folder in sorted(_TESTS.iterdir()):
    if _folder.is_dir() and _folder.name[0] not in "_." and str(_folder) not in sys.path:
        sys.path.append(str(_folder))


def _cuda_reason():
    try:
        from tinygrad_seq import backend
        backend.check_device("cuda")
    except Exception as e:  # the DeviceError says why
        return str(e)
    return None


CUDA_SKIP_REASON = _cuda_reason()


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def device(request):
    if request.param == "cuda" and CUDA_SKIP_REASON:
        pytest.skip(f"no CUDA: {CUDA_SKIP_REASON}")
    return request.param
