#!/usr/bin/env bash
# Session 9's diagnostic sitting on the device host (16-core Xeon with AMX, PyTorch 2.11): where do the
# ~7000 minor page faults per bf16-mixed vit_t step come from (the --profile table's new faults/step column),
# does glibc's heap trimming cause them (GLIBC_TUNABLES variant), and does OpenBLAS beat oneDNN 2.6.3 on the
# fp32 products at 16 and 2 threads (TESSERA_MATMUL_BACKEND=openblas). Log -> $OUT/diag.txt.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
log=$OUT/diag.txt
{ date -u; nproc; lscpu | grep -E 'Model name|Socket|Core|Thread|NUMA node'; echo "commit: $(cat $D/COMMIT)"
  echo "thp: $(cat /sys/kernel/mm/transparent_hugepage/enabled) defrag: $(cat /sys/kernel/mm/transparent_hugepage/defrag)"
  echo "numa_balancing: $(cat /proc/sys/kernel/numa_balancing 2>&1)"; } >> $log 2>&1
tes() { echo "== $*" >> $log; timeout 120 env "$@" >> $log 2>&1; }
B="$L --library-path /tmp/b/lib /tmp/b/tessera bench"
GT=GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967295:glibc.malloc.top_pad=67108864
for m in vit_t resnet18 lm; do
  tes X=1 $B $m --threads 16 --iters 3 --warmup 1 --precision bf16-mixed --profile
  tes $GT $B $m --threads 16 --iters 3 --warmup 1 --precision bf16-mixed --profile
done
tes X=1 $B vit_t --threads 16 --iters 3 --warmup 1 --profile
tes TESSERA_MATMUL_BACKEND=openblas $B vit_t --threads 16 --iters 3 --warmup 1 --profile
tes $GT $B vit_t --threads 16 --iters 3 --warmup 1 --profile
tes X=1 $B vit_t resnet18 lm --threads 2 --iters 3 --warmup 1
tes TESSERA_MATMUL_BACKEND=openblas $B vit_t resnet18 lm --threads 2 --iters 3 --warmup 1
tes TESSERA_MATMUL_BACKEND=openblas $B resnet18 lm --threads 16 --iters 3 --warmup 1
tes X=1 $B resnet18 lm --threads 16 --iters 3 --warmup 1
echo "######## verbose bf16 vit_t 16 threads with $GT" >> $log
env $GT ONEDNN_VERBOSE=2 timeout 90 $L --library-path /tmp/b/lib /tmp/b/tessera bench vit_t --threads 16 --iters 2 --warmup 1 \
  --precision bf16-mixed 2>&1 | python3 $D/bf14d_verbose_summary.py 14 >> $log 2>&1
date -u >> $log
grep -E "^==|step_ms|ms/step|gemm|copy|elementwise|faults" $log | cut -c1-200
