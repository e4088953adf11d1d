#!/usr/bin/env bash
# (Ran the bundle of main 07f9502 on the device host, 2026-12-01 ~00:15 UTC; summary by bench/results/s10_verbose_summary.sh.
# The device tool returns at most 8 files, so the torch files of resnet18 fp32 and vit_t bf16 did not come back.)
# Session 10, device host: oneDNN's verbose exec lines (implementation, layouts, ms per primitive) of one training
# step (plus one warm-up step) of resnet18 and vit_t in Tessera (Debian's oneDNN 2.6.3) and in PyTorch 2.11 (its bundled oneDNN), bf16-mixed
# and fp32 at 2 threads, bf16 at 16. Raw lines -> $OUT/<fw>_<model>_<prec>_<T>.txt.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
sed -e 's/warm=2, n=5/warm=1, n=1/' -e 's/timeit(train_step(m, x, y), n=5)/timeit(train_step(m, x, y), n=1)/' $D/torch_steps.py > /tmp/torch_steps.py
python3 -c 'import torch; print(torch.__version__); print(torch.__config__.show())' > $OUT/torch_config.txt 2>&1
for spec in "resnet18 bf16 2" "resnet18 fp32 2" "vit_t bf16 2" "resnet18 bf16 16" "vit_t bf16 16"; do
  set -- $spec; M=$1; P=$2; T=$3; TP=$P; [ $P = bf16 ] && TP=bf16-mixed
  ONEDNN_VERBOSE=1 timeout 120 $L --library-path /tmp/b/lib /tmp/b/tessera bench $M --threads $T --iters 1 --warmup 1 --precision $TP > /tmp/v.txt 2>&1
  grep step_ms /tmp/v.txt; grep ',exec,' /tmp/v.txt > $OUT/tessera_${M}_${P}_${T}.txt
  ONEDNN_VERBOSE=1 THREADS=$T PRECISION=$P timeout 120 python3 /tmp/torch_steps.py $M > /tmp/v.txt 2>&1
  grep -v onednn_verbose /tmp/v.txt | tail -3; grep ',exec,' /tmp/v.txt > $OUT/torch_${M}_${P}_${T}.txt
  wc -l $OUT/tessera_${M}_${P}_${T}.txt $OUT/torch_${M}_${P}_${T}.txt
done
