#!/usr/bin/env bash
# Session 16 device host: adjacent Tessera / PyTorch 2.11 runs per round (the host moves up to 1.7x within a sitting,
# so each round's ratio is taken on neighbours). Per round and CONFIGS entry (model:threads:precision, default the
# configurations nearest their targets): Tessera (BIN, default tessera_new) with 1 warm-up + 4 steps (min_ms), then
# PyTorch with the same, fp32 and (for a bf16-mixed entry) bf16, so a bf16 ratio is against PyTorch's best in that
# round. Table: python3 bench/results/s16_paired_table.py LOG. Carry .devcarry/s16. Log -> $OUT/${LOG:-paired.txt}.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
sed -e 's/warm=2, n=5/warm=1, n=4/' $D/torch_steps.py > /tmp/torch_steps.py
log=$OUT/${LOG:-paired.txt}
{ date -u; echo "commits: $(cat $D/COMMIT)"; } >> $log
for R in $(seq 1 ${ROUNDS:-4}); do
  for C in ${CONFIGS:-vit_t:2:bf16-mixed vit_t:8:bf16-mixed vit_t:16:bf16-mixed resnet18:8:bf16-mixed vit_t:2:fp32 vit_t:16:fp32}; do
    M=${C%%:*}; rest=${C#*:}; T=${rest%%:*}; P=${rest#*:}
    echo "== tessera round=$R threads=$T $P" >> $log
    timeout 200 $L --library-path /tmp/b/lib /tmp/b/${BIN:-tessera_new} bench $M --threads $T --iters 4 --warmup 1 --precision $P 2>&1 | grep step_ms >> $log
    TPS=fp32; [ $P = bf16-mixed ] && TPS="fp32 bf16"
    for TP in $TPS; do
      echo "== torch round=$R threads=$T $TP" >> $log
      THREADS=$T PRECISION=$TP timeout 200 python3 /tmp/torch_steps.py $M 2>&1 | grep ms/step >> $log
    done
  done
done
date -u >> $log
