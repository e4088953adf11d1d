#!/bin/bash
# Session 19: alternating pairs of two tessera_bench_ops builds on one benchmark (this machine moves run to run by
# up to 1.5x, so only adjacent runs are compared): prints the median of the per-pair new/old time ratios.
# Usage: bash bench/results/s19_ab_pairs.sh FILTER OLD_BENCH NEW_BENCH [pairs] [threads]
F=$1; O=$2; N=$3; P=${4:-20}; T=${5:-1}
run() { TESSERA_NUM_THREADS=$T OMP_WAIT_POLICY=PASSIVE $1 --benchmark_filter=$F --benchmark_min_time=0.15 --benchmark_min_warmup_time=0.05 2>/dev/null | grep "^BM" | awk '{print $2}'; }
for i in $(seq $P); do
  if [ $((i%2)) = 0 ]; then a=$(run $O); b=$(run $N); else b=$(run $N); a=$(run $O); fi
  echo "$a $b"
done | python3 -c "
import sys,statistics
r=[];A=[];B=[]
for l in sys.stdin:
  a,b=map(float,l.split()); r.append(b/a); A.append(a); B.append(b)
print('pairs %d  new/old median %.3f  (q1 %.3f q3 %.3f)  old median %.3f new median %.3f'%(len(r),statistics.median(r),sorted(r)[len(r)//4],sorted(r)[3*len(r)//4],statistics.median(A),statistics.median(B)))
"
