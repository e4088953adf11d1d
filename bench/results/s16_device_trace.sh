#!/usr/bin/env bash
# Session 16 device host: per-op times of the new build's step (TESSERA_PROFILE_TRACE=1 ... --profile, summed by
# bench/results/trace_table.py, top 30) for each TRACES entry (model:threads:precision, default resnet18 bf16-mixed at
# 8 threads: the configuration nearest its target in the paired rounds). Carry .devcarry/s16. Log -> $OUT/${LOG:-trace.txt}.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && [ -x /tmp/b/tessera_new ] || tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
log=$OUT/${LOG:-trace.txt}
{ date -u; echo "commits: $(cat $D/COMMIT)"; } >> $log
for C in ${TRACES:-resnet18:8:bf16-mixed}; do
  M=${C%%:*}; rest=${C#*:}; T=${rest%%:*}; P=${rest#*:}
  echo "== trace tessera_new threads=$T $P $M" >> $log
  TESSERA_PROFILE_TRACE=1 timeout 150 $L --library-path /tmp/b/lib /tmp/b/tessera_new bench $M \
    --threads $T --iters 3 --warmup 1 --precision $P --profile 2> /tmp/trace.txt >> $log
  steps=$(grep -o "steps=[0-9]*" $log | tail -n1 | cut -d= -f2)
  python3 $D/trace_table.py /tmp/trace.txt "$steps" 30 >> $log
done
date -u >> $log
