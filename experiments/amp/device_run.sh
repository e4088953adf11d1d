#!/usr/bin/env bash
# amp14's one device call: bf16-mixed vs fp32 on the reduced CIFAR-10 ViT-T/4 (3 seeds x 2
# precisions, 6 runs at once x 2 threads), then, in the time left, tessera bench vit_t at 16
# threads fp32 / bf16-mixed beside PyTorch 2.11 fp32 / bf16 (the peer script). Results -> $OUT.
set -u
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p ../shared/data /tmp/bundle build /tmp/res
tar xJf $D/data.tar.xz -C ../shared/data
tar xJf $D/bundle.tar.xz -C /tmp/bundle
printf '#!/usr/bin/env bash\nexec /tmp/bundle/run.sh "$@"\n' > build/tessera; chmod +x build/tessera
{ nproc; lscpu | grep -m1 'Model name'; grep -o -w 'amx_bf16\|avx512_bf16' /proc/cpuinfo | sort | uniq -c; echo "commit $(cat $D/COMMIT)"; python3 -c 'import torch; print("torch", torch.__version__)'; } > /tmp/res/host.txt 2>&1
cat /tmp/res/host.txt
export PYTHONUNBUFFERED=1
timeout 125 python3 $D/run_amp_experiment.py --config $D/cifar10_vit_t4_reduced.yaml --seeds 0 1 2 --jobs 6 \
  --threads 2 --timeout 120 --out /tmp/res/runs --set trainer.max_steps=${STEPS:-150} --set scheduler.warmup=15 2>&1 | tee /tmp/res/experiment.txt
find /tmp/res/runs \( -name '*.h5' -o -name '*.png' \) -delete
for p in fp32 bf16-mixed; do timeout 25 build/tessera bench vit_t --threads 16 --warmup 1 --iters 3 --precision $p; done 2>&1 | tee /tmp/res/bench16.txt
for p in fp32 bf16; do THREADS=16 PRECISION=$p timeout 25 python3 $D/torch_steps.py vit_t; done 2>&1 | tee -a /tmp/res/bench16.txt
tar czf $OUT/results.tar.gz -C /tmp res
ls -la $OUT
