#!/bin/bash
# Runs every fuzz target (or those named) for FUZZ_SECONDS each, with its committed seed corpus,
# then prints one line per target: executions, exec/s, corpus size, crashes.
#   fuzz/run_fuzzers.sh <build dir> [target...]
# Environment: FUZZ_SECONDS (default 60), FUZZ_FLAGS (more libFuzzer flags, e.g. "-jobs=2 -workers=2").
# New inputs go to <build dir>/fuzz-corpus/<target> (kept between runs, never committed); crash,
# leak, timeout and OOM inputs to <build dir>/fuzz-artifacts/<target>/; logs to <build dir>/fuzz-logs/.
# Exits non-zero when any target found something.
set -u
build=${1:?usage: fuzz/run_fuzzers.sh <build dir> [target...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in "$here"/*.cpp; do
    name=$(basename "$src" .cpp)
    [ "$name" = make_corpus ] || targets+=("$name")
  done
fi
seconds=${FUZZ_SECONDS:-60}
# Temporary input files are written for every execution: keep them in memory where possible.
if [ -z "${TMPDIR:-}" ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-print_suppressions=0}
# One thread for oneDNN/OpenBLAS/OpenMP: the readers are single-threaded and libFuzzer's -jobs
# already uses the cores.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$build/fuzz-logs"
status=0
summary=()
for t in "${targets[@]}"; do
  bin="$build/fuzz/fuzz_$t"
  if [ ! -x "$bin" ]; then
    echo "run_fuzzers: $bin not built (cmake --build $build --target fuzz_all)" >&2
    exit 2
  fi
  corpus="$build/fuzz-corpus/$t" artifacts="$build/fuzz-artifacts/$t" log="$build/fuzz-logs/$t.log"
  mkdir -p "$corpus" "$artifacts"
  echo "== fuzz_$t for ${seconds}s (log: $log)"
  # -rss_limit_mb: a reader that needs more than 2 GB for a file of at most a few KB is a bug.
  # shellcheck disable=SC2086
  "$bin" "$corpus" "$here/corpus/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 ${FUZZ_FLAGS:-} >"$log" 2>&1
  rc=$?
  # With -jobs, the per-job logs are fuzz-<n>.log in the current directory.
  for j in fuzz-[0-9]*.log; do [ -e "$j" ] && { cat "$j" >>"$log"; rm -f "$j"; }; done
  execs=$(grep -h 'stat::number_of_executed_units' "$log" | awk '{s += $2} END {print s + 0}')
  rate=$(grep -h 'stat::average_exec_per_sec' "$log" | awk '{s += $2} END {print s + 0}')
  crashes=$(find "$artifacts" -type f | wc -l)
  size=$(find "$corpus" -type f | wc -l)
  [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ] && status=1
  summary+=("$(printf '%-14s %12s %8s %8s %8s %4s' "$t" "$execs" "$rate" "$size" "$crashes" "$rc")")
done
printf '%-14s %12s %8s %8s %8s %4s\n' target executions exec/s corpus findings rc
printf '%s\n' "${summary[@]}"
exit $status
