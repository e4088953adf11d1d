#!/bin/bash
# Issue 11 (session 7, branch titans11d): ONE device call on the lent 16-core Xeon host for
#  1. `tessera bench titans_mac|transformer_pp` at T = 1024/4096 (tokens/s, peak tensors, GEMM share), 4 threads,
#     then the PyTorch reference (experiments/titans/torch_step.py) at the same sizes, one process per
#     workload, nothing else running;
#  2. the ablation suite on tiny-shakespeare bytes, reduced budget, seeds 0 1 2, 1 thread per run, beside
#  3. the short-context needle suite (configs/titans/needle/short.yaml: trained at 256 bytes, 320-token
#     window for every model, 2 threads per model), its step count set from a timed calibration of 12 steps so
#     that training ends inside the call, then `tessera eval-needle` at 256/1024/2048/4096 bytes, 20 needles each.
# Layout (carried as .devcarry/titans11d): bundle.tar.xz (tessera + its libraries), data.tar.xz
# (tiny-shakespeare), wt/ (this branch's configs/titans, experiments/titans, experiments/hag_gr/run_suite.py,
# tests/parity/gen_titans*.py), COMMIT. QUICK=1: a tiny local dry run of the same commands.
set -u
C=${C:-$(pwd)/.devcarry/titans11d}; B=${B:-/tmp/t11d}; W=$B/w; S=$B/shared/data; R=$W/runs
rm -rf $W && mkdir -p $W $S $B/b $R && cd $W
tar xJf $C/bundle.tar.xz -C $B/b && tar xJf $C/data.tar.xz -C $S || exit 1
cp -r $C/wt $W/wt
TS=$B/b/run.sh
Q=${QUICK:-0}
if [ "$Q" = 1 ]; then SEQS="128 256"; IT=1; ABL="--seeds 0 --variants titans_mac lmm_linear_memory transformer_pp --set trainer.max_steps=2"
  NB=3; CAL=2; LENS="256 512"; NS=1; TL=${QTL:-300}
else SEQS="1024 4096"; IT=3; ABL="--seeds 0 1 2"; NB=${NB:-240}; CAL=12; LENS="256 1024 2048 4096"; NS=20; TL=${TL:-480}; fi
nproc; lscpu | grep -m1 'Model name'; echo "tessera built from $(cat $C/COMMIT)"; $TS --help > /dev/null 2>&1 && echo bundle-ok
S0=$(date +%s); el() { echo "[$(( $(date +%s) - S0 )) s] $*"; }

# 1. Speed, alone on the machine.
for L in $SEQS; do
  it=$IT; [ "$L" -ge 4096 ] && it=2
  for m in titans_mac transformer_pp; do
    $TS bench $m --seq-len $L --threads 4 --iters $it --warmup 1 2>&1 | grep -E "^$m|rror" | tee -a $R/bench_tessera.txt
    python3 wt/experiments/titans/torch_step.py --seq $L --models $m --threads 4 --iters $it 2>&1 | tail -1 | tee -a $R/bench_torch.txt
  done
done
el "bench done"

# 2. Ablation suite in the background: 6 runs at a time, 1 thread each (slowest variants first).
timeout -k 5 $(( TL - $(date +%s) + S0 )) python3 -u wt/experiments/titans/run_suite.py --suite ablation --corpus shakespeare $ABL --jobs 6 \
  --threads 1 --tessera $TS --set trainer.plot=false --out $R/abl > $R/ablation.log 2>&1 &
ABLPID=$!

# 3. Needle: calibrate (4 models at once, 2 threads each, beside the ablation), then train the same step count.
NS_SET="--tessera $TS --budget short --seeds 0 --jobs 4 --threads 2 --lengths $LENS --samples $NS --set trainer.plot=false"
timeout -k 5 150 python3 -u wt/experiments/titans/run_suite.py --suite needle $NS_SET --lengths 256 --samples 1 \
  --set trainer.max_steps=$CAL --set trainer.log_every=1 --out $R/calib > $R/calib.log 2>&1
cat $R/calib.log
SPS=$(python3 - "$R/calib/needle" "$CAL" "$NB" <<'EOF'
# Seconds per step of the slowest model, from the trainer's "step k/N ... elapsed m:ss" lines (steps 2..CAL:
# start-up and the final evaluation left out); train_s / CAL when the lines are missing.
import csv, glob, os, re, sys
root, cal, budget = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
per = []
for f in glob.glob(os.path.join(root, "*", "seed0", "stdout.txt")):
    pts = [(int(m.group(1)), 60 * int(m.group(2)) + int(m.group(3)))
           for m in re.finditer(r"step (\d+)/\d+ .*?elapsed (\d+):(\d+)", open(f).read())]
    pts = [p for p in pts if p[0] >= 2]
    if len(pts) >= 2 and pts[-1][0] > pts[0][0]:
        per.append((pts[-1][1] - pts[0][1] + 1) / (pts[-1][0] - pts[0][0]))
csvf = os.path.join(root, "needle.csv")
if not per and os.path.exists(csvf):
    per = [float(r["train_s"]) / cal for r in csv.DictReader(open(csvf))]
if per:
    print(max(cal, min(4000, int(budget / max(per)))))
EOF
)
el "calibrated: ${SPS:-?} steps"
[ -n "$SPS" ] || SPS=300  # calibration failed: a guess
LEFT=$(( TL - $(date +%s) + S0 )); [ $LEFT -gt 30 ] || LEFT=30
timeout -k 5 $LEFT python3 -u wt/experiments/titans/run_suite.py --suite needle $NS_SET \
  --set trainer.max_steps=$SPS --out $R/needle > $R/needle.log 2>&1
cat $R/needle.log; el "needle done"
wait $ABLPID; tail -25 $R/ablation.log; el "ablation done"
lscpu > $R/host.txt
tar czf $OUT/results.tar.gz --exclude='*.h5' --exclude='*.h5.tmp*' runs
ls -la $OUT
