#!/usr/bin/env bash
# Session 12 device call: vit_t of main (5d0b685's code) against PyTorch 2.11, three rounds alternating, bf16-mixed at
# 16/8/2 threads and fp32 at 16/2 threads (Tessera min_ms of 4 timed steps after 1 warm-up; PyTorch median of 4).
# Log -> $OUT/vit.txt. Table: python3 bench/results/s12_table.py LOG (old columns empty).
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
sed -e 's/warm=2, n=5/warm=1, n=4/' $D/torch_steps.py > /tmp/torch_steps.py
log=$OUT/vit.txt
{ date -u; echo "commits: $(cat $D/COMMIT)"; } >> $log
for R in 1 2 3; do
  for TP in "16 bf16-mixed" "8 bf16-mixed" "2 bf16-mixed" "16 fp32" "2 fp32"; do
    set -- $TP; T=$1; P=$2
    echo "== tessera_new round=$R threads=$T $P" >> $log
    timeout 100 $L --library-path /tmp/b/lib /tmp/b/tessera_new bench vit_t --threads $T --iters 4 --warmup 1 --precision $P 2>&1 | grep step_ms >> $log
    Q=fp32; [ $P = bf16-mixed ] && Q=bf16
    echo "== torch round=$R threads=$T $Q" >> $log
    THREADS=$T PRECISION=$Q timeout 100 python3 /tmp/torch_steps.py vit_t 2>&1 | grep ms/step >> $log
    if [ $P = bf16-mixed ]; then
      echo "== torch round=$R threads=$T fp32" >> $log
      THREADS=$T PRECISION=fp32 timeout 100 python3 /tmp/torch_steps.py vit_t 2>&1 | grep ms/step >> $log
    fi
  done
done
date -u >> $log
