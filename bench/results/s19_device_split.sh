#!/usr/bin/env bash
# Session 19 device host, second sitting: weight gradients split over K (8581549) on the same binary with the split
# on and off, the build before the session (27c7f6d) and PyTorch 2.11, adjacent runs per round. Per round and CONFIGS
# entry (model:threads:precision): tessera_old, tessera_nosplit (tessera_new with TESSERA_MATMUL_SPLIT_K=off),
# tessera_new, each 1 warm-up + 4 steps (min_ms), then PyTorch fp32 and, for bf16-mixed, bf16. TRACE entries
# ("threads:precision") first trace tessera_new per op (trace_table.py). Carry .devcarry/s19 (bundle.tar.xz, COMMIT,
# this script, trace_table.py, torch_steps.py). Logs -> $OUT/trace2.txt, $OUT/${LOG:-paired2.txt}.
# Table: python3 bench/results/s19_paired_table.py LOG
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
for E in ${TRACE:-}; do
  T=${E%%:*}; P=${E#*:}
  echo "== trace tessera_new threads=$T $P vit_t" >> $OUT/trace2.txt
  TESSERA_PROFILE_TRACE=1 timeout 150 $L --library-path /tmp/b/lib /tmp/b/tessera_new bench vit_t \
    --threads $T --iters 3 --warmup 1 --precision $P --profile 2> /tmp/trace.txt >> $OUT/trace2.txt
  steps=$(grep -o "steps=[0-9]*" $OUT/trace2.txt | tail -n1 | cut -d= -f2)
  python3 $D/trace_table.py /tmp/trace.txt "$steps" 25 >> $OUT/trace2.txt
done
sed -e 's/warm=2, n=5/warm=1, n=4/' $D/torch_steps.py > /tmp/torch_steps.py
log=$OUT/${LOG:-paired2.txt}
{ date -u; echo "commits: $(cat $D/COMMIT)"; } >> $log
for R in $(seq 1 ${ROUNDS:-3}); do
  for C in ${CONFIGS:-vit_t:2:bf16-mixed vit_t:16:fp32 vit_t:2:fp32 vit_t:8:bf16-mixed vit_t:16:bf16-mixed}; do
    M=${C%%:*}; rest=${C#*:}; T=${rest%%:*}; P=${rest#*:}
    for B in tessera_old tessera_nosplit tessera_new; do
      bin=$B; split=auto; [ $B = tessera_nosplit ] && bin=tessera_new && split=off
      echo "== $B round=$R threads=$T $P" >> $log
      TESSERA_MATMUL_SPLIT_K=$split timeout 200 $L --library-path /tmp/b/lib /tmp/b/$bin bench $M --threads $T --iters 4 \
        --warmup 1 --precision $P 2>&1 | grep step_ms >> $log
    done
    TPS=fp32; [ $P = bf16-mixed ] && TPS="fp32 bf16"
    for TP in $TPS; do
      echo "== torch round=$R threads=$T $TP" >> $log
      THREADS=$T PRECISION=$TP timeout 200 python3 /tmp/torch_steps.py $M 2>&1 | grep ms/step >> $log
    done
  done
done
date -u >> $log
exit 0
