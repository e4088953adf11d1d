#!/usr/bin/env bash
# Session 13, 2 cores here: resnet18 bf16-mixed, Tessera (build given) against PyPI PyTorch 2.15 bf16 and fp32,
# three rounds alternating (this machine's speed moved ~1.5x between the rounds of s13_local_2core.txt). Usage:
#   OMP_WAIT_POLICY=PASSIVE flock /tmp/tessera-cpu.lock bash bench/results/s13_local_r18.sh build/tessera /work/venv-torch/bin/python
tessera=${1:?tessera}; pip_python=${2:?python of a venv with PyPI torch}
sed -e 's/warm=2, n=5/warm=1, n=3/' -e 's/timeit(train_step(m, x, y), n=5)/timeit(train_step(m, x, y), n=3)/' \
  "$(cd "$(dirname "$0")/../.." && pwd)/../shared/peer/torch_steps.py" > /tmp/torch_steps_local.py
date -u; echo "commit $(git -C "$(dirname "$0")" rev-parse --short HEAD)"
for R in 1 2 3; do
  echo "== tessera_new round=$R threads=2 bf16-mixed"
  $tessera bench resnet18 --threads 2 --iters 3 --warmup 1 --precision bf16-mixed 2>&1 | grep step_ms
  for TP in bf16 fp32; do
    echo "== torch-2.15 round=$R threads=2 $TP"
    THREADS=2 PRECISION=$TP $pip_python /tmp/torch_steps_local.py resnet18 2>&1 | grep ms/step
  done
done
date -u
