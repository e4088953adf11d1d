#!/usr/bin/env bash
# Session 12, 2-core dev machine: lm step of OLD (3b03580) vs NEW (the embedding-backward / parallel copy commit)
# fp32 and bf16-mixed, two rounds alternating, 1 warm-up + 3 timed steps (min_ms), beside PyPI's PyTorch (fp32, bf16).
#   OMP_WAIT_POLICY=PASSIVE flock /tmp/tessera-cpu.lock bash bench/results/s12_local_lm_ab.sh OLD NEW /work/venv-torch/bin/python
old=${1:?}; new=${2:?}; py=${3:?}
sed -e 's/warm=2, n=5/warm=1, n=3/' -e 's/timeit(train_step(m, x, y), n=5)/timeit(train_step(m, x, y), n=3)/' \
  "$(cd "$(dirname "$0")/../.." && pwd)/../shared/peer/torch_steps.py" > /tmp/torch_steps_lm.py
date -u
for R in 1 2; do
  for P in fp32 bf16-mixed; do
    for B in old new; do b=$old; [ $B = new ] && b=$new
      echo "== $B round=$R $P"; $b bench lm --threads 2 --iters 3 --warmup 1 --precision $P 2>&1 | grep step_ms
    done
  done
  for TP in fp32 bf16; do echo "== torch-pypi round=$R $TP"; THREADS=2 PRECISION=$TP $py /tmp/torch_steps_lm.py lm 2>&1 | grep ms/step; done
done
date -u
