#!/usr/bin/env bash
# Session 14 device A/B: old (c7e7ceb, session 13's main) vs new (the bundled build) vs PyTorch 2.11, fp32 and
# bf16-mixed, MODELS (default vit_t) at 16, 8 and 2 threads, ROUNDS rounds (default 2) alternating; min_ms of 4
# timed steps (THREAD_LIST and PRECISIONS narrow the sweep). With PROFILE=1 first a `--profile` of the new build's vit_t bf16 step at 16 and 2 threads, and the
# host bound (torch sgemm GF/s per core); PROFILE_PRECISIONS lists the precisions profiled (default bf16-mixed). Carry .devcarry/s14 (bundle with tessera_old, tessera_new,
# torch_steps.py, COMMIT, this script). Log -> $OUT/${LOG:-ab.txt}; table: python3 bench/results/s12_table.py LOG.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
sed -e 's/warm=2, n=5/warm=1, n=4/' $D/torch_steps.py > /tmp/torch_steps.py
log=$OUT/${LOG:-ab.txt}
{ date -u; echo "commits: $(cat $D/COMMIT)"; } >> $log
if [ "${PROFILE:-0}" = 1 ]; then
  cat > /tmp/hw.py <<'PY'
import torch, time
def rate(f, n):
    f(); t = time.perf_counter()
    for _ in range(n): f()
    return (time.perf_counter() - t) / n
for th in (2, 16):
    torch.set_num_threads(th)
    a = torch.randn(4096, 4096); b = torch.randn(4096, 4096)
    s = rate(lambda: a @ b, 5)
    print(f"hw threads={th} sgemm4096 {2*4096**3/s/1e9:.0f} GF/s ({2*4096**3/s/1e9/th:.0f} per core)", flush=True)
PY
  python3 /tmp/hw.py >> $log 2>&1
  for P in ${PROFILE_PRECISIONS:-bf16-mixed}; do
    for T in 16 2; do
      echo "== profile tessera_new threads=$T $P" >> $log
      timeout 120 $L --library-path /tmp/b/lib /tmp/b/tessera_new bench vit_t --threads $T --iters 4 --warmup 1 --precision $P --profile >> $log 2>&1
    done
  done
fi
M="${MODELS:-vit_t}"
for R in $(seq 1 ${ROUNDS:-2}); do
  for T in ${THREAD_LIST:-16 8 2}; do
    for P in ${PRECISIONS:-bf16-mixed fp32}; do
      for B in ${BINS:-tessera_old tessera_new}; do
        echo "== $B round=$R threads=$T $P" >> $log
        timeout 200 $L --library-path /tmp/b/lib /tmp/b/$B bench $M --threads $T --iters 4 --warmup 1 --precision $P 2>&1 | grep step_ms >> $log
      done
      TP=fp32; [ $P = bf16-mixed ] && TP=bf16
      echo "== torch round=$R threads=$T $TP" >> $log
      THREADS=$T PRECISION=$TP timeout 200 python3 /tmp/torch_steps.py $M 2>&1 | grep ms/step >> $log
    done
  done
done
date -u >> $log
