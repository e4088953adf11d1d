#!/usr/bin/env bash
# Lead's last device call: the bf16 oneDNN tests on a CPU with AMX (test_matmul_backends, test_autocast, run with the
# bundle's loader and libraries), then one round of perf14d_device.sh (fp32 and bf16-mixed at 16/8/2 threads beside
# PyTorch 2.11).
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
for t in test_matmul_backends; do
  xz -dc $D/$t.xz > /tmp/$t && chmod +x /tmp/$t
  echo "== $t" >> $OUT/log.txt; OMP_WAIT_POLICY=PASSIVE timeout 120 $L --library-path /tmp/b/lib /tmp/$t 2>&1 | tail -4 >> $OUT/log.txt
done
ONEDNN_VERBOSE=2 timeout 90 $L --library-path /tmp/b/lib /tmp/b/tessera bench vit_t --threads 16 --iters 2 --warmup 1 \
  --precision bf16-mixed 2>&1 | python3 $D/bf14d_verbose_summary.py 14 > $OUT/verbose.txt 2>&1
ROUNDS=1 bash $D/perf14d_device.sh > /dev/null
