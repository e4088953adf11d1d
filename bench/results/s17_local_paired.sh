#!/usr/bin/env bash
# Session 17, this 2-core dev machine: channels-last bf16 convolutions (NEW) against the build before them (OLD) and
# PyPI PyTorch (2.15), adjacent runs per round so the machine's drift cancels in each round's ratios. Per round and
# CONFIGS entry (model:precision): Tessera OLD, Tessera NEW (1 warm-up + 3 steps, min_ms), then PyTorch fp32 and, for
# bf16-mixed, bf16 (autocast); 2 threads. Table: python3 bench/results/s17_paired_table.py LOG. Usage:
#   OMP_WAIT_POLICY=PASSIVE flock /tmp/tessera-cpu.lock bash bench/results/s17_local_paired.sh OLD NEW PYTHON > LOG
# Since session 20 even rounds run NEW before OLD (logs before that ran OLD first in every round, which alone moved
# old / new by ~5% in session 20's bf16 rounds: bench/results/s20_local_ab_steps.txt).
old=${1:?old tessera}; new=${2:?new tessera}; py=${3:?python of a venv with PyPI torch}
sed -e 's/warm=2, n=5/warm=1, n=3/' -e 's/timeit(train_step(m, x, y), n=5)/timeit(train_step(m, x, y), n=3)/' \
  "$(cd "$(dirname "$0")/../.." && pwd)/../shared/peer/torch_steps.py" > /tmp/torch_steps_local.py
date -u; lscpu | grep 'Model name'; echo "commit $(git -C "$(dirname "$0")" rev-parse --short HEAD)"
echo "torch $($py -c 'import torch; print(torch.__version__)' 2>/dev/null)"
for R in $(seq 1 ${ROUNDS:-3}); do
  for C in ${CONFIGS:-resnet18:bf16-mixed resnet18:fp32 vit_t:bf16-mixed}; do
    M=${C%%:*}; P=${C#*:}
    ORDER="old new"; [ $((R % 2)) = 0 ] && ORDER="new old"
    for B in $ORDER; do
      echo "== tessera_$B round=$R threads=2 $P"
      bin=$old; [ $B = new ] && bin=$new
      $bin bench $M --threads 2 --iters 3 --warmup 1 --precision $P 2>&1 | grep -E "step_ms"
    done
    TPS=fp32; [ $P = bf16-mixed ] && TPS="fp32 bf16"
    for TP in $TPS; do
      echo "== torch round=$R threads=2 $TP"
      THREADS=2 PRECISION=$TP $py /tmp/torch_steps_local.py $M 2>&1 | grep ms/step
    done
  done
done
date -u
