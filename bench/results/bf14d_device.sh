#!/usr/bin/env bash
# bf14d's one device call (16-core Xeon with AMX, PyTorch 2.11): why bf16 products do not gain, and
# what the branch's changes give, in one sitting. Carried folder ($D): bundle.tar.xz (this branch's
# `tessera` and bench/onednn_bf16_probe, main's `tessera-base`, their libraries and loader),
# torch_steps.py (../shared/peer), bf14d_verbose_summary.py, COMMITS. Results: $OUT/log.txt (timings,
# probe), $OUT/verbose.txt (condensed ONEDNN_VERBOSE=2 of one bf16 step per model).
#   1. onednn_bf16_probe: implementation and GFLOP/s per matmul descriptor (f32, bf16, f32 with
#      fpmath_mode=bf16), oneDNN's default ISA cap and ONEDNN_MAX_CPU_ISA=AVX512_CORE_AMX, 16 and 2 threads.
#   2. ONEDNN_VERBOSE=2 of bf16-mixed steps (base vit_t; branch vit_t, resnet18, lm; branch vit_t fp32).
#   3. tessera bench vit_t resnet18 lm --threads 16 --precision bf16-mixed --profile: base, base with
#      AMX allowed by env, branch, branch with AMX capped off (AVX512_CORE_BF16), branch with glibc malloc
#      tunables (no mmap/trim churn), branch fp32; PyTorch 2.11 fp32 and bf16.
#   4. the same at 2 threads (base, branch, branch + malloc tunables, PyTorch fp32 and bf16).
set -u
D=$(cd "$(dirname "$0")" && pwd)
B=/tmp/bf14d_b
mkdir -p $B && tar xJf "$D/bundle.tar.xz" -C $B
L=$(ls $B/lib/ld-linux-* | head -n1)
sed -e 's/warm=2, n=5/warm=1, n=3/' -e 's/timeit(train_step(m, x, y), n=5)/timeit(train_step(m, x, y), n=3)/' \
  "$D/torch_steps.py" > /tmp/bf14d_torch_steps.py
log=$OUT/log.txt verb=$OUT/verbose.txt
MALLOC_TUNE='glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824'
{ date -u; nproc; uname -r
  lscpu | grep -E 'Model name|Socket|Core\(s\)|Thread\(s\)|NUMA node\(s\)|L2|L3'
  grep -o -w 'amx_bf16\|amx_tile\|avx512_bf16' /proc/cpuinfo | sort | uniq -c
  cat "$D/COMMITS"; python3 -c 'import torch; print("torch", torch.__version__)'; } >> "$log" 2>&1

echo "== 1. probe" >> "$log"
for T in ${THREADS_HI:-16} 2; do
  echo "-- probe threads=$T default ISA cap" >> "$log"; OMP_NUM_THREADS=$T timeout 40 "$L" --library-path $B/lib $B/onednn_bf16_probe 20 >> "$log" 2>&1
  echo "-- probe threads=$T ONEDNN_MAX_CPU_ISA=AVX512_CORE_AMX" >> "$log"
  ONEDNN_MAX_CPU_ISA=AVX512_CORE_AMX OMP_NUM_THREADS=$T timeout 40 "$L" --library-path $B/lib $B/onednn_bf16_probe 20 >> "$log" 2>&1
done

echo "== 2. verbose" >> "$log"
verbose() { local tag=$1 exe=$2 model=$3 prec=$4; shift 4
  echo "######## $tag: $exe bench $model --threads ${THREADS_HI:-16} --precision $prec (warmup 1, iters 2) $*" >> "$verb"
  env "$@" ONEDNN_VERBOSE=2 timeout 60 "$L" --library-path $B/lib "$B/$exe" bench "$model" --threads ${THREADS_HI:-16} \
    --iters 2 --warmup 1 --precision "$prec" 2>&1 | python3 "$D/bf14d_verbose_summary.py" 45 >> "$verb" 2>&1; }
V=${VERBOSE_MODEL:-}  # local dry runs: one small model for every verbose run
verbose base-vit_t tessera-base ${V:-vit_t} bf16-mixed
verbose branch-vit_t tessera ${V:-vit_t} bf16-mixed
verbose branch-resnet18 tessera ${V:-resnet18} bf16-mixed
verbose branch-lm tessera ${V:-lm} bf16-mixed
verbose branch-vit_t-fp32 tessera ${V:-vit_t} fp32
echo "verbose done $(date -u)" >> "$log"

M=${MODELS:-vit_t resnet18 lm} TM=${TORCH_MODELS:-vit_t resnet18 lm} HI=${THREADS_HI:-16}
tes() { local T=$1 exe=$2 prec=$3; shift 3
  echo "== $exe threads=$T precision=$prec env: $*" >> "$log"
  env "$@" timeout ${TMO:-100} "$L" --library-path $B/lib "$B/$exe" bench $M --threads "$T" --iters 3 --warmup 1 \
    --precision "$prec" --profile >> "$log" 2>&1; }
tor() { echo "== torch threads=$1 precision=$2" >> "$log"; THREADS=$1 PRECISION=$2 timeout ${TMO:-100} python3 /tmp/bf14d_torch_steps.py $TM >> "$log" 2>&1; }

echo "== 3. $HI threads" >> "$log"
tes $HI tessera-base bf16-mixed
tes $HI tessera-base bf16-mixed ONEDNN_MAX_CPU_ISA=AVX512_CORE_AMX
tes $HI tessera bf16-mixed
tes $HI tessera bf16-mixed ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16
tes $HI tessera bf16-mixed GLIBC_TUNABLES=$MALLOC_TUNE
tor $HI bf16
tor $HI fp32
tes $HI tessera fp32

echo "== 4. 2 threads" >> "$log"
tes 2 tessera bf16-mixed
tes 2 tessera bf16-mixed GLIBC_TUNABLES=$MALLOC_TUNE
tes 2 tessera-base bf16-mixed
tor 2 bf16
tor 2 fp32
date -u >> "$log"
