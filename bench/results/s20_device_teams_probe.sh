#!/usr/bin/env bash
# Session 20 probe: would splitting a step's batch over independent single-process thread teams scale better
# than one process with all threads? Runs P concurrent `tessera bench vit_t --threads T --batch 64/P` processes
# (the step of a batch-64 model split into P shards, without the gradient sum) for each P x T in CONFIGS.
# Carry a folder with this script and bundle.tar.xz (../shared/tools/device-bundle.sh build/tessera); log -> $OUT/teams.txt
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
log=$OUT/teams.txt
lscpu | grep -E "Model name|^CPU\(s\)|Thread|MHz|L2|L3" >> $log
for R in $(seq ${ROUNDS:-2}); do
for PR in ${PRECS:-fp32 bf16-mixed}; do
for C in ${CONFIGS:-1x2 2x1 1x16 16x1 8x2 4x4}; do
  P=${C%x*}; T=${C#*x}; B=$((64 / P))
  for i in $(seq $P); do
    timeout 120 /tmp/b/run.sh bench vit_t --threads $T --batch $B --iters ${ITERS:-8} --warmup 2 --precision $PR > /tmp/p$i.txt 2>&1 &
  done
  wait
  echo "round=$R $PR $C batch=$B $(cat /tmp/p*.txt | grep -o 'step_ms=[0-9.]*' | cut -d= -f2 | sort -n | tr '\n' ' ')" >> $log
  rm -f /tmp/p*.txt
done; done; done
cat $log
