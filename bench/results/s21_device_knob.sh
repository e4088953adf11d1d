#!/usr/bin/env bash
# Session 21 device host: products in blocks that threads take over from slower ones (8c69944) against the same
# binary with TESSERA_MATMUL_ROW_SPLIT=off (exactly the products of main before it: oneDNN's static splits, one
# block per split-K slice), adjacent runs per round, order alternating by round. Per round and CONFIGS entry
# (model:threads[:precision], fp32 by default): Tessera off and auto, each 1 warm-up + 4 steps (step_ms = median);
# for TORCH entries also PyTorch 2.11 (the peer script) fp32 and, for bf16-mixed, bf16. Then OPS: alternating
# pairs of tessera_bench_ops (off vs auto) at 16 threads.
# Carry a folder with this script, s19_ab_pairs.sh, torch_steps.py, COMMIT and bundle.tar.xz (device-bundle.sh of
# build/tessera with tessera_bench_ops added). Log -> $OUT/knob.txt; table: python3 bench/results/s21_knob_table.py LOG
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
sed -e 's/warm=2, n=5/warm=1, n=4/' $D/torch_steps.py > /tmp/torch_steps.py
log=$OUT/knob.txt
{ date -u; echo "commit: $(cat $D/COMMIT)"; nproc; } >> $log
for R in $(seq 1 ${ROUNDS:-5}); do
  for C in ${CONFIGS:-vit_t:2 vit_t:16 vit_t:8 lm:16}; do
    M=${C%%:*}; rest=${C#*:}; T=${rest%%:*}; P=fp32; [ "$rest" != "$T" ] && P=${rest#*:}
    ORDER="off auto"; [ $((R % 2)) = 0 ] && ORDER="auto off"
    for K in $ORDER; do
      echo "== $K round=$R $M threads=$T $P" >> $log
      TESSERA_MATMUL_ROW_SPLIT=$K timeout 200 $L --library-path /tmp/b/lib /tmp/b/tessera bench $M --threads $T --iters 4 --warmup 1 --precision $P 2>&1 | grep step_ms >> $log
    done
    case " ${TORCH:-vit_t:2 vit_t:16} " in *" $C "*)
      TPS=fp32; [ $P = bf16-mixed ] && TPS="fp32 bf16"
      for TP in $TPS; do
        echo "== torch round=$R $M threads=$T $P torch-$TP" >> $log
        THREADS=$T PRECISION=$TP timeout 200 python3 /tmp/torch_steps.py $M 2>&1 | grep ms/step >> $log
      done;;
    esac
  done
done
for K in off auto; do printf '#!/bin/bash\nTESSERA_MATMUL_ROW_SPLIT=%s exec %s --library-path /tmp/b/lib /tmp/b/tessera_bench_ops "$@"\n' $K $L > /tmp/b/$K.sh; chmod +x /tmp/b/$K.sh; done
for F in ${OPS:-BM_LinearStep/4160/192/768/2/0/ BM_LinearStep/4160/768/192/2/0/ BM_LinearStep/4160/192/768/0/0/ BM_LinearStep/4160/768/192/0/0/ BM_LinearStep/4160/192/768/1/0/}; do
  echo "ops threads=16 $F $(bash $D/s19_ab_pairs.sh $F /tmp/b/off.sh /tmp/b/auto.sh ${PAIRS:-6} 16)" >> $log
done
date -u >> $log
cat $log
