#!/usr/bin/env bash
# Session 20: Tessera's own kernels, old (6143d95) vs new (balanced parallel_for), alternating pairs of
# tessera_bench_ops runs (s19_ab_pairs.sh) at THREADS -> $OUT/ops_ab.txt. Carry a folder with this script,
# s19_ab_pairs.sh and ops.tar.xz (device-bundle.sh of the new bench binary as bench_new, plus bench_old, no run.sh).
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/o && tar xJf $D/ops.tar.xz -C /tmp/o
L=$(ls /tmp/o/lib/ld-linux-* | head -n1)
for B in old new; do printf '#!/bin/bash\nexec %s --library-path /tmp/o/lib /tmp/o/bench_%s "$@"\n' $L $B > /tmp/o/$B.sh; chmod +x /tmp/o/$B.sh; done
for T in ${THREADS:-16 2}; do for F in ${FILTERS:-BM_AttentionKernelBf16/2/ BM_AttentionShort/0/1/0/ BM_LayerNormStep/ BM_AddLayerNormKernels/0/ BM_Gelu1M/1/ BM_Add1M/0/ BM_SumRows/0/}; do
  echo "threads=$T $F $(bash $D/s19_ab_pairs.sh $F /tmp/o/old.sh /tmp/o/new.sh ${PAIRS:-8} $T)" >> $OUT/ops_ab.txt
done; done
cat $OUT/ops_ab.txt
