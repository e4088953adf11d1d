#!/usr/bin/env bash
# perf14 second device call: memory touched first (the VM's memory grows on first use, which slowed the first
# runs of call 1), then 2 threads for vit_t/resnet18/lm (before, after, PyTorch 2.11) and vit_t again at 8/16.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/b && tar xJf $D/libs.tar.xz -C /tmp/b
L=$(ls /tmp/b/lib/ld-linux-* | head -n1)
mkdir -p /tmp/bin; for f in $D/bin/*.xz; do n=/tmp/bin/$(basename $f .xz); xz -dc $f > $n; chmod +x $n; done
sed -e 's/warm=2, n=5/warm=1, n=3/' -e 's/timeit(train_step(m, x, y), n=5)/timeit(train_step(m, x, y), n=3)/' $D/torch_steps.py > /tmp/torch_steps.py
log=$OUT/log2.txt
python3 -c 'b = bytearray(8 << 30); print("touched 8 GiB")' >> $log 2>&1
echo "commits: $(cat $D/COMMITS)" >> $log
run() { echo "== $1 threads=$2 $3" >> $log; timeout 150 $L --library-path /tmp/b/lib /tmp/bin/$1 bench $3 --threads $2 --iters 3 --warmup 1 --profile >> $log 2>&1; }
torch() { echo "== torch threads=$1 $2" >> $log; THREADS=$1 timeout 150 python3 /tmp/torch_steps.py $2 >> $log 2>&1; }
run tessera-before 2 "vit_t resnet18 lm"; run tessera-after1 2 "vit_t resnet18 lm"; torch 2 "vit_t resnet18 lm"
for T in 8 16; do run tessera-before $T vit_t; run tessera-after1 $T vit_t; torch $T vit_t; done
cat $log
