#!/usr/bin/env bash
# Session 19, this 2-core machine: weight gradients split over K, on and off on one binary (TESSERA_MATMUL_SPLIT_K),
# alternating, PAIRS pairs per precision. Prints per run the step (mean of the profiled steps), the weight-gradient
# and other-product families and their ratio (the ratio is what moves; this machine moves whole steps by up to 1.5x).
# Usage (MODEL=vit_t by default): OMP_WAIT_POLICY=PASSIVE flock /tmp/tessera-cpu.lock bash bench/results/s19_local_splitk.sh [TESSERA] > LOG
bin=${1:-build/tessera}
date -u; echo "commit $(git -C "$(dirname "$0")" rev-parse --short HEAD)"
for P in ${PRECISIONS:-bf16-mixed fp32}; do
  for R in $(seq 1 ${PAIRS:-5}); do
    for S in off auto; do
      TESSERA_MATMUL_SPLIT_K=$S $bin bench ${MODEL:-vit_t} --threads 2 --iters 3 --warmup 1 --precision $P --profile 2>&1 |
        python3 -c "
import re, sys
d = {}
for l in sys.stdin:
    m = re.search(r'mean_step_ms=([\d.]+)', l)
    if m: d['step'] = float(m.group(1))
    m = re.match(r'  (\S.*?)\s{2,}([\d.]+)\s', l)
    if m: d[m.group(1).strip()] = float(m.group(2))
w, g = d['gemm long-K (wgrad)'], d['gemm (linear, mm)']
print('${MODEL:-vit_t} $P pair=$R split=$S step %.0f wgrad %.1f gemm %.1f wgrad/gemm %.3f' % (d['step'], w, g, w / g))"
    done
  done
done
date -u
