"""Where the repository's parts are, for tests in any folder of tests/."""
import pathlib

TESTS = pathlib.Path(__file__).resolve().parent
REPO = TESTS.parent
PACKAGE = REPO / "tinygrad_seq"
BENCHMARKS = REPO / "benchmarks"
README = REPO / "README.md"
