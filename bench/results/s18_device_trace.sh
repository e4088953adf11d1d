#!/usr/bin/env bash
# Session 18 device host: where vit_t's bf16 step goes at 8 and 16 threads (TESSERA_PROFILE_TRACE=1 ... --profile of
# tessera_new, summed per op by trace_table.py), then more paired rounds (s18_device_paired.sh) of the configurations
# given in CONFIGS. Carry .devcarry/s18 (bundle, this script, s18_device_paired.sh, s17_device_paired.sh, trace_table.py, torch_steps.py).
# Env: TRACE_THREADS ("8 16"), TRACE_PRECISIONS (bf16-mixed), LOG (trace.txt in $OUT), ROUNDS, CONFIGS.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
log=$OUT/${LOG:-trace.txt}
for P in ${TRACE_PRECISIONS:-bf16-mixed}; do
  for T in ${TRACE_THREADS:-8 16}; do
    echo "== trace tessera_new threads=$T $P vit_t" >> $log
    TESSERA_PROFILE_TRACE=1 timeout 150 $L --library-path /tmp/b/lib /tmp/b/tessera_new bench vit_t \
      --threads $T --iters 3 --warmup 1 --precision $P --profile 2> /tmp/trace.txt >> $log
    steps=$(grep -o "steps=[0-9]*" $log | tail -n1 | cut -d= -f2)
    python3 $D/trace_table.py /tmp/trace.txt "$steps" 30 >> $log
  done
done
[ "${ROUNDS:-0}" -gt 0 ] && LOG=${PAIRED_LOG:-paired.txt} bash $D/s18_device_paired.sh
