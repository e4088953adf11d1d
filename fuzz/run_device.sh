#!/bin/bash
# Runs fuzz targets side by side on a many-core machine, each with its own number of libFuzzer
# processes (-jobs=N -workers=N: N independent fuzzers sharing one working corpus, each stopping at
# its first finding or after <seconds>), from the bundle fuzz/bundle.sh made (unpacked in /tmp/fz):
#   /tmp/fz/run_device.sh <seconds> <out dir> <target>:<processes> ...
# (Fork mode, -fork=N, is not used: in clang 14 its jobs last up to 300 s each and the parent waits
# for them after -max_total_time, which a short lease cannot afford.)
# Crash, leak, timeout and OOM inputs go to <out dir>/artifacts/<target>/, logs to <out dir>/logs/;
# prints one line per target (executions summed over its processes) and writes it to
# <out dir>/summary.txt.
set -u
seconds=${1:?seconds}; out=${2:?out dir}; shift 2
fz=$(cd "$(dirname "$0")" && pwd)
export TMPDIR=${TMPDIR:-/dev/shm}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$out/logs" "$out/artifacts"
# LeakSanitizer needs ptrace-like thread suspension, which some containers refuse ("LeakSanitizer
# has encountered a fatal error"): probe once, and run without leak detection (said in the summary)
# rather than lose every process at its first leak check.
first=${1%%:*}
if "$fz/bin/fuzz_$first" -runs=1 "$fz/corpus/$first" >"$out/logs/lsan_probe.log" 2>&1 && \
   ! grep -q 'LeakSanitizer has encountered a fatal error' "$out/logs/lsan_probe.log"; then
  leaks="leak detection on"
else
  export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=0
  leaks="leak detection OFF (LeakSanitizer failed here: logs/lsan_probe.log)"
fi
pids=()
for spec in "$@"; do
  t=${spec%%:*} n=${spec##*:}
  mkdir -p "$fz/work/$t/corpus" "$out/artifacts/$t"
  # -jobs writes fuzz-<i>.log into the current folder: one folder per target.
  (cd "$fz/work/$t" && exec "$fz/bin/fuzz_$t" -jobs="$n" -workers="$n" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/artifacts/$t/" \
      "$fz/work/$t/corpus" "$fz/corpus/$t" >"$out/logs/$t.log" 2>&1) &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
{
  printf '%-14s %9s %12s %8s %8s %9s\n' target processes executions exec/s corpus findings
  for spec in "$@"; do
    t=${spec%%:*} n=${spec##*:}
    for j in "$fz/work/$t"/fuzz-*.log; do [ -e "$j" ] && cat "$j" >>"$out/logs/$t.log"; done
    execs=$(grep -h 'stat::number_of_executed_units' "$out/logs/$t.log" | awk '{s += $2} END {print s + 0}')
    rate=$(grep -h 'stat::average_exec_per_sec' "$out/logs/$t.log" | awk '{s += $2} END {print s + 0}')
    printf '%-14s %9s %12s %8s %8s %9s\n' "$t" "$n" "$execs" "$rate" "$(find "$fz/work/$t/corpus" -type f | wc -l)" \
      "$(find "$out/artifacts/$t" -type f | wc -l)"
  done
  echo "$seconds s per process; $leaks; $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
} | tee "$out/summary.txt"
