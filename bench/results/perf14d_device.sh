#!/usr/bin/env bash
# Issue 14's final device sitting (16-core Xeon with AMX, PyTorch 2.11): the bundled `tessera` of main (bundle.tar.xz
# from ../shared/tools/device-bundle.sh) beside PyTorch 2.11 (the peer script with 1 warm-up / 3 timed steps, like
# `tessera bench --warmup 1 --iters 3`), one sitting, two rounds alternating frameworks, at 16, 8, 2 threads: fp32
# and bf16-mixed (PRECISION=bf16 for torch), vit_t resnet18 lm, with --profile rows in round 1. Log -> $OUT/log.txt.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
sed -e 's/warm=2, n=5/warm=1, n=3/' -e 's/timeit(train_step(m, x, y), n=5)/timeit(train_step(m, x, y), n=3)/' $D/torch_steps.py > /tmp/torch_steps.py
log=$OUT/log.txt
{ date -u; nproc; lscpu | grep -E 'Model name|Socket|NUMA node\(s\)'; grep -o -w 'amx_bf16\|avx512_bf16' /proc/cpuinfo | sort | uniq -c
  echo "commit: $(cat $D/COMMIT)"; python3 -c 'import torch; print("torch", torch.__version__)'
  python3 -c 'b = bytearray(8 << 30); print("touched 8 GiB")'; } >> $log 2>&1
M=${MODELS:-vit_t resnet18 lm}
tes() { echo "== tessera round=$1 threads=$2 precision=$3" >> $log
  timeout ${TMO:-120} $L --library-path /tmp/b/lib /tmp/b/tessera bench $M --threads $2 --iters 3 --warmup 1 --precision $3 $4 >> $log 2>&1; }
tor() { echo "== torch round=$1 threads=$2 precision=$3" >> $log; THREADS=$2 PRECISION=$3 timeout ${TMO:-120} python3 /tmp/torch_steps.py $M >> $log 2>&1; }
for R in ${ROUNDS:-1 2}; do
  P=""; [ $R = 1 ] && P=--profile
  for T in ${THREADS_LIST:-16 8 2}; do
    tes $R $T fp32 "$P"; tor $R $T fp32; tes $R $T bf16-mixed "$P"; tor $R $T bf16
  done
done
date -u >> $log
grep -E "^==|step_ms|ms/step" $log
