#!/usr/bin/env bash
# Session 13 device A/B: old (4a23c33, session 12's main) vs new (the bundled build) vs PyTorch 2.11, fp32 and
# bf16-mixed, vit_t / lm / resnet18, at 16, 8 and 2 threads, two rounds alternating; min_ms of 4 timed steps.
# First, what the host allows: a compute-bound f32 GEMM's GFLOP/s per core and a memory-bound add's GB/s at 2
# and 16 threads (torch), which bound any framework's 2 -> 16 speed-up. Log -> $OUT/ab.txt.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/bundle.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
sed -e 's/warm=2, n=5/warm=1, n=4/' $D/torch_steps.py > /tmp/torch_steps.py
log=$OUT/${LOG:-ab.txt}
{ date -u; echo "commits: $(cat $D/COMMIT)"; } >> $log
cat > /tmp/hw.py <<'PY'
import torch, time
def rate(f, n):
    f(); t = time.perf_counter()
    for _ in range(n): f()
    return (time.perf_counter() - t) / n
for th in (1, 2, 8, 16):
    torch.set_num_threads(th)
    a = torch.randn(4096, 4096); b = torch.randn(4096, 4096)
    s = rate(lambda: a @ b, 5)
    x = torch.randn(64 * 2**20 // 4); y = torch.randn(64 * 2**20 // 4); z = torch.empty_like(x)
    m = rate(lambda: torch.add(x, y, out=z), 20)
    print(f"hw threads={th} sgemm4096 {2*4096**3/s/1e9:.0f} GF/s ({2*4096**3/s/1e9/th:.0f} per core) add64MB {3*64*2**20/m/1e9:.1f} GB/s", flush=True)
PY
python3 /tmp/hw.py >> $log 2>&1
M="vit_t lm resnet18"
for R in 1 2; do
  for T in 16 8 2; do
    for P in bf16-mixed fp32; do
      for B in tessera_old tessera_new; do
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
