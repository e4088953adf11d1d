#!/usr/bin/env bash
# Session 20: bench/cpu_clock_probe.cpp on the device host, ROUNDS rounds -> $OUT/clock_probe.txt. Carry a folder with
# this script and clock.tar.xz (../shared/tools/device-bundle.sh build/bench/cpu_clock_probe clock.tar.xz).
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/c && tar xJf $D/clock.tar.xz -C /tmp/c
lscpu | grep -E "Model name|^CPU\(s\)|Thread|Flags" | cut -c1-200 >> $OUT/clock_probe.txt
for R in $(seq ${ROUNDS:-3}); do
  echo "round $R" >> $OUT/clock_probe.txt
  timeout 200 /tmp/c/run.sh 1 2 4 8 12 16 >> $OUT/clock_probe.txt 2>&1
done
cat $OUT/clock_probe.txt
