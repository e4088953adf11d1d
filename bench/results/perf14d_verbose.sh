#!/usr/bin/env bash
# Lead's check after the final sitting (device host, 16 threads): how much of vit_t's bf16-mixed
# "gemm (linear, mm)" family (84-99 ms/step) is oneDNN's own execution time now that the bias is a separate pass.
# ONEDNN_VERBOSE=2 of `tessera bench vit_t --threads 16 --iters 2 --warmup 1` (3 steps), condensed by
# bench/results/bf14d_verbose_summary.py; bf16-mixed and fp32; plus `--profile` rows of the same runs without verbose.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
log=$OUT/verbose.txt
echo "commit: $(cat $D/COMMIT)" >> $log
for P in bf16-mixed fp32; do
  echo "######## vit_t 16 threads $P verbose (3 steps)" >> $log
  ONEDNN_VERBOSE=2 timeout 90 $L --library-path /tmp/b/lib /tmp/b/tessera bench vit_t --threads 16 --iters 2 --warmup 1 \
    --precision $P 2>&1 | python3 $D/bf14d_verbose_summary.py 30 >> $log 2>&1
  echo "######## vit_t 16 threads $P profile" >> $log
  timeout 90 $L --library-path /tmp/b/lib /tmp/b/tessera bench vit_t --threads 16 --iters 3 --warmup 1 --precision $P --profile >> $log 2>&1
done
cat $log | cut -c1-220
