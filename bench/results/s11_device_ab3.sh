#!/usr/bin/env bash
# Session 11, third device sitting: as s11_device_ab2.sh with new = 37ab1ac (cross entropy reading bf16 logits) and lm added;
# old = 52bfddd. Alternating old/new/torch three times, 5 timed steps (min_ms), 2 and 16 threads, then --profile
# runs of each binary at 2 threads (peak memory, op families). test_autocast of the new build first.
# Log -> $OUT/log3.txt.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
sed -e 's/warm=2, n=5/warm=1, n=5/' $D/torch_steps.py > /tmp/torch_steps.py
log=$OUT/log3.txt
{ date -u; echo "commits: $(cat $D/COMMIT)"; } >> $log
echo "######## test_autocast" >> $log
timeout 120 $L --library-path /tmp/b/lib /tmp/b/test_autocast 2>&1 | grep -E "FAILED|Failure|PASSED|Expected|Which is" | head -20 >> $log
M="vit_t resnet18 lm"
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
