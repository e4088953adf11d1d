#!/usr/bin/env bash
# Session 9, device host: after parallel_for stopped shrinking the OpenMP team. vit_t bf16-mixed one-step trace
# table (bench/results/s9_trace_table.sh), then Tessera vs PyTorch 2.11 (peer script, 1 warm-up + 3 steps) at 16
# threads, fp32 and bf16, three models, with --profile. Log -> $OUT/confirm.txt.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
sed -e 's/warm=2, n=5/warm=1, n=3/' -e 's/timeit(train_step(m, x, y), n=5)/timeit(train_step(m, x, y), n=3)/' $D/torch_steps.py > /tmp/torch_steps.py
log=$OUT/confirm.txt
echo "commit: $(cat $D/COMMIT)" > $log
TESSERA_PROFILE_TRACE=1 timeout 100 $L --library-path /tmp/b/lib /tmp/b/tessera bench vit_t --threads 16 --iters 1 --warmup 2 \
  --precision bf16-mixed --profile > /tmp/tr.txt 2>&1
grep -v "^trace" /tmp/tr.txt >> $log; bash $D/s9_trace_table.sh < /tmp/tr.txt | head -14 >> $log
for T in ${THREADS_LIST:-16}; do
  for P in fp32 bf16-mixed; do
    echo "== tessera threads=$T precision=$P" >> $log
    timeout 120 $L --library-path /tmp/b/lib /tmp/b/tessera bench vit_t resnet18 lm --threads $T --iters 3 --warmup 1 --precision $P --profile >> $log 2>&1
    echo "== torch threads=$T precision=${P%-mixed}" >> $log
    THREADS=$T PRECISION=${P%-mixed} timeout 120 python3 /tmp/torch_steps.py vit_t resnet18 lm >> $log 2>&1
  done
done
grep -E "^==|step_ms|ms/step|M=4160|gemm|copy|elementwise|faults/step" $log | cut -c1-180
