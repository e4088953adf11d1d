#!/usr/bin/env bash
# Session 14, this 2-core dev machine: vit_t at 2 threads, Tessera old and new (fp32, bf16-mixed) beside PyPI's
# PyTorch (fp32, bf16 autocast), ROUNDS rounds (default 3) alternating; Tessera min_ms of 3 timed steps after 1
# warm-up, torch median of 3. Usage:
#   OMP_WAIT_POLICY=PASSIVE flock /tmp/tessera-cpu.lock bash bench/results/s14_local_vit.sh OLD NEW /work/venv-torch/bin/python
old=${1:?old tessera}; new=${2:?new tessera}; pip_python=${3:?python of a venv with PyPI torch}
sed -e 's/warm=2, n=5/warm=1, n=3/' -e 's/timeit(train_step(m, x, y), n=5)/timeit(train_step(m, x, y), n=3)/' \
  "$(cd "$(dirname "$0")/../.." && pwd)/../shared/peer/torch_steps.py" > /tmp/torch_steps_local.py
date -u; lscpu | grep 'Model name'; echo "commit $(git -C "$(dirname "$0")" rev-parse --short HEAD)"
M=${MODELS:-vit_t}
for R in $(seq 1 ${ROUNDS:-3}); do
  for P in bf16-mixed fp32; do
    for B in old new; do
      echo "== tessera_$B round=$R threads=2 $P"
      ${!B} bench $M --threads 2 --iters 3 --warmup 1 --precision $P 2>&1 | grep -E "step_ms"
    done
  done
  for TP in fp32 bf16; do
    echo "== torch-$($pip_python -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null) round=$R threads=2 $TP"
    THREADS=2 PRECISION=$TP $pip_python /tmp/torch_steps_local.py $M 2>&1 | grep ms/step
  done
done
date -u
