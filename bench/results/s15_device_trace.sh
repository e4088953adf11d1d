#!/usr/bin/env bash
# Session 15: per-op times of the new build's step on the device host at 16 and 2 threads
# (TESSERA_PROFILE_TRACE=1 ... --profile, summed by bench/results/trace_table.py), after
# s14_device_ab.sh has unpacked the bundle into /tmp/b. Carry .devcarry/s15 (bundle, both scripts,
# trace_table.py, COMMIT). Env: TRACE_MODEL (vit_t), TRACE_PRECISIONS (fp32), LOG (trace.txt in $OUT).
set -u
D=$(cd "$(dirname "$0")" && pwd)
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
log=$OUT/${LOG:-trace.txt}
for P in ${TRACE_PRECISIONS:-fp32}; do
  for T in 16 2; do
    echo "== trace tessera_new threads=$T $P ${TRACE_MODEL:-vit_t}" >> $log
    TESSERA_PROFILE_TRACE=1 timeout 150 $L --library-path /tmp/b/lib /tmp/b/tessera_new bench ${TRACE_MODEL:-vit_t} \
      --threads $T --iters 3 --warmup 1 --precision $P --profile 2> /tmp/trace.txt >> $log
    steps=$(grep -o "steps=[0-9]*" $log | tail -n1 | cut -d= -f2)
    python3 $D/trace_table.py /tmp/trace.txt "$steps" 25 >> $log
  done
done
