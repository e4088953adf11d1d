#!/bin/bash
# Issue 17, session 6 device call: CIFAR-10 ResNet-18 (reduced budget) gate-lr choice on VALIDATION only
# (seeds 10 11, the Kvasir rule, grid 1e-3..1), then HAG+GR finals (seeds 0 1 2) only if the choice is not the
# already-committed 0.01. Binary: bundle of tessera at $(cat COMMIT) (HAG code unchanged since); configs and
# runner: this session's merge of hag17b. CIFAR subset as in device_run_issue17b.sh.
set -u
C=$(pwd)/.devcarry/lead17; B=/tmp; W=$B/w; S=$B/shared/data; R=$W/runs
mkdir -p $W $S/cifar10-jpg $B/b $R && cd $W
tar xJf $C/bundle.tar.xz -C $B/b && tar xJf $C/cifar.tar.xz -C $S/cifar10-jpg || exit 1
cp -r $C/wt $W/wt
T=$B/b/run.sh; RS="python3 -u $W/wt/experiments/hag_gr/run_suite.py --tessera $T"
CV="--set data.val.dataset.per_class_offset=1000 --set trainer.plot=false"
nproc; lscpu | grep -m1 'Model name'; echo "tessera built from $(cat $C/COMMIT)"; $T --help > /dev/null 2>&1 && echo bundle-ok
S0=$(date +%s)
timeout -k 5 ${L1:-360} $RS --suite cifar10 --variants resnet18_hag_gr --gate-lrs 0.001 0.003 0.01 0.03 0.1 0.3 1 \
  --seeds 10 11 --jobs 14 --threads 1 $CV --out $R/cifar10_sweep_resnet18 > $R/sweep.log 2>&1
echo "sweep elapsed $(( $(date +%s) - S0 )) s"; tail -5 $R/sweep.log
python3 $W/wt/experiments/hag_gr/select_gate_lr.py $R/cifar10_sweep_resnet18 --suite cifar10 --write \
  --note 'written on the device host (issue-17, session 6): grid 1e-3..1, seeds 10 11' > $R/select.log 2>&1
cat $R/select.log; cat $W/wt/configs/hag/cifar10/reduced_gate_lr_resnet18.yaml
if grep -q 'lr: 0.01,' $W/wt/configs/hag/cifar10/reduced_gate_lr_resnet18.yaml; then echo "0.01 chosen: committed finals stand"
else timeout -k 5 ${L2:-170} $RS --suite cifar10 --variants resnet18_hag_gr --seeds 0 1 2 --jobs 3 --threads 5 $CV \
  --out $R/cifar10_finals_resnet18 > $R/finals.log 2>&1; tail -8 $R/finals.log; fi
echo "total elapsed $(( $(date +%s) - S0 )) s"
lscpu > $R/host.txt
tar czf $OUT/results.tar.gz --exclude='*.h5' --exclude='*.h5.tmp*' runs wt/configs/hag/cifar10
ls -la $OUT
