#!/bin/sh
# Causal LM step time and peak memory against sequence length: Tessera's fused attention, its
# explicit path (TESSERA_ATTENTION=explicit) and PyTorch (bench/peer/torch_lm_seq.py; explicit
# attention, plus F.scaled_dot_product_attention when PYTORCH2 names a python with torch >= 2).
# Usage (from the repository root, holding the CPU lock):
#   flock /tmp/tessera-cpu.lock sh bench/peer/lm_seq_sweep.sh "1024 2048 4096 8192" [batch]
# Env: THREADS (default 2), SKIP_EXPLICIT_ABOVE (default 8192: longer T skip both explicit paths).
set -e
TS=${1:-"1024 2048 4096 8192"}
B=${2:-1}
THREADS=${THREADS:-2}
MAXEXP=${SKIP_EXPLICIT_ABOVE:-8192}
export THREADS
unset OMP_WAIT_POLICY  # the lock keeps the cores idle: spinning OpenMP threads are the fair setting
for T in $TS; do
  build/tessera bench lm --seq-len "$T" --batch "$B" --warmup 1 --iters 3 --threads "$THREADS" | sed 's/^/fused    /'
  if [ "$T" -le "$MAXEXP" ]; then
    TESSERA_ATTENTION=explicit build/tessera bench lm --seq-len "$T" --batch "$B" --warmup 1 --iters 3 \
      --threads "$THREADS" | sed 's/^/explicit /'
    env -u OPENBLAS_CORETYPE /usr/bin/python3 bench/peer/torch_lm_seq.py --seq-len "$T" --batch "$B"
  fi
  if [ -n "$PYTORCH2" ]; then
    env -u OPENBLAS_CORETYPE "$PYTORCH2" bench/peer/torch_lm_seq.py --seq-len "$T" --batch "$B" --attention sdpa
  fi
done
