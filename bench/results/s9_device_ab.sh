#!/usr/bin/env bash
# (Its switches existed in the bundled binary of that sitting: branch s9 at b0857f4 plus the named switch, uncommitted; removed in 7bc1b1d after the measurement, see the commit message.)
# Session 9, device host (16-core Xeon with AMX): A/B of the oneDNN matmul switches (TESSERA_ONEDNN_MATMUL=
# packed_weights / user_scratchpad / both) on bf16-mixed vit_t and lm at 16 threads: per-product trace table
# (bench/results/s9_trace_table.sh) of one step, then step times (3 timed steps); test_matmul_backends with
# both switches first (the AMX path cannot run on the AVX2 dev machine). Log -> $OUT/ab.txt.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
xz -dc $D/test_matmul_backends.xz > /tmp/b/test_matmul_backends && chmod +x /tmp/b/test_matmul_backends
log=$OUT/ab.txt
echo "commit: $(cat $D/COMMIT)" > $log
for V in "" packed_weights user_scratchpad packed_weights,user_scratchpad; do
  echo "######## test_matmul_backends TESSERA_ONEDNN_MATMUL=$V" >> $log
  TESSERA_ONEDNN_MATMUL=$V timeout 60 $L --library-path /tmp/b/lib /tmp/b/test_matmul_backends 2>&1 | grep -E "OK|FAIL|PASSED|tests ran" | tail -14 >> $log
done
for V in "" packed_weights user_scratchpad packed_weights,user_scratchpad; do
  for m in vit_t lm; do
    echo "######## $m bf16-mixed 16 threads TESSERA_ONEDNN_MATMUL=$V: products of one step" >> $log
    TESSERA_ONEDNN_MATMUL=$V TESSERA_PROFILE_TRACE=1 timeout 100 $L --library-path /tmp/b/lib /tmp/b/tessera bench $m \
      --threads 16 --iters 1 --warmup 2 --precision bf16-mixed --profile > /tmp/tr.txt 2>&1
    grep -E "step_ms|gemm|copy|faults/step" /tmp/tr.txt | grep -v "^trace" >> $log
    bash $D/s9_trace_table.sh < /tmp/tr.txt | head -16 >> $log
  done
done
for R in 1 2; do
  for V in "" packed_weights user_scratchpad packed_weights,user_scratchpad; do
    echo "######## round $R TESSERA_ONEDNN_MATMUL=$V" >> $log
    TESSERA_ONEDNN_MATMUL=$V timeout 100 $L --library-path /tmp/b/lib /tmp/b/tessera bench vit_t lm resnet18 --threads 16 \
      --iters 3 --warmup 1 --precision bf16-mixed >> $log 2>&1
  done
done
cat $log | cut -c1-200
