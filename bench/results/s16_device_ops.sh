#!/usr/bin/env bash
# Session 16 device host, kernel benchmarks old vs new, interleaved, 2 rounds at 8 / 16 / 2 threads (log s16_device_ops.txt).
# ops_old = tessera_bench_ops of 01a7595 (main before session 16); ops_new = the working tree after d3bfefb (the AMX
# attention's VSCALEFPS exponent) plus an experiment not kept: batch norm's statistics and output (and its backward's
# sums and input gradient) in one task per channel, so that the channel's planes are re-read from cache. It was slower
# here at 8 threads (BM_BatchNorm 64 x 32 x 32: fp32 0.88-0.95 -> 1.26-1.30 ms, bf16 0.96-0.97 -> 1.03-1.09 ms) and at
# 2, mixed at 16, and was reverted. Carry a folder with bundle.tar.xz (device-bundle.sh of tessera_bench_ops, renamed
# ops_new, plus ops_old) and this script.
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/o && tar xJf $D/bundle.tar.xz -C /tmp/o
L=$(ls /tmp/o/lib/ld-linux-* | head -n1)
for R in 1 2; do for T in ${THREAD_LIST:-8 16 2}; do for B in ops_old ops_new; do
  echo "== $B round=$R threads=$T"
  TESSERA_NUM_THREADS=$T OMP_NUM_THREADS=$T timeout 100 $L --library-path /tmp/o/lib /tmp/o/$B --benchmark_filter="${FILTER:-BatchNorm|AttentionKernelBf16/1}" --benchmark_min_time=0.5 2>&1 | grep "^BM" | awk '{print $1, $2, $3}'
done; done; done
