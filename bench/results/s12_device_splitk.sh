#!/usr/bin/env bash
# Session 12 device call 2: split-K weight gradients (TESSERA_MATMUL_SPLITK: 0 off, -1/unset auto = threads chunks,
# P forced), vit_t at 8 and 16 threads, fp32 and bf16-mixed, alternating, min_ms of 4 timed steps.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
T1="$L --library-path /tmp/b/lib /tmp/b/tessera_s12b"
log=$OUT/splitk.txt
{ date -u; echo "commit: $(cat $D/COMMIT) + split-K (uncommitted)"; } >> $log
for R in 1 2; do
for T in 16 8; do for P in fp32 bf16-mixed; do for S in 0 auto 4 8; do
  echo "== vit_t threads=$T $P splitk=$S rep=$R" >> $log
  if [ $S = auto ]; then timeout 100 $T1 bench vit_t --threads $T --iters 4 --warmup 1 --precision $P --profile 2>&1 | grep -E "step_ms|long-K" >> $log
  else TESSERA_MATMUL_SPLITK=$S timeout 100 $T1 bench vit_t --threads $T --iters 4 --warmup 1 --precision $P --profile 2>&1 | grep -E "step_ms|long-K" >> $log; fi
done; done; done; done
date -u >> $log
