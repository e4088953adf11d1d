#!/usr/bin/env bash
# Session 13 device follow-up: resnet18 old (4a23c33) vs new (the bundled build) at 16 and 8 threads, fp32 and
# bf16-mixed, three rounds alternating, with --profile (per-family ms: did the batch-norm slab path or the gemm
# convolutions cost anything at many threads?), plus PyTorch 2.11 at the same points. Bundle as
# s13_device_ab.sh (.devcarry/s13). ROUNDS (3), TORCH=0 skips PyTorch. Log -> $OUT/${LOG:-r18.txt}.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
sed -e 's/warm=2, n=5/warm=1, n=4/' $D/torch_steps.py > /tmp/torch_steps.py
log=$OUT/${LOG:-r18.txt}
{ date -u; echo "commits: $(cat $D/COMMIT)"; } >> $log
for R in $(seq 1 ${ROUNDS:-3}); do
  for T in 16 8; do
    for P in fp32 bf16-mixed; do
      for B in tessera_old tessera_new; do
        echo "== $B round=$R threads=$T $P" >> $log
        timeout 100 $L --library-path /tmp/b/lib /tmp/b/$B bench resnet18 --threads $T --iters 4 --warmup 1 --precision $P --profile 2>&1 \
          | grep -E "step_ms|^  (conv|norm|elementwise|optimizer) " >> $log
      done
      TP=fp32; [ $P = bf16-mixed ] && TP=bf16
      [ "${TORCH:-1}" = 1 ] || continue
      echo "== torch round=$R threads=$T $TP" >> $log
      THREADS=$T PRECISION=$TP timeout 100 python3 /tmp/torch_steps.py resnet18 2>&1 | grep ms/step >> $log
    done
  done
done
date -u >> $log
