#!/bin/bash
# Runs fuzz targets side by side on a many-core machine, each in libFuzzer's fork mode with its own
# number of worker processes, from the bundle fuzz/bundle.sh made (unpacked in /tmp/fz):
#   /tmp/fz/run_device.sh <seconds> <out dir> <target>:<workers> ...
# Crashes, leaks, timeouts and OOMs are kept (-ignore_crashes etc.: the run goes on to find more) in
# <out dir>/artifacts/<target>/; logs in <out dir>/logs/; prints one line per target (executions
# summed over the workers, from the fork-mode parent's last status line) and writes it to
# <out dir>/summary.txt.
set -u
seconds=${1:?seconds}; out=${2:?out dir}; shift 2
fz=$(cd "$(dirname "$0")" && pwd)
export LD_LIBRARY_PATH=$fz/lib
export TMPDIR=${TMPDIR:-/dev/shm}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$out/logs" "$out/artifacts" "$fz/work"
pids=()
for spec in "$@"; do
  t=${spec%%:*} n=${spec##*:}
  mkdir -p "$fz/work/$t" "$out/artifacts/$t"
  (cd "$fz/work/$t" && exec "$fz/bin/fuzz_$t" -fork="$n" -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$out/artifacts/$t/" \
      "$fz/work/$t" "$fz/corpus/$t" >"$out/logs/$t.log" 2>&1) &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
{
  printf '%-14s %8s %12s %8s %8s %s\n' target workers executions exec/s corpus 'oom/timeout/crash (artifacts)'
  for spec in "$@"; do
    t=${spec%%:*} n=${spec##*:}
    last=$(grep -E '^#[0-9]+: cov:' "$out/logs/$t.log" | tail -n 1)
    execs=$(echo "$last" | sed -E 's/^#([0-9]+):.*/\1/')
    rate=$(echo "$last" | sed -E 's/.*exec\/s ([0-9]+).*/\1/')
    corp=$(echo "$last" | sed -E 's/.*corp: ([0-9]+).*/\1/')
    bad=$(echo "$last" | sed -E 's/.*oom\/timeout\/crash: ([0-9\/]+).*/\1/')
    printf '%-14s %8s %12s %8s %8s %s (%s)\n' "$t" "$n" "${execs:-?}" "${rate:-?}" "${corp:-?}" "${bad:-?}" \
      "$(find "$out/artifacts/$t" -type f | wc -l)"
  done
} | tee "$out/summary.txt"
