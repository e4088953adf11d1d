#!/usr/bin/env bash
# Session 13 device sitting: the bf16 convolution algorithm choice (kernels::ConvAlgorithm) on the 16-core AMX host.
# 1. Per-layer table (tessera_bench_ops --benchmark_filter=ResNetConvBf16: oneDNN convolution vs im2col + AMX
#    matmul, each ResNet-18 layer and kind) at 16 and 2 threads.
# 2. ResNet-18 bf16-mixed step, TESSERA_CONV_ALGO=onednn (session 12's kernels) vs auto (this build) vs PyTorch
#    2.11 bf16 and fp32, at 16, 8 and 2 threads, two rounds alternating; min_ms of 4 timed steps.
# Carry .devcarry/s13 holding bundle.tar.xz (tessera + tessera_bench_ops + libraries), torch_steps.py, COMMIT and
# this script; run: bash .devcarry/s13/s13_device_conv.sh. Log -> $OUT/conv.txt.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
sed -e 's/warm=2, n=5/warm=1, n=4/' $D/torch_steps.py > /tmp/torch_steps.py
log=$OUT/${LOG:-conv.txt}
{ date -u; echo "commit: $(cat $D/COMMIT)"; lscpu | grep 'Model name'; } >> $log
for T in 16 2; do
  echo "== layers threads=$T" >> $log
  TESSERA_NUM_THREADS=$T OMP_NUM_THREADS=$T timeout 150 $L --library-path /tmp/b/lib /tmp/b/tessera_bench_ops \
    --benchmark_filter=ResNetConvBf16 --benchmark_min_time=0.2 2>&1 | grep BM_ >> $log
done
for R in 1 2; do
  for T in 16 8 2; do
    for A in onednn auto; do
      echo "== tessera conv=$A round=$R threads=$T bf16-mixed" >> $log
      TESSERA_CONV_ALGO=$A timeout 100 $L --library-path /tmp/b/lib /tmp/b/tessera bench resnet18 --threads $T --iters 4 --warmup 1 --precision bf16-mixed 2>&1 | grep step_ms >> $log
    done
    for TP in bf16 fp32; do
      echo "== torch round=$R threads=$T $TP" >> $log
      THREADS=$T PRECISION=$TP timeout 100 python3 /tmp/torch_steps.py resnet18 2>&1 | grep ms/step >> $log
    done
  done
done
date -u >> $log
