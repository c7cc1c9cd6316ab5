#!/usr/bin/env bash
# One-shot check of tinygrad_seq on a CUDA machine:
#   1. the GPU (nvidia-smi) and CuPy answer, else stop at once with the reason;
#   2. the whole test suite with TINYGRAD_SEQ_DEVICE=cuda (python -m pytest -q);
#   3. the GPU benchmarks with --quick: bench_overhead.py, bench_scatter_add.py and
#      bench_embedding_step.py (NumPy baselines stay NumPy; PyTorch on its GPU when it
#      has one);
#   4. a short summary: test counts and the benchmarks' SUMMARY lines.
#
# Run from anywhere:  benchmarks/gpu_check.sh
# Environment: PYTHON (default python), TEST_TIMEOUT (s, default 420),
#   BENCH_TIMEOUT (s per benchmark, default 120), LOG_DIR (default $OUT/gpu_check or
#   /tmp/gpu_check_<pid>; the full logs are kept there), PYTEST_ARGS (extra pytest
#   arguments, e.g. "-n 8" where pytest-xdist is installed), W2V_ARGS (when set, also
#   run bench_word2vec.py with these arguments, e.g. "--corpus lee,kjv --kjv-file
#   kjv.txt --epochs 1"; gensim on the CPU beside it when installed).
# Exit status: 0 all good; 1 tests or a benchmark failed; 2 no GPU; 3 no CuPy;
#   4 tinygrad_seq cannot compute on cuda.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
PYTHON=${PYTHON:-python}
TEST_TIMEOUT=${TEST_TIMEOUT:-420}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-120}
if [ -n "${OUT:-}" ] && [ -d "${OUT}" ]; then
    LOG_DIR=${LOG_DIR:-$OUT/gpu_check}
else
    LOG_DIR=${LOG_DIR:-/tmp/gpu_check_$$}
fi
mkdir -p "$LOG_DIR"
TIMEOUT=""
command -v timeout >/dev/null 2>&1 && TIMEOUT="timeout"

die() { echo "GPU CHECK FAILED: $2" >&2; exit "$1"; }
section() { echo; echo "==== $* ===="; }
limit() { local s=$1; shift; if [ -n "$TIMEOUT" ]; then timeout "$s" "$@"; else "$@"; fi; }

# ---------------------------------------------------------------- 1. preconditions
section "GPU"
command -v nvidia-smi >/dev/null 2>&1 || die 2 "nvidia-smi not found: no NVIDIA driver (or no GPU) on this machine"
nvidia-smi --query-gpu=index,name,driver_version,memory.total,memory.used,utilization.gpu \
    --format=csv || die 2 "nvidia-smi cannot query a GPU"
nvidia-smi | sed -n '1,4p' | grep -E "CUDA Version|Driver" || true

section "CuPy"
$PYTHON - <<'EOF' || die 3 "CuPy is missing or sees no GPU (pip install 'tinygrad_seq[gpu]', or cupy-cuda13x for CUDA 13)"
import sys
try:
    import cupy
except ImportError as e:
    sys.exit(f"cannot import cupy: {e}")
n = cupy.cuda.runtime.getDeviceCount()
if n < 1:
    sys.exit("cupy sees no GPU")
props = cupy.cuda.runtime.getDeviceProperties(0)
name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
print(f"cupy {cupy.__version__}, CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}, "
      f"{n} GPU(s), device 0: {name}")
a = cupy.arange(10, dtype=cupy.float32)
assert float((a * 2).sum()) == 90.0, "a kernel on the GPU gave a wrong result"
EOF

section "tinygrad_seq on cuda"
TINYGRAD_SEQ_DEVICE=cuda $PYTHON - <<'EOF' || die 4 "tinygrad_seq cannot run a forward/backward on cuda"
import tinygrad_seq as ts
x = ts.randn(4, 4, requires_grad=True)
(x * x).sum().backward()
assert x.device == "cuda" and x.grad.device == "cuda", (x.device, x.grad.device)
assert abs(float((x.grad - 2 * x).abs().sum().item())) < 1e-5
print(f"tinygrad_seq {ts.__version__}: default device {ts.default_device()}, forward+backward ok")
EOF

