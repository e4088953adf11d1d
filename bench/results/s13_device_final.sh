#!/usr/bin/env bash
# Session 13, last device sitting: the final build (bundle in .devcarry/s13 with tessera_new only) against PyTorch
# 2.11, fp32 and bf16-mixed, vit_t / lm / resnet18 at 16, 8 and 2 threads, ROUNDS rounds (default 1); min_ms of 4
# timed steps. Table: python3 bench/results/s12_table.py LOG (the old column stays empty). Log -> $OUT/final.txt.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
sed -e 's/warm=2, n=5/warm=1, n=4/' $D/torch_steps.py > /tmp/torch_steps.py
log=$OUT/${LOG:-final.txt}
{ date -u; echo "commits: $(cat $D/COMMIT)"; } >> $log
M="vit_t lm resnet18"
for R in $(seq 1 ${ROUNDS:-1}); do
  for T in 16 8 2; do
    for P in bf16-mixed fp32; do
      echo "== tessera_new round=$R threads=$T $P" >> $log
      timeout 150 $L --library-path /tmp/b/lib /tmp/b/tessera_new bench $M --threads $T --iters 4 --warmup 1 --precision $P 2>&1 | grep step_ms >> $log
      TP=fp32; [ $P = bf16-mixed ] && TP=bf16
      echo "== torch round=$R threads=$T $TP" >> $log
      THREADS=$T PRECISION=$TP timeout 150 python3 /tmp/torch_steps.py $M 2>&1 | grep ms/step >> $log
    done
  done
done
date -u >> $log
