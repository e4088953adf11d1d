#!/usr/bin/env bash
# Session 19 device host: bf16 attention output written by the AMX kernel and the attention kernel's packing work
# (8249a8c, 4d8a94b; bundle .devcarry/s19: tessera_old = 27c7f6d, tessera_new = the commit in COMMIT) against the
# build before them and PyTorch 2.11. First per-op traces of tessera_new (TESSERA_PROFILE_TRACE=1 ... --profile,
# summed by trace_table.py) for TRACE ("threads:precision" entries), then session 17's paired rounds
# (s17_device_paired.sh: Tessera old, Tessera new, PyTorch fp32 and, for bf16-mixed, bf16) for CONFIGS.
# Carry .devcarry/s19 (bundle.tar.xz, COMMIT, this script, s17_device_paired.sh, trace_table.py, torch_steps.py).
# Logs -> $OUT/trace.txt and $OUT/${LOG:-paired.txt}. Table: python3 bench/results/s17_paired_table.py LOG
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
log=$OUT/trace.txt
for E in ${TRACE:-}; do
  T=${E%%:*}; P=${E#*:}
  echo "== trace tessera_new threads=$T $P ${MODEL:-vit_t}" >> $log
  TESSERA_PROFILE_TRACE=1 timeout 150 $L --library-path /tmp/b/lib /tmp/b/tessera_new bench ${MODEL:-vit_t} \
    --threads $T --iters 3 --warmup 1 --precision $P --profile 2> /tmp/trace.txt >> $log
  steps=$(grep -o "steps=[0-9]*" $log | tail -n1 | cut -d= -f2)
  python3 $D/trace_table.py /tmp/trace.txt "$steps" 25 >> $log
done
[ "${ROUNDS:-0}" -gt 0 ] && bash $D/s17_device_paired.sh
exit 0
