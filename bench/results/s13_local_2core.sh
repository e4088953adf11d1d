#!/usr/bin/env bash
# Session 13, this 2-core dev machine (Intel Xeon with AMX this session): Tessera old (session 12's main) and new
# fp32 and bf16-mixed beside Debian's PyTorch 1.13 and PyPI's current PyTorch (2.15, in a venv: python3 -m venv V &&
# V/bin/pip install torch), 2 threads, two rounds, 1 warm-up + 3 timed steps (Tessera min_ms, torch median). Usage:
#   OMP_WAIT_POLICY=PASSIVE flock /tmp/tessera-cpu.lock bash bench/results/s13_local_2core.sh OLD_TESSERA NEW_TESSERA /work/venv-torch/bin/python
old=${1:?old tessera}; new=${2:?new tessera}; pip_python=${3:?python of a venv with PyPI torch}
sed -e 's/warm=2, n=5/warm=1, n=3/' -e 's/timeit(train_step(m, x, y), n=5)/timeit(train_step(m, x, y), n=3)/' \
  "$(cd "$(dirname "$0")/../.." && pwd)/../shared/peer/torch_steps.py" > /tmp/torch_steps_local.py
date -u; lscpu | grep 'Model name'; echo "commit $(git -C "$(dirname "$0")" rev-parse --short HEAD)"
M="vit_t resnet18 lm"
for R in 1 2; do
  for P in fp32 bf16-mixed; do
    for B in old new; do
      echo "== tessera_$B round=$R threads=2 $P"
      ${!B} bench $M --threads 2 --iters 3 --warmup 1 --precision $P 2>&1 | grep -E "step_ms"
    done
  done
  for TP in fp32 bf16; do
    [ $TP = bf16 ] && [ $R = 2 ] && continue  # 1.13's CPU autocast: once is enough
    echo "== torch-1.13 round=$R threads=2 $TP"
    THREADS=2 PRECISION=$TP /usr/bin/python3 /tmp/torch_steps_local.py $M 2>&1 | grep ms/step
  done
  for TP in fp32 bf16; do
    echo "== torch-$($pip_python -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null) round=$R threads=2 $TP"
    THREADS=2 PRECISION=$TP $pip_python /tmp/torch_steps_local.py $M 2>&1 | grep ms/step
  done
done
date -u
