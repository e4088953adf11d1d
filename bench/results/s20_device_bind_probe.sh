#!/usr/bin/env bash
# Session 20: are some of the device host's cores slow while all are busy, and does binding threads to cores
# change that or Tessera's step? (1) cpu_clock_probe at 16 threads, unbound and with OMP_PROC_BIND=close
# OMP_PLACES=cores, each thread's CPU and FMA rate; (2) vit_t fp32 steps at 2 and 16 threads, unbound and bound,
# alternating, ROUNDS rounds. Carry a folder with this script, clock.tar.xz (cpu_clock_probe) and bundle.tar.xz
# (tessera) made with ../shared/tools/device-bundle.sh -> $OUT/bind.txt
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/c /tmp/b && tar xJf $D/clock.tar.xz -C /tmp/c && tar xJf $D/bundle.tar.xz -C /tmp/b
log=$OUT/bind.txt
for R in 1 2; do
  echo "clock unbound round $R" >> $log; PROBE_VERBOSE=1 timeout 60 /tmp/c/run.sh 2 16 >> $log 2>&1
  echo "clock bound round $R" >> $log; OMP_PROC_BIND=close OMP_PLACES=cores PROBE_VERBOSE=1 timeout 60 /tmp/c/run.sh 2 16 >> $log 2>&1
done
for R in $(seq ${ROUNDS:-3}); do for T in 2 16; do for BIND in unbound bound; do
  if [ $BIND = bound ]; then export OMP_PROC_BIND=close OMP_PLACES=cores; else unset OMP_PROC_BIND OMP_PLACES; fi
  echo "round=$R threads=$T $BIND $(timeout 120 /tmp/b/run.sh bench vit_t --threads $T --iters ${ITERS:-6} --warmup 2 --precision ${PREC:-fp32} 2>&1 | grep -o 'step_ms=[0-9.]* min_ms=[0-9.]*')" >> $log
done; done; done
unset OMP_PROC_BIND OMP_PLACES
cat $log
