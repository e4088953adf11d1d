#!/bin/bash
# The exact script of the issue-17 device call (run from the repository root of a checkout with
# .devcarry/hag17/ holding bundle.tar.xz (build/tessera + libraries, shared/tools/device-bundle.sh),
# cifar.tar.xz (the CIFAR files the reduced budget reads), kvasir.tar.xz (Kvasir-SEG at 160 px) and wt/
# (configs/hag + experiments/hag_gr of commit 69d3f64)); invoked as: LIMIT=500 bash .devcarry/hag17/dev.sh
# Device run for issue 17: CIFAR-10 + Kvasir reduced suites (3 seeds), Kvasir gate-lr sweep on validation.
set -u
C=$(pwd)/.devcarry/hag17; W=/tmp/w; S=/tmp/shared/data; R=$W/runs
mkdir -p $W $S /tmp/b $R && cd $W
tar xJf $C/bundle.tar.xz -C /tmp/b && tar xJf $C/cifar.tar.xz -C $S --transform 's#^#cifar10-jpg/#' && tar xJf $C/kvasir.tar.xz -C $S
cp -r $C/wt $W/wt
T=/tmp/b/run.sh; RS="python3 $W/wt/experiments/hag_gr/run_suite.py --tessera $T"
CV="--set data.val.dataset.per_class_offset=1000 --set trainer.plot=false ${EXTRA:-}"   # the subset keeps files [4500,4600) at 1000
KV="--set trainer.plot=false ${EXTRA:-}"
SEEDS=${SEEDS:-"0 1 2"}; SWEEP_SEEDS=${SWEEP_SEEDS:-"10 11"}; LRS=${LRS:-"3e-4 3e-3 3e-2 3e-1"}; L=${LIMIT:-500}
nproc; $T --help >/dev/null 2>&1 && echo bundle-ok
S0=$(date +%s)
# chain 1: CIFAR HAG+GR (gate lr 0.01 overlay), then the CIFAR controls
timeout -k 5 $L bash -c "$RS --suite cifar10 --variants resnet18_hag_gr vit_t4_hag_gr --seeds $SEEDS --jobs 6 --threads 2 $CV --out $R/cifar10_gr > $R/c1.log 2>&1;
  $RS --suite cifar10 --variants vit_t4_baseline_matched vit_t4_frozen resnet18_baseline_matched resnet18_frozen --seeds $SEEDS --jobs 6 --threads 2 $CV --out $R/cifar10_ctl >> $R/c1.log 2>&1" &
P1=$!
# chain 2: Kvasir gate-lr sweep (seeds 10 11, validation only) -> selection -> Kvasir HAG+GR finals
timeout -k 5 $L bash -c "$RS --suite kvasir --variants resnet18_rgb_hag_gr multistream_rgb_mask_hag_gr --gate-lrs $LRS --seeds $SWEEP_SEEDS --jobs 6 --threads 1 $KV --out $R/kvasir_sweep > $R/c2.log 2>&1;
  python3 $W/wt/experiments/hag_gr/select_gate_lr.py $R/kvasir_sweep --suite kvasir --write --note 'written on the device host from experiments/hag_gr/results/kvasir_gate_lr_sweep' >> $R/c2.log 2>&1;
  $RS --suite kvasir --variants resnet18_rgb_hag_gr multistream_rgb_mask_hag_gr --seeds $SEEDS --jobs 6 --threads 1 $KV --out $R/kvasir_gr >> $R/c2.log 2>&1" &
P2=$!
# chain 3: Kvasir controls
timeout -k 5 $L bash -c "$RS --suite kvasir --variants multistream_rgb_mask_baseline_matched multistream_rgb_mask_frozen resnet18_rgb_baseline_matched resnet18_rgb_frozen --seeds $SEEDS --jobs 2 --threads 1 $KV --out $R/kvasir_ctl > $R/c3.log 2>&1" &
P3=$!
wait $P1 $P2 $P3
echo "elapsed $(( $(date +%s) - S0 )) s"
cd $W && tar czf ${OUT:-/tmp/out}/results.tar.gz --exclude='*.h5' --exclude='*.h5.tmp*' runs wt/configs/hag/kvasir
ls -la ${OUT:-/tmp/out}; for f in c1 c2 c3; do grep -v " --progress " $R/$f.log | tail -4; done
