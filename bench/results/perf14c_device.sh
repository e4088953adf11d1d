#!/usr/bin/env bash
# perf14c's one device call (16-core Xeon with AMX, PyTorch 2.11): the bundled `tessera` of this branch
# (bundle.tar.xz from ../shared/tools/device-bundle.sh) beside PyTorch 2.11 (the peer script with
# 1 warm-up / 3 timed steps, like `tessera bench --warmup 1 --iters 3`), one sitting, at 16, 8, 2 threads:
# fp32 and bf16-mixed (PRECISION=bf16 for torch), vit_t resnet18 lm, with --profile rows. Log -> $OUT/log.txt.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
mkdir -p /tmp/bin; ln -sf /tmp/b/tessera /tmp/bin/tessera-perf14c
sed -e 's/warm=2, n=5/warm=1, n=3/' -e 's/timeit(train_step(m, x, y), n=5)/timeit(train_step(m, x, y), n=3)/' $D/torch_steps.py > /tmp/torch_steps.py
log=$OUT/log.txt
{ date -u; nproc; lscpu | grep -E 'Model name|Socket|NUMA node\(s\)'; grep -o -w 'amx_bf16\|avx512_bf16' /proc/cpuinfo | sort | uniq -c
  echo "commits: $(cat $D/COMMITS)"; python3 -c 'import torch; print("torch", torch.__version__)'
  python3 -c 'b = bytearray(8 << 30); print("touched 8 GiB")'; } >> $log 2>&1
M=${MODELS:-vit_t resnet18 lm}
tes() { echo "== $1 threads=$2 precision=$3" >> $log
  timeout ${TMO:-100} $L --library-path /tmp/b/lib /tmp/bin/$1 bench $M --threads $2 --iters 3 --warmup 1 --precision $3 --profile >> $log 2>&1; }
tor() { echo "== torch threads=$1 precision=$2" >> $log; THREADS=$1 PRECISION=$2 timeout ${TMO:-100} python3 /tmp/torch_steps.py $M >> $log 2>&1; }
for T in ${THREADS_LIST:-16 8 2}; do
  tes tessera-perf14c $T fp32; tor $T fp32; tes tessera-perf14c $T bf16-mixed; tor $T bf16
done
date -u >> $log
cat $log
