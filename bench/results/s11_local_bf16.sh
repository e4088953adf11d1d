#!/usr/bin/env bash
# Session 11, this 2-core dev machine (Intel Xeon with AVX512-BF16, no AMX; Debian's PyTorch 1.13): bf16-mixed step
# time of the old autocast (float32 results, 52bfddd) and the new one (bfloat16 results, HEAD), beside PyTorch 1.13's
# CPU autocast, two rounds alternating, 2 threads, 1 warm-up + 3 timed steps. Usage:
#   OMP_WAIT_POLICY=PASSIVE flock /tmp/tessera-cpu.lock bash bench/results/s11_local_bf16.sh OLD_TESSERA NEW_TESSERA
old=${1:?old tessera}; new=${2:?new tessera}
sed -e 's/warm=2, n=5/warm=1, n=3/' -e 's/timeit(train_step(m, x, y), n=5)/timeit(train_step(m, x, y), n=3)/' \
  "$(cd "$(dirname "$0")/../.." && pwd)/../shared/peer/torch_steps.py" > /tmp/torch_steps_local.py
date -u; lscpu | grep 'Model name'
for R in 1 2; do
  for B in old new; do
    echo "== tessera_$B round=$R threads=2 precision=bf16-mixed"
    b=$old; [ $B = new ] && b=$new
    $b bench vit_t resnet18 lm --threads 2 --iters 3 --warmup 1 --precision bf16-mixed --profile 2>&1 | grep -E "step_ms|peak_mb" | sed -E 's/.*(peak_mb=[0-9.]+).*/  \1/'
  done
  echo "== torch round=$R threads=2 precision=bf16"
  THREADS=2 PRECISION=bf16 /usr/bin/python3 /tmp/torch_steps_local.py vit_t resnet18 lm 2>&1 | grep ms/step
done
date -u
