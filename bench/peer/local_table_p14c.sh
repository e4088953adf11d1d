#!/usr/bin/env bash
# The 2-core fp32 table (issue 14): Tessera beside PyTorch 1.13 (Debian) and PyTorch 2.x (PyPI, /work/venv-torch)
# on vit_t / resnet18 / lm, one model per process (so each peak RSS is that model's), 2 warm-up + 5 timed steps
# each, two rounds alternating frameworks; vit_t also with TESSERA_ATTENTION=explicit (no fused attention). Run under the CPU lock:
#   flock /tmp/tessera-cpu.lock bench/peer/local_table_p14c.sh build/tessera > out.txt
set -u
TES=${1:-build/tessera}
PEER=${PEER:-../shared/peer/torch_steps.py}
TORCH2=${TORCH2:-/work/venv-torch/bin/python}
echo "start $(date -u) load: $(cut -d' ' -f1-3 /proc/loadavg) commit $(git rev-parse --short HEAD)"
for round in 1 2; do
  for m in vit_t resnet18 lm; do
    echo "== round $round $m tessera"; $TES bench $m --threads 2 --warmup 2 --iters 5 --profile 2>&1 | grep -E "step_ms|max_rss"
    [ $m = vit_t ] && { echo "== round $round $m tessera TESSERA_ATTENTION=explicit"
      TESSERA_ATTENTION=explicit $TES bench $m --threads 2 --warmup 2 --iters 5 --profile 2>&1 | grep -E "step_ms|max_rss|attention|bmm|softmax"; }
    echo "== round $round $m torch-1.13"; env -u OPENBLAS_CORETYPE THREADS=2 /usr/bin/python3 $PEER $m
    echo "== round $round $m torch-2.x"; THREADS=2 $TORCH2 $PEER $m
  done
done
echo "end $(date -u) load: $(cut -d' ' -f1-3 /proc/loadavg)"
