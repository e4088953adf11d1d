#!/usr/bin/env bash
# Session 18 device host: the fused residual add + layer norm (ed3f047, later 4740ed8) against the build before it
# (98b1b4f) and PyTorch 2.11, adjacent runs per round: session 17's rounds (s17_device_paired.sh, the same steps:
# Tessera old, Tessera new, PyTorch fp32 and, for bf16-mixed, bf16) with this session's configurations by default.
# Carry .devcarry/s18 (bundle.tar.xz with both binaries, torch_steps.py, COMMIT, this script and
# s17_device_paired.sh). Log -> $OUT/${LOG:-paired.txt}. Table: python3 bench/results/s17_paired_table.py LOG
D=$(cd "$(dirname "$0")" && pwd)
CONFIGS=${CONFIGS:-vit_t:2:bf16-mixed vit_t:8:bf16-mixed vit_t:16:bf16-mixed vit_t:2:fp32 vit_t:16:fp32 lm:8:bf16-mixed} \
  exec bash "$D/s17_device_paired.sh"
