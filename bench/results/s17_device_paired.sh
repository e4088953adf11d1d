#!/usr/bin/env bash
# Session 17 device host: channels-last bf16 convolutions (4f45aac) against the build before them (b19e23a) and
# PyTorch 2.11, adjacent runs per round. Per round and CONFIGS entry (model:threads:precision): Tessera old
# (tessera_old), Tessera new (tessera_new), each 1 warm-up + 4 steps (min_ms), then PyTorch fp32 and, for a
# bf16-mixed entry, bf16 (a bf16 ratio is against PyTorch's faster precision of that round).
# Carry .devcarry/s17 (bundle.tar.xz with both binaries, torch_steps.py, this script). Log -> $OUT/${LOG:-paired.txt}.
# Table: python3 bench/results/s17_paired_table.py LOG
# Since session 20 even rounds run new before old (logs before that ran old first in every round, which alone moved
# old / new by ~5% in session 20's local rounds).
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
sed -e 's/warm=2, n=5/warm=1, n=4/' $D/torch_steps.py > /tmp/torch_steps.py
log=$OUT/${LOG:-paired.txt}
{ date -u; echo "commits: $(cat $D/COMMIT)"; } >> $log
for R in $(seq 1 ${ROUNDS:-3}); do
  for C in ${CONFIGS:-resnet18:8:bf16-mixed resnet18:16:bf16-mixed resnet18:2:bf16-mixed vit_t:2:bf16-mixed}; do
    M=${C%%:*}; rest=${C#*:}; T=${rest%%:*}; P=${rest#*:}
    ORDER="tessera_old tessera_new"; [ $((R % 2)) = 0 ] && ORDER="tessera_new tessera_old"
    for B in $ORDER; do
      echo "== $B round=$R threads=$T $P" >> $log
      timeout 200 $L --library-path /tmp/b/lib /tmp/b/$B bench $M --threads $T --iters 4 --warmup 1 --precision $P 2>&1 | grep step_ms >> $log
    done
    TPS=fp32; [ $P = bf16-mixed ] && TPS="fp32 bf16"
    for TP in $TPS; do
      echo "== torch round=$R threads=$T $TP" >> $log
      THREADS=$T PRECISION=$TP timeout 200 python3 /tmp/torch_steps.py $M 2>&1 | grep ms/step >> $log
    done
  done
done
date -u >> $log
