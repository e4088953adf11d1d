#!/usr/bin/env bash
# Session 12 device call 4: topology and vit_t --profile of the new build at 2 and 16 threads, fp32 and bf16-mixed
# (two runs each), to see which op families keep the 2 -> 16 speed-up under 5x. Log -> $OUT/prof2.txt.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
log=$OUT/prof2.txt
{ date -u; echo "commits: $(cat $D/COMMIT)"; lscpu | grep -E "Model name|Thread|Core|Socket|NUMA|MHz|L2|L3"; } >> $log
for R in 1 2; do for P in fp32 bf16-mixed; do for T in 2 16; do
  echo "== tessera_new vit_t round=$R threads=$T $P" >> $log
  timeout 150 $L --library-path /tmp/b/lib /tmp/b/tessera_new bench vit_t --threads $T --iters 3 --warmup 1 --precision $P --profile >> $log 2>&1
done; done; done
for T in 2 16; do
  echo "== trace vit_t threads=$T fp32 (1 step, aggregated by family and note)" >> $log
  TESSERA_PROFILE_TRACE=1 timeout 150 $L --library-path /tmp/b/lib /tmp/b/tessera_new bench vit_t --threads $T --iters 1 --warmup 1 --precision fp32 --profile 2>&1 | awk '/^trace /{for(i=2;i<=NF;i++) if($i=="ms"){ms=$(i-1); fam=""; for(j=2;j<i-1;j++) fam=fam $j " "; note=""; for(j=i+3;j<=NF;j++){ if($j ~ /^onednn=/) continue; note=note $j " "}; k=fam "| " note; t[k]+=ms; c[k]++; break}} END{for(k in t) printf "%9.2f ms %5d calls  %s\n", t[k], c[k], k}' | sort -rn | head -30 >> $log
done
date -u >> $log
