#!/usr/bin/env bash
# Session 12 device call: lm step of old (3b03580) vs new (embedding backward in place, parallel copies/fills),
# fp32 and bf16-mixed at 16 and 2 threads, three rounds alternating (min_ms of 4 timed steps), then one --profile
# run of each at 16 threads bf16-mixed; PyTorch 2.11 once per setting. Log -> $OUT/lm.txt.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
sed -e 's/warm=2, n=5/warm=1, n=4/' $D/torch_steps.py > /tmp/torch_steps.py
log=$OUT/lm.txt
{ date -u; echo "commits: $(cat $D/COMMIT)"; } >> $log
for T in 16 2; do for P in bf16-mixed fp32; do
  for R in 1 2 3; do for B in tessera_old tessera_new; do
    echo "== $B round=$R threads=$T $P" >> $log
    timeout 100 $L --library-path /tmp/b/lib /tmp/b/$B bench lm --threads $T --iters 4 --warmup 1 --precision $P 2>&1 | grep step_ms >> $log
  done; done
  TP=fp32; [ $P = bf16-mixed ] && TP=bf16
  echo "== torch round=1 threads=$T $TP" >> $log
  THREADS=$T PRECISION=$TP timeout 100 python3 /tmp/torch_steps.py lm 2>&1 | grep ms/step >> $log
done; done
for B in tessera_old tessera_new; do
  echo "== $B profile threads=16 bf16-mixed" >> $log
  timeout 100 $L --library-path /tmp/b/lib /tmp/b/$B bench lm --threads 16 --iters 3 --warmup 1 --precision bf16-mixed --profile 2>&1 | grep -E "step_ms|index|copy|fill|allocations" >> $log
done
date -u >> $log
