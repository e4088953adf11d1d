#!/usr/bin/env bash
# (Its switches existed in the bundled binary of that sitting: branch s9 at b0857f4 plus the named switch, uncommitted; removed in 7bc1b1d after the measurement, see the commit message.)
# Session 9, device host: bf16 products with a float32 result and a bias: fused into oneDNN's matmul
# (TESSERA_MATMUL_BIAS=fused) or added in a pass of its own (default since bf14d, when the fused one looked
# slow: that was libgomp's thread re-creation, fixed in b0857f4). vit_t and lm bf16-mixed, 16 and 2 threads, two
# rounds alternating; test_matmul_backends with the switch first. Log -> $OUT/bias.txt.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
xz -dc $D/test_matmul_backends.xz > /tmp/b/test_matmul_backends && chmod +x /tmp/b/test_matmul_backends
log=$OUT/bias.txt
echo "commit: $(cat $D/COMMIT)" > $log
TESSERA_MATMUL_BIAS=fused timeout 60 $L --library-path /tmp/b/lib /tmp/b/test_matmul_backends 2>&1 | grep -E "FAIL|PASSED" >> $log
for R in 1 2; do
  for B in separate fused; do
    for T in 16 2; do
      echo "== round $R bias=$B bf16-mixed $T threads" >> $log
      TESSERA_MATMUL_BIAS=$B timeout 100 $L --library-path /tmp/b/lib /tmp/b/tessera bench vit_t lm --threads $T \
        --iters 3 --warmup 2 --precision bf16-mixed --profile 2>&1 | grep -E "step_ms|gemm \(" >> $log
    done
  done
done
cat $log
