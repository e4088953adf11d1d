#!/usr/bin/env bash
# Session 11, device host (16-core Xeon with AMX, PyTorch 2.11): autocast returning bfloat16 (new, 724ddcd) against
# the float32-returning autocast before it (old, 52bfddd) and PyTorch in one sitting. Carry .devcarry/s11: bundle.tar.xz
# (../shared/tools/device-bundle.sh of the new build/tessera, plus the old build's tessera as tessera_old and the
# stripped test_autocast and test_matmul_backends of the new build, sharing the libraries; xz -9 to fit the 64 MiB
# carry), torch_steps.py (../shared/peer), COMMIT.
# First the tests that take the AMX/AVX512-BF16 paths the AVX2 dev machine cannot run, then two rounds at 16, 8, 2
# threads: old bf16, new bf16, torch bf16, torch fp32 (round 1 also new fp32), 1 warm-up + 3 timed steps each.
# Log -> $OUT/log.txt.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
sed -e 's/warm=2, n=5/warm=1, n=3/' -e 's/timeit(train_step(m, x, y), n=5)/timeit(train_step(m, x, y), n=3)/' $D/torch_steps.py > /tmp/torch_steps.py
log=$OUT/log.txt
{ date -u; nproc; lscpu | grep -E 'Model name'; grep -o -w 'amx_bf16\|avx512_bf16' /proc/cpuinfo | sort | uniq -c
  echo "commits: $(cat $D/COMMIT)"; python3 -c 'import torch; print("torch", torch.__version__)'; } >> $log 2>&1
for t in test_autocast test_matmul_backends; do
  echo "######## $t" >> $log
  timeout 120 $L --library-path /tmp/b/lib /tmp/b/$t 2>&1 | grep -E "FAILED|Failure|PASSED|tests ran|Expected|Which is|rel" | head -30 >> $log
done
M=${MODELS:-vit_t resnet18 lm}
tes() { echo "== $1 round=$2 threads=$3 precision=$4" >> $log
  timeout ${TMO:-150} $L --library-path /tmp/b/lib /tmp/b/$1 bench $M --threads $3 --iters 3 --warmup 1 --precision $4 >> $log 2>&1; }
tor() { echo "== torch round=$1 threads=$2 precision=$3" >> $log; THREADS=$2 PRECISION=$3 timeout ${TMO:-150} python3 /tmp/torch_steps.py $M >> $log 2>&1; }
for R in ${ROUNDS:-1 2}; do
  for T in ${THREADS_LIST:-16 8 2}; do
    tes tessera_old $R $T bf16-mixed; tes tessera $R $T bf16-mixed; tor $R $T bf16; tor $R $T fp32
    [ $R = 1 ] && tes tessera $R $T fp32
  done
done
date -u >> $log
grep -E "^==|^####|FAILED|PASSED|step_ms|ms/step" $log
