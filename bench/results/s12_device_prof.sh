#!/usr/bin/env bash
# Session 12 device call 1: where vit_t's 2 -> 16 thread scaling is lost. Profiles of main (COMMIT) at 2/8/16 threads,
# fp32 and bf16-mixed, plus per-call traces aggregated by (family, op note) at 2 and 16 threads; torch 2.11 beside.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
T1="$L --library-path /tmp/b/lib /tmp/b/tessera_s12a"
log=$OUT/prof.txt
{ date -u; echo "commit: $(cat $D/COMMIT)"; nproc; lscpu | grep 'Model name'; } >> $log
agg() { awk '/^trace /{for(i=2;i<=NF;i++) if($i=="ms"){ms=$(i-1); fam=""; for(j=2;j<i-1;j++) fam=fam $j " "; note=""; for(j=i+3;j<=NF;j++){ if($j ~ /^onednn=/) continue; note=note $j " "}; k=fam "| " note; t[k]+=ms; c[k]++; break}} END{for(k in t) printf "%9.2f ms %5d calls  %s\n", t[k], c[k], k}' | sort -rn | head -45; }
for P in bf16-mixed fp32; do
  for T in 2 8 16; do
    echo "== tessera vit_t profile threads=$T $P" >> $log
    timeout 150 $T1 bench vit_t --threads $T --iters 3 --warmup 1 --precision $P --profile >> $log 2>&1
  done
done
for T in 2 16; do
  echo "== trace vit_t threads=$T bf16-mixed (1 step, aggregated)" >> $log
  TESSERA_PROFILE_TRACE=1 timeout 150 $T1 bench vit_t --threads $T --iters 1 --warmup 1 --precision bf16-mixed --profile 2>&1 | agg >> $log
done
for T in 2 16; do
  echo "== tessera resnet18 lm profile threads=$T bf16-mixed" >> $log
  timeout 200 $T1 bench resnet18 lm --threads $T --iters 3 --warmup 1 --precision bf16-mixed --profile >> $log 2>&1
done
for T in 2 16; do for P in fp32 bf16; do
  echo "== torch threads=$T $P" >> $log
  THREADS=$T PRECISION=$P timeout 150 python3 $D/torch_steps.py vit_t >> $log 2>&1
done; done
date -u >> $log
