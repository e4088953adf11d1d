#!/usr/bin/env bash
# Session 16 device host: how ViT-T's products scale from 2 to 16 threads in oneDNN 2.6.3 as Tessera calls it
# (build/bench/onednn_bf16_probe, bundled) and in PyTorch 2.11's own library (s16_torch_products.py), same sitting,
# interleaved per thread count. Carry .devcarry/s16 (bundle with tessera_new, tessera_old, onednn_bf16_probe).
# Log -> $OUT/${LOG:-products.txt}.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
log=$OUT/${LOG:-products.txt}
{ date -u; echo "commits: $(cat $D/COMMIT)"; nproc; } >> $log
for R in $(seq 1 ${ROUNDS:-2}); do
  for T in ${THREAD_LIST:-2 16}; do
    echo "== onednn round=$R threads=$T" >> $log
    OMP_NUM_THREADS=$T timeout 120 $L --library-path /tmp/b/lib /tmp/b/onednn_bf16_probe 20 2>&1 | grep -v "f32>bf16" >> $log
    echo "== torch round=$R threads=$T" >> $log
    THREADS=$T timeout 120 python3 $D/s16_torch_products.py >> $log 2>&1
  done
done
date -u >> $log
