#!/usr/bin/env bash
# Session 15 (MODEL, default vit_t): the device host moved up to 2x between runs of one sitting (s15_device_final.txt), so min-of-two-rounds
# ratios swung from 0.9x to 2.2x. Here vit_t runs as adjacent Tessera / PyTorch 2.11 pairs, ROUNDS rounds (default 5) of
# the CONFIGS list (threads:precision, default "2:bf16-mixed 8:bf16-mixed 16:fp32 2:fp32"), min_ms of 4 steps; the table
# (bench/results/s15_paired_table.py LOG) gives each pair's ratio and their median. Carry .devcarry/s15. Log ->
# $OUT/${LOG:-paired.txt}.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
sed -e 's/warm=2, n=5/warm=1, n=4/' $D/torch_steps.py > /tmp/torch_steps.py
log=$OUT/${LOG:-paired.txt}
{ date -u; echo "commits: $(cat $D/COMMIT)"; } >> $log
for R in $(seq 1 ${ROUNDS:-5}); do
  for C in ${CONFIGS:-2:bf16-mixed 8:bf16-mixed 16:fp32 2:fp32}; do
    T=${C%%:*}; P=${C#*:}
    echo "== tessera_new round=$R threads=$T $P" >> $log
    timeout 200 $L --library-path /tmp/b/lib /tmp/b/tessera_new bench ${MODEL:-vit_t} --threads $T --iters 4 --warmup 1 --precision $P 2>&1 | grep step_ms >> $log
    TP=fp32; [ $P = bf16-mixed ] && TP=bf16
    echo "== torch round=$R threads=$T $TP" >> $log
    THREADS=$T PRECISION=$TP timeout 200 python3 /tmp/torch_steps.py ${MODEL:-vit_t} 2>&1 | grep ms/step >> $log
  done
done
date -u >> $log
