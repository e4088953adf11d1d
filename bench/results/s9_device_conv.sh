#!/usr/bin/env bash
# (Ran the bundle of 7bc1b1d plus the conv trace annotations committed right after it.)
# Session 9, device host: where resnet18's convolution time goes (bench/results/s9_conv_table.sh over a
# TESSERA_PROFILE_TRACE=1 step): layout reorders in, oneDNN's primitive, reorder out; bf16-mixed and fp32 at 16
# and 2 threads, plus the family table. Log -> $OUT/conv.txt.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
log=$OUT/conv.txt
echo "commit: $(cat $D/COMMIT)" > $log
for T in 16 2; do
  for P in bf16-mixed fp32; do
    echo "######## resnet18 $P $T threads" >> $log
    TESSERA_PROFILE_TRACE=1 timeout 100 $L --library-path /tmp/b/lib /tmp/b/tessera bench resnet18 --threads $T --iters 1 \
      --warmup 2 --precision $P --profile > /tmp/tr.txt 2>&1
    grep -v "^trace" /tmp/tr.txt >> $log; bash $D/s9_conv_table.sh < /tmp/tr.txt >> $log
  done
done
cat $log
