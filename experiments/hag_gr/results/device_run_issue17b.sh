#!/bin/bash
# The exact script of the second issue-17 device call (session 5). Run from the repository root of a
# checkout whose .devcarry/hag17b/ holds bundle.tar.xz (tessera + its libraries, made by
# shared/tools/device-bundle.sh; BINARY_COMMIT names the commit it was built from), cifar.tar.xz (only
# the CIFAR-10 files the reduced budget reads: train 0000-0999 and 4500-4599, test 0000-0199 of each
# class), kvasir.tar.xz (Kvasir-SEG, images and masks shrunk to fit 160 px: mogrify -resize '160x160>')
# and wt/ (configs/hag and experiments/hag_gr of this branch); invoked as
#     LIMIT=<seconds> bash .devcarry/hag17b/dev.sh
#
# The call was capped at ~6 minutes of device time (machine start included), so everything runs at
# once (16 cores: 7 CIFAR runs at 2 threads + Kvasir runs at 1 thread, 2-3 at a time):
#  - CIFAR-10 ViT-T/4 gate-lr choice on VALIDATION only (seeds 10, 11; the Kvasir rule) between the
#    reference's 0.01 and 1.0, and, concurrently, the HAG + GR finals (seeds 0 1 2) at 1.0. The finals
#    are kept only if the validation rule chooses 1.0; otherwise they are deleted here, unread (the
#    finals at 0.01 are already committed).
#  - Kvasir: the gate-lr grid extended to 1.0 (seeds 10, 11), a reproducibility run of the previous
#    call's sweep (lr 0.3, seeds 10 11: same val loss => same data and numerics), the selection over
#    the whole grid, HAG + GR finals (seeds 0 1 2) only for a model whose choice changed, and HAG
#    without GR (*_hag) and the paper's constant-lr baselines (*_baseline), seeds 0 1 2.
set -u
C=$(pwd)/.devcarry/hag17b; B=${BASE:-/tmp}; W=$B/w; S=$B/shared/data; R=$W/runs   # BASE: local dry runs only
mkdir -p $W $S/cifar10-jpg $B/b $R && cd $W
tar xJf $C/bundle.tar.xz -C $B/b && tar xJf $C/cifar.tar.xz -C $S/cifar10-jpg && tar xJf $C/kvasir.tar.xz -C $S || exit 1
cp -r $C/wt $W/wt
T=$B/b/run.sh; RS="python3 -u $W/wt/experiments/hag_gr/run_suite.py --tessera $T"
SEL="python3 $W/wt/experiments/hag_gr/select_gate_lr.py"
CV="--set data.val.dataset.per_class_offset=1000 --set trainer.plot=false ${EXTRA_C:-}"  # the subset keeps files 4500-4599 at 1000
KV="--set trainer.plot=false ${EXTRA_K:-}"   # EXTRA_*: tiny local dry runs only
L=${LIMIT:-300}
nproc; lscpu | grep -m1 'Model name'; echo "tessera built from $(cat $C/BINARY_COMMIT)"; $T --help > /dev/null 2>&1 && echo bundle-ok
S0=$(date +%s)
# CIFAR-10 ViT-T/4: validation sweep (0.01 vs 1.0, seeds 10 11) and the finals at 1.0, concurrently
timeout -k 5 $L $RS --suite cifar10 --variants vit_t4_hag_gr --gate-lrs 0.01 1 --seeds 10 11 --jobs 4 --threads 2 $CV \
  --out $R/cifar10_sweep_vit_t4 > $R/cifar_sweep.log 2>&1 &
timeout -k 5 $L $RS --suite cifar10 --variants vit_t4_hag_gr --gate-lrs 1 --seeds 0 1 2 --jobs 3 --threads 2 $CV \
  --out $R/cifar10_finals_glr1 > $R/cifar_finals.log 2>&1 &
# Kvasir chain A: grid point 1.0 + reproducibility runs -> selection over the whole grid -> finals where it changed
timeout -k 5 $L bash -c "
  $RS --suite kvasir --variants resnet18_rgb_hag_gr multistream_rgb_mask_hag_gr --gate-lrs 1 --seeds 10 11 --jobs 2 --threads 1 $KV --out $R/kvasir_sweep_lr1 > $R/kvasir_a.log 2>&1
  python3 $W/wt/experiments/hag_gr/merge_sweeps.py $R/kvasir_sweep_all $W/wt/experiments/hag_gr/results/kvasir_gate_lr_sweep/runs.csv $R/kvasir_sweep_lr1/runs.csv >> $R/kvasir_a.log 2>&1
  $SEL $R/kvasir_sweep_all --suite kvasir --write --note 'written on the device host (issue-17 call 2): grid 3e-4..3e-1 of call 1 plus 1.0' >> $R/kvasir_a.log 2>&1
  V=''; for m in resnet18_rgb multistream_rgb_mask; do grep -q 'lr: 0.3,' $W/wt/configs/hag/kvasir/reduced_gate_lr_\$m.yaml || V=\"\$V \${m}_hag_gr\"; done
  echo \"kvasir finals to rerun:\$V\" >> $R/kvasir_a.log
  [ -z \"\$V\" ] || $RS --suite kvasir --variants \$V --seeds 0 1 2 --jobs 2 --threads 1 $KV --out $R/kvasir_hag_gr >> $R/kvasir_a.log 2>&1
  $RS --suite kvasir --variants resnet18_rgb_hag_gr multistream_rgb_mask_hag_gr --gate-lrs 0.3 --seeds 10 11 --jobs 1 --threads 1 $KV --out $R/kvasir_sweep_repro >> $R/kvasir_a.log 2>&1" &
# Kvasir chain B: HAG without GR and the paper's baselines
timeout -k 5 $L $RS --suite kvasir --variants resnet18_rgb_hag multistream_rgb_mask_hag resnet18_rgb_baseline multistream_rgb_mask_baseline \
  --seeds 0 1 2 --jobs 1 --threads 1 $KV --out $R/kvasir_item2 > $R/kvasir_b.log 2>&1 &
wait
echo "elapsed $(( $(date +%s) - S0 )) s"
# CIFAR ViT selection on validation only; the finals at 1.0 survive only if 1.0 is chosen
$SEL $R/cifar10_sweep_vit_t4 --suite cifar10 --write --note 'written on the device host (issue-17 call 2)' > $R/cifar_select.log 2>&1
if grep -q 'lr: 1,' $W/wt/configs/hag/cifar10/reduced_gate_lr_vit_t4.yaml; then echo "cifar vit: 1.0 chosen, finals kept"
else rm -rf $R/cifar10_finals_glr1 $R/cifar_finals.log; echo "cifar vit: 1.0 not chosen, finals at 1.0 deleted unread"; fi | tee -a $R/cifar_select.log
lscpu > $R/host.txt
cd $W && tar czf ${OUT:-/tmp/out}/results.tar.gz --exclude='*.h5' --exclude='*.h5.tmp*' runs wt/configs/hag
ls -la ${OUT:-/tmp/out}   # the logs' per-run lines carry test metrics: only failures and summaries are printed
for f in $R/*.log; do echo "== $f"; grep -E "failed|results:|runs from|wrote|finals|chosen|Error|rror:" $f | tail -6; done
