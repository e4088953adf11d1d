#!/usr/bin/env bash
# (Its switches existed in the bundled binary of that sitting: branch s9 at b0857f4 plus the named switch, uncommitted; removed in 7bc1b1d after the measurement, see the commit message.)
# Session 9, device host: TESSERA_MATMUL_WGRAD_COPY=1 (copy the transposed left operand of weight-gradient products
# dense before oneDNN) against the default, vit_t and lm, fp32 and bf16-mixed, 16 threads (and vit_t fp32 at 2),
# two rounds alternating; test_matmul_backends with the switch first. Log -> $OUT/wgrad.txt.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
xz -dc $D/test_matmul_backends.xz > /tmp/b/test_matmul_backends && chmod +x /tmp/b/test_matmul_backends
log=$OUT/wgrad.txt
echo "commit: $(cat $D/COMMIT)" > $log
TESSERA_MATMUL_WGRAD_COPY=1 timeout 60 $L --library-path /tmp/b/lib /tmp/b/test_matmul_backends 2>&1 | grep -E "FAIL|PASSED" >> $log
for R in 1 2; do
  for C in 0 1; do
    for P in fp32 bf16-mixed; do
      echo "== round $R copy=$C $P 16 threads" >> $log
      TESSERA_MATMUL_WGRAD_COPY=$C timeout 100 $L --library-path /tmp/b/lib /tmp/b/tessera bench vit_t lm --threads 16 \
        --iters 3 --warmup 2 --precision $P --profile 2>&1 | grep -E "step_ms|gemm|copy" >> $log
    done
    echo "== round $R copy=$C fp32 2 threads" >> $log
    TESSERA_MATMUL_WGRAD_COPY=$C timeout 100 $L --library-path /tmp/b/lib /tmp/b/tessera bench vit_t --threads 2 \
      --iters 2 --warmup 1 --profile 2>&1 | grep -E "step_ms|gemm|copy" >> $log
  done
done
cat $log
