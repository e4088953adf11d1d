#!/usr/bin/env bash
# Session 20, this 2-core machine: alternating-order pairs of whole vit_t steps (2 threads, min of 5 after 2 warm-up)
# of two tessera builds; prints old, new and new / old per pair. Usage:
#   flock /tmp/tessera-cpu.lock bash bench/results/s20_local_ab_steps.sh OLD NEW PRECISION [PAIRS]
O=$1; N=$2; P=$3; K=${4:-6}
run() { OMP_WAIT_POLICY=PASSIVE $1 bench vit_t --threads 2 --iters 5 --warmup 2 --precision $P 2>&1 | grep -o "min_ms=[0-9.]*" | cut -d= -f2; }
for i in $(seq $K); do
  if [ $((i%2)) = 0 ]; then a=$(run $O); b=$(run $N); else b=$(run $N); a=$(run $O); fi
  echo "$a $b $(python3 -c "print('%.3f'%($b/$a))")"
done
