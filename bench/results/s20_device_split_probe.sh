#!/usr/bin/env bash
# Session 20: bench/onednn_split_probe.cpp on the device host at THREADS -> $OUT/split_probe.txt. Carry a folder with
# this script and probe.tar.xz (../shared/tools/device-bundle.sh build/bench/onednn_split_probe probe.tar.xz).
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/p && tar xJf $D/probe.tar.xz -C /tmp/p
for R in $(seq ${ROUNDS:-2}); do for T in ${THREADS:-2 8 16}; do
  OMP_NUM_THREADS=$T timeout 200 /tmp/p/run.sh ${ITERS:-30} >> $OUT/split_probe.txt 2>&1
done; done
cat $OUT/split_probe.txt
