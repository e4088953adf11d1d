#!/usr/bin/env bash
# (Its switches existed in the bundled binary of that sitting: branch s9 at b0857f4 plus the named switch, uncommitted; removed in 7bc1b1d after the measurement, see the commit message.)
# Session 9, device host: is the forward bf16 product's cost (1.2-1.7 ms, 110-180 minor faults per call)
# the data's context or the call itself? TESSERA_ONEDNN_MATMUL=repeat,pretouch runs each product's oneDNN
# execution twice ("onednn", "again") after zero-filling the output ("touch"); also without AMX
# (ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16) and with glibc's trimming off. vit_t bf16-mixed, 16 threads, one step.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
log=$OUT/repeat.txt
echo "commit: $(cat $D/COMMIT)" > $log
GT=GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967295:glibc.malloc.top_pad=67108864
for V in "X=1" "ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16" "$GT" "OMP_WAIT_POLICY=PASSIVE" "OMP_PROC_BIND=close"; do
  for m in vit_t; do
    echo "######## $m bf16-mixed 16 threads repeat,pretouch $V" >> $log
    env $V TESSERA_ONEDNN_MATMUL=repeat,pretouch TESSERA_PROFILE_TRACE=1 timeout 100 $L --library-path /tmp/b/lib /tmp/b/tessera bench $m \
      --threads 16 --iters 1 --warmup 2 --precision bf16-mixed --profile > /tmp/tr.txt 2>&1
    grep -E "step_ms|faults/step" /tmp/tr.txt | grep -v "^trace" >> $log
    grep "^trace" /tmp/tr.txt | grep matmul | head -60 | sed -e 's/^trace gemm (linear, mm) *//' -e 's/^trace gemm long-K (wgrad) *//' -e 's/B=1 //' -e 's/bfloat16->float32/bf16/' | cut -c1-170 >> $log
  done
  echo "######## bench $V" >> $log
  env $V timeout 100 $L --library-path /tmp/b/lib /tmp/b/tessera bench vit_t lm --threads 16 --iters 3 --warmup 1 --precision bf16-mixed >> $log 2>&1
done
cat $log | cut -c1-200 | grep -v "faults matmul M=4160 N=192 K=\(576\|768\)"
