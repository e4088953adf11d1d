#!/usr/bin/env bash
# Session 12, this 2-core dev machine: peak RSS of one model per process (max_rss_mb of `tessera bench --profile`, torch's
# peak_rss_mb), fp32 and bf16-mixed, Tessera (build given) beside Debian's PyTorch 1.13 and PyPI's current PyTorch.
# A process that runs several models reports the maximum over all of them, so each model runs alone here. Usage:
#   OMP_WAIT_POLICY=PASSIVE flock /tmp/tessera-cpu.lock bash bench/results/s12_local_rss.sh build/tessera /work/venv-torch/bin/python
tessera=${1:?tessera binary}; pip_python=${2:?python of a venv with PyPI torch}
sed -e 's/warm=2, n=5/warm=1, n=2/' -e 's/timeit(train_step(m, x, y), n=5)/timeit(train_step(m, x, y), n=2)/' \
  "$(cd "$(dirname "$0")/../.." && pwd)/../shared/peer/torch_steps.py" > /tmp/torch_steps_rss.py
date -u; echo "commit $(git -C "$(dirname "$0")" rev-parse --short HEAD)"
for m in vit_t resnet18 lm; do
  for P in fp32 bf16-mixed; do
    TP=fp32; [ $P = bf16-mixed ] && TP=bf16
    echo "== $m $P"
    echo "  tessera $($tessera bench $m --threads 2 --iters 2 --warmup 1 --precision $P --profile 2>&1 | grep -o 'peak_mb=[0-9.]* max_rss_mb=[0-9.]*')"
    [ $TP = fp32 ] && echo "  torch-1.13 $(THREADS=2 PRECISION=$TP /usr/bin/python3 /tmp/torch_steps_rss.py $m 2>&1 | grep -o 'peak_rss_mb=[0-9]*')"
    echo "  torch-pypi $(THREADS=2 PRECISION=$TP $pip_python /tmp/torch_steps_rss.py $m 2>&1 | grep -o 'peak_rss_mb=[0-9]*')"
  done
done
date -u
