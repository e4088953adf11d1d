#!/usr/bin/env bash
# Session 18, this 2-core dev machine: per-family step profiles (tessera bench ... --profile) of vit_t, old and new
# builds alternating, ROUNDS rounds per precision. Usage:
#   OMP_WAIT_POLICY=PASSIVE flock /tmp/tessera-cpu.lock bash bench/results/s18_local_profile.sh OLD NEW > LOG
old=${1:?old tessera}; new=${2:?new tessera}
date -u; lscpu | grep 'Model name'; echo "commit $(git -C "$(dirname "$0")" rev-parse --short HEAD)"
for P in ${PRECISIONS:-bf16-mixed fp32}; do
  for R in $(seq 1 ${ROUNDS:-3}); do
    for B in old new; do
      bin=$old; [ $B = new ] && bin=$new
      echo "== tessera_$B round=$R threads=2 $P"
      $bin bench ${MODEL:-vit_t} --threads 2 --iters 3 --warmup 1 --precision $P --profile 2>&1 |
        grep -E "mean_step|gemm|attention|norm|elementwise|reduction|copy|optimizer|engine|framework"
    done
  done
done
date -u
