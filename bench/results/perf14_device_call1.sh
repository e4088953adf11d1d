#!/usr/bin/env bash
# perf14 device call: `tessera bench vit_t resnet18 lm --profile` for each bundled binary (bin/tessera-*),
# and PyTorch (the peer script, warm-up 1 / 3 timed steps like Tessera's) at 2, 8, 16 threads, sequentially.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/libs.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
mkdir -p /tmp/bin; for f in $D/bin/*.xz; do n=/tmp/bin/$(basename $f .xz); xz -dc $f > $n; chmod +x $n; done
sed -e 's/warm=2, n=5/warm=1, n=3/' -e 's/timeit(train_step(m, x, y), n=5)/timeit(train_step(m, x, y), n=3)/' $D/torch_steps.py > /tmp/torch_steps.py
log=$OUT/log.txt
{ nproc; lscpu | grep -E 'Model name|Thread|Core|Socket|NUMA node'; echo "commits: $(cat $D/COMMITS)"
  python3 -c 'import torch; print("torch", torch.__version__)'; } >> $log 2>&1
BINS=${BINS:-$(cd /tmp/bin && ls)}
for T in ${THREADS_LIST:-2 8 16}; do
  for b in $BINS; do
    echo "== $b threads=$T" >> $log
    timeout 200 $L --library-path /tmp/b/lib /tmp/bin/$b bench ${MODELS:-vit_t resnet18 lm} --threads $T --iters 3 --warmup 1 --profile ${EXTRA:-} >> $log 2>&1
  done
  echo "== torch threads=$T" >> $log
  THREADS=$T timeout 200 python3 /tmp/torch_steps.py ${MODELS:-vit_t resnet18 lm} >> $log 2>&1
done
cat $log
