#!/usr/bin/env bash
# Session 15: does the fp32 vit_t step scale better from 2 to 16 threads with OpenMP threads bound to
# cores, or with OpenBLAS products? Variants default / OMP_PROC_BIND=close OMP_PLACES=cores /
# TESSERA_MATMUL_BACKEND=openblas, new build, 16 and 2 threads, ROUNDS alternating rounds (default 2),
# min_ms of 4 timed steps. Carry .devcarry/s15. Log -> $OUT/${LOG:-env.txt}.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
log=$OUT/${LOG:-env.txt}
{ date -u; echo "commits: $(cat $D/COMMIT)"; } >> $log
for R in $(seq 1 ${ROUNDS:-2}); do
  for T in ${THREAD_LIST:-16 2}; do
    for V in default bind openblas; do
      case $V in
        default) E="" ;;
        bind) E="OMP_PROC_BIND=close OMP_PLACES=cores" ;;
        openblas) E="TESSERA_MATMUL_BACKEND=openblas" ;;
      esac
      echo "== $V round=$R threads=$T ${PREC:-fp32}" >> $log
      env $E timeout 200 $L --library-path /tmp/b/lib /tmp/b/tessera_new bench ${MODEL:-vit_t} --threads $T --iters 4 \
        --warmup 1 --precision ${PREC:-fp32} 2>&1 | grep step_ms >> $log
    done
  done
done
date -u >> $log