TORCH_DEVICE=$($PYTHON -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')" 2>/dev/null || echo cpu)
echo "PyTorch comparisons run on: $TORCH_DEVICE (cpu also when torch is missing: its columns are skipped)"

# ---------------------------------------------------------------- 2. tests
PYTEST_ARGS=${PYTEST_ARGS:-}
section "tests: TINYGRAD_SEQ_DEVICE=cuda $PYTHON -m pytest -q $PYTEST_ARGS (limit ${TEST_TIMEOUT}s)"
# shellcheck disable=SC2086  # PYTEST_ARGS is a word list on purpose
TINYGRAD_SEQ_DEVICE=cuda limit "$TEST_TIMEOUT" $PYTHON -m pytest -q -p no:cacheprovider $PYTEST_ARGS 2>&1 | tee "$LOG_DIR/pytest.log"
TEST_RC=${PIPESTATUS[0]}

# ---------------------------------------------------------------- 3. benchmarks
BENCH_FAILED=""
run_bench() {
    local name=$1; shift
    section "benchmark: TINYGRAD_SEQ_DEVICE=cuda $PYTHON benchmarks/$name $* (limit ${BENCH_TIMEOUT}s)"
    TINYGRAD_SEQ_DEVICE=cuda limit "$BENCH_TIMEOUT" $PYTHON "benchmarks/$name" "$@" 2>&1 | tee "$LOG_DIR/${name%.py}.log"
    local rc=${PIPESTATUS[0]}
    if [ "$rc" -ne 0 ]; then
        BENCH_FAILED="$BENCH_FAILED $name(rc=$rc)"
    fi
}
run_bench bench_overhead.py --quick --torch-device "$TORCH_DEVICE"
run_bench bench_scatter_add.py --quick
run_bench bench_embedding_step.py --quick --torch-device "$TORCH_DEVICE"
if [ -n "${W2V_ARGS:-}" ]; then
    # shellcheck disable=SC2086
    run_bench bench_word2vec.py $W2V_ARGS
fi

# ---------------------------------------------------------------- 4. summary
section "SUMMARY"
nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | sed 's/^/gpu: /'
COUNTS=$(tail -n 5 "$LOG_DIR/pytest.log" | grep -Eo '[0-9]+ (passed|failed|errors?|skipped|xfailed|xpassed|deselected)' | paste -sd, - | sed 's/,/, /g' || true)
case $TEST_RC in
    0) echo "tests: OK (${COUNTS:-no counts found})";;
    5) echo "tests: NO TESTS COLLECTED";;
    124) echo "tests: TIMED OUT after ${TEST_TIMEOUT}s (${COUNTS:-no counts})";;
    *) echo "tests: FAILED, exit $TEST_RC (${COUNTS:-no counts found})"
       grep -E '^(FAILED|ERROR) ' "$LOG_DIR/pytest.log" | head -20;;
esac
for name in bench_overhead bench_scatter_add bench_embedding_step; do
    grep -h '^SUMMARY' "$LOG_DIR/$name.log" 2>/dev/null | sed 's/^SUMMARY /bench: /'
done
if [ -f "$LOG_DIR/bench_word2vec.log" ]; then grep -h '^| ' "$LOG_DIR/bench_word2vec.log"; fi
if [ -n "$BENCH_FAILED" ]; then
    echo "benchmarks FAILED:$BENCH_FAILED"
else
    echo "benchmarks: all ran"
fi
echo "full logs: $LOG_DIR"

if [ "$TEST_RC" -ne 0 ] || [ -n "$BENCH_FAILED" ]; then
    exit 1
fi
exit 0
