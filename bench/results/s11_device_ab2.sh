#!/usr/bin/env bash
# Session 11, second device sitting (same carry as s11_device_ab.sh): the first sitting's old/new bf16 step times
# moved up to 2x between rounds, so here old and new bf16 alternate three times with 5 timed steps each (min_ms is
# the figure to compare), beside torch bf16, for vit_t and resnet18 at 2 and 16 threads; then one --profile run
# of each binary for resnet18 and vit_t at 2 threads (time per op family). Log -> $OUT/log2.txt.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
sed -e 's/warm=2, n=5/warm=1, n=5/' $D/torch_steps.py > /tmp/torch_steps.py
log=$OUT/log2.txt
{ date -u; echo "commits: $(cat $D/COMMIT)"; } >> $log
M="vit_t resnet18"
for T in 2 16; do
  for R in 1 2 3; do
    for B in tessera_old tessera; do
      echo "== $B rep=$R threads=$T bf16-mixed" >> $log
      timeout 120 $L --library-path /tmp/b/lib /tmp/b/$B bench $M --threads $T --iters 5 --warmup 1 --precision bf16-mixed >> $log 2>&1
    done
    echo "== torch rep=$R threads=$T bf16" >> $log
    THREADS=$T PRECISION=bf16 timeout 120 python3 /tmp/torch_steps.py $M >> $log 2>&1
  done
done
for B in tessera_old tessera; do
  echo "== $B profile threads=2 bf16-mixed" >> $log
  timeout 120 $L --library-path /tmp/b/lib /tmp/b/$B bench $M --threads 2 --iters 2 --warmup 1 --precision bf16-mixed --profile >> $log 2>&1
done
date -u >> $log
grep -E "^==|step_ms|ms/step" $log
