#!/usr/bin/env bash
# Session 16, this 2-core dev machine: adjacent Tessera / PyPI PyTorch (2.15) runs per round, so that the machine's
# drift (1.5-2.5x within a sitting) cancels in each round's ratio. Per round and model: Tessera fp32 then PyTorch fp32,
# Tessera bf16-mixed then PyTorch fp32 and bf16 (autocast), 2 threads, 1 warm-up + 3 timed steps (Tessera min_ms, PyTorch median).
# Table: python3 bench/results/s16_paired_table.py LOG (per round PyTorch / Tessera, bf16 against PyTorch's best of
# its two precisions in that round; medians). Usage:
#   OMP_WAIT_POLICY=PASSIVE flock /tmp/tessera-cpu.lock bash bench/results/s16_local_paired.sh TESSERA PYTHON > LOG
#   (MODELS default "vit_t resnet18 lm", ROUNDS default 5)
bin=${1:?tessera binary}; py=${2:?python of a venv with PyPI torch}
sed -e 's/warm=2, n=5/warm=1, n=3/' -e 's/timeit(train_step(m, x, y), n=5)/timeit(train_step(m, x, y), n=3)/' \
  "$(cd "$(dirname "$0")/../.." && pwd)/../shared/peer/torch_steps.py" > /tmp/torch_steps_local.py
date -u; lscpu | grep 'Model name'; echo "commit $(git -C "$(dirname "$0")" rev-parse --short HEAD)"
echo "torch $($py -c 'import torch; print(torch.__version__)' 2>/dev/null)"
for R in $(seq 1 ${ROUNDS:-5}); do
  for M in ${MODELS:-vit_t resnet18 lm}; do
    for P in fp32 bf16-mixed; do
      echo "== tessera round=$R threads=2 $P"
      $bin bench $M --threads 2 --iters 3 --warmup 1 --precision $P 2>&1 | grep -E "step_ms"
      TPS=fp32; [ $P = bf16-mixed ] && TPS="fp32 bf16"
      for TP in $TPS; do
        echo "== torch round=$R threads=2 $TP"
        THREADS=2 PRECISION=$TP $py /tmp/torch_steps_local.py $M 2>&1 | grep ms/step
      done
    done
  done
done
date -u
