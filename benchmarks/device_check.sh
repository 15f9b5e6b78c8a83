#!/usr/bin/env bash
# graphkit's CUDA kernels on a machine with one CUDA GPU and the CUDA toolkit: install graphkit
# (never replacing the installed CUDA build of torch), build the CUDA kernels, run the CUDA tests
# (tests/test_native.py::test_cuda_kernels_match_cpu: every op's results and gradients on the GPU
# against the CPU kernels) and time the aggregation layers on the GPU; then print a table of the
# steps and the timings. Exits non-zero when a step failed, after naming it and showing the end of
# its log. About 5 minutes. Run from anywhere:
#
#     bash benchmarks/device_check.sh
#
# Environment: PYTHON (default python3); DEVICE_CHECK_OUT, the folder for the logs and the
# benchmark's JSON (default $OUT when set, else a new temporary folder).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
OUT_DIR=${DEVICE_CHECK_OUT:-${OUT:-$(mktemp -d)}}
mkdir -p "$OUT_DIR"
export GRAPHKIT_KERNELS=native  # an error, not the reference ops, when the kernels cannot be built
export MAX_JOBS=${MAX_JOBS:-$(nproc)}  # parallel compilation of the kernels
if [[ -z ${CUDA_HOME:-} && -x /usr/local/cuda/bin/nvcc ]]; then
  export CUDA_HOME=/usr/local/cuda  # rather than torch's guess from `which nvcc`, which a wrapper can mislead
fi

STEPS=() STATUS=() SECONDS_TAKEN=()
FAILED=0

# step NAME COMMAND...: run COMMAND, its output in $OUT_DIR/NAME.log; record its status and time.
# After a failed step the later steps are skipped (they need what it makes). COMMAND runs as the
# condition of an `if`, where `set -e` does not apply: the step functions return their failures.
step() {
  local name=$1 start=$SECONDS status=ok
  shift
  if [[ $FAILED -ne 0 ]]; then
    status=skipped
  else
    echo "== $name: $*"
    if ! "$@" >"$OUT_DIR/$name.log" 2>&1; then
      status=FAILED
      FAILED=1
      echo "-- $name FAILED; the end of $OUT_DIR/$name.log:"
      tail -n 40 "$OUT_DIR/$name.log" | sed 's/^/   /'
    fi
  fi
  STEPS+=("$name")
  STATUS+=("$status")
  SECONDS_TAKEN+=("$((SECONDS - start))")
}

check_environment() {
  "$PYTHON" - <<'EOF'
import shutil
import torch
from torch.utils.cpp_extension import CUDA_HOME
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), CUDA_HOME {CUDA_HOME}, nvcc {shutil.which('nvcc')}")
assert torch.version.cuda, "this torch is a CPU build: install a CUDA build of torch first"
assert torch.cuda.is_available(), "torch sees no CUDA device"
assert CUDA_HOME, "no CUDA toolkit found: set CUDA_HOME (the folder of bin/nvcc)"
print(f"device: {torch.cuda.get_device_name()}, {torch.cuda.device_count()} visible")
EOF
}

install_package() {
  if "$PYTHON" -c "import graphkit.ops, torch_geometric, sklearn, pytest, hypothesis" 2>/dev/null; then
    echo "graphkit and its test dependencies are importable: nothing to install"
  elif "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.version.cuda else 1)" 2>/dev/null; then
    # torch with CUDA is installed: constraints.txt pins the CPU build, so pin the installed one instead
    local pin
    pin=$(mktemp)
    "$PYTHON" -c "import torch; print('torch==' + torch.__version__)" >"$pin"
    echo "keeping $(cat "$pin")"
    if ! "$PYTHON" -m pip install -q -c "$pin" -e ".[test]"; then
      echo "resolving the dependencies failed (offline?): graphkit alone, then the test tools"
      "$PYTHON" -m pip install -q --no-deps --no-build-isolation -e . || "$PYTHON" -m pip install -q --no-deps -e .
      "$PYTHON" -m pip install -q "pytest>=8" "hypothesis>=6.100"
    fi
  else
    "$PYTHON" -m pip install -q -c constraints.txt -e ".[test]"
  fi
  "$PYTHON" -c "import graphkit.ops, torch_geometric, sklearn, pytest, hypothesis; print('graphkit:', graphkit.__file__)"
}

build_kernels() {
  "$PYTHON" - <<'EOF'
import time
start = time.perf_counter()
from graphkit.ops import native
assert native.HAS_CUDA, "torch has CUDA but the CUDA kernels were not built (is CUDA_HOME set?)"
print(f"CPU and CUDA kernels built and loaded in {time.perf_counter() - start:.0f} s")
EOF
}

run_cuda_tests() {
  local log
  log=$(mktemp)
  "$PYTHON" -m pytest -q -p no:cacheprovider -rs tests/test_native.py -k cuda | tee "$log" || return 1
  if grep -q "SKIPPED" "$log"; then
    echo "a CUDA test was skipped: it did not run"
    return 1
  fi
}

run_benchmark() {
  "$PYTHON" benchmarks/bench_aggregation.py --device cuda --graphs uniform rmat --channels 64 \
    --impls graphkit-native graphkit-reference pyg-edge_index pyg-sparsetensor --warmup 2 --repeats 5 \
    --no-memory --out "$OUT_DIR/aggregation-cuda.json"
}

print_table() {
  echo
  printf '%-14s %-8s %8s  %s\n' "step" "status" "seconds" "log"
  local i
  for i in "${!STEPS[@]}"; do
    printf '%-14s %-8s %8s  %s\n' "${STEPS[$i]}" "${STATUS[$i]}" "${SECONDS_TAKEN[$i]}" "$OUT_DIR/${STEPS[$i]}.log"
  done
  if [[ -s "$OUT_DIR/aggregation-cuda.json" ]]; then
    echo
    "$PYTHON" - "$OUT_DIR/aggregation-cuda.json" <<'EOF'
import json, sys
results = json.load(open(sys.argv[1]))
print(f"forward + backward of one layer on {results['machine']} (median ms of {results['repeats']})")
print(f"{'graph':8} {'ch':>4} {'layer':6} {'impl':20} {'median ms':>10} {'vs PyG fastest':>15}")
for r in results["rows"]:
    ratio = r.get("speedup_vs_pyg_fastest")
    print(f"{r['graph']:8} {r['channels']:>4} {r['layer']:6} {r['impl']:20} {r['median_ms']:>10.2f} "
          f"{'-' if ratio is None else f'{ratio:.2f}x':>15}")
EOF
  fi
}

step environment check_environment
step install install_package
step build build_kernels
step cuda-tests run_cuda_tests
step benchmark run_benchmark
print_table
if [[ $FAILED -ne 0 ]]; then
  echo "device check FAILED (see the table above)"
  exit 1
fi
echo "device check passed"
