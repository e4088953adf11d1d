#!/usr/bin/env bash
# Session 9, device host (16-core Xeon with AMX): one timed step per workload with TESSERA_PROFILE_TRACE=1
# (every kernel call with its wall ms and minor page faults; products with shape/layout and oneDNN's own
# share), bf16-mixed and fp32, 16 threads. Traces (allocator lines dropped) -> $OUT/traces.tar.xz; the 40
# calls with most faults per run -> $OUT/trace_top.txt.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b /tmp/tr && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
top=$OUT/trace_top.txt
echo "commit: $(cat $D/COMMIT)" > $top
for run in "vit_t bf16-mixed" "vit_t fp32" "lm bf16-mixed" "resnet18 bf16-mixed"; do
  set -- $run
  f=/tmp/tr/$1_$2.txt
  TESSERA_PROFILE_TRACE=1 timeout 100 $L --library-path /tmp/b/lib /tmp/b/tessera bench $1 --threads 16 --iters 1 \
    --warmup 2 --precision $2 --profile 2>&1 | grep -v "trace allocator" > $f
  { echo "######## $1 $2 16 threads: 40 calls with most faults"; grep -E "step_ms|faults/step|^  [a-z]" $f | head -20
    grep "^trace" $f | sort -k2,2 -t'|' | awk '{for(i=1;i<=NF;i++) if($i=="faults"){print $(i-1)"\t"$0; break}}' | sort -rn | head -40 | cut -f2 | cut -c1-200; } >> $top
done
tar cJf $OUT/traces.tar.xz -C /tmp/tr .
cat $top
