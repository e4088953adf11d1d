#!/usr/bin/env python3
"""Tables of the session 11 device sittings (bench/results/s11_device_ab.txt and s11_device_ab2.txt):
bf16 step time of the old autocast (float32 results, 52bfddd), the new one (bfloat16 results, 724ddcd) and PyTorch
2.11's autocast, per model and thread count: every measurement (Tessera's min_ms of its timed steps, torch's
ms/step) in sitting order, then the median. Usage: python3 bench/results/s11_table.py LOG [LOG ...]"""
import re
import statistics
import sys
from collections import defaultdict

rows = defaultdict(list)  # (model, threads, who) -> [ms]
for path in sys.argv[1:]:
    who = threads = None
    for line in open(path):
        if line.startswith("=="):
            m = re.match(r"== (\S+) \S+ threads=(\d+) (?:precision=)?(\S+)", line)
            if m and "profile" not in line:
                who, threads, prec = m.group(1), int(m.group(2)), m.group(3)
                who = None if prec not in ("bf16-mixed", "bf16") else who
            else:
                who = None
            continue
        if who is None:
            continue
        t = re.match(r"(\w+) batch=\d+ step_ms=\S+ min_ms=([\d.]+)", line)
        p = re.match(r"(\w+) params=\S+ ([\d.]+) ms/step", line)
        if t:
            rows[(t.group(1), threads, who)].append(float(t.group(2)))
        elif p:
            rows[(p.group(1), threads, who)].append(float(p.group(2)))
print(f"{'model':9s} {'thr':>3s}  {'old bf16 (f32 results)':>30s}  {'new bf16 (bf16 results)':>30s}  {'torch bf16':>30s}  new/old  torch/new")
for model in ("vit_t", "resnet18", "lm"):
    for thr in (16, 8, 2):
        cells = [rows.get((model, thr, w), []) for w in ("tessera_old", "tessera", "torch")]
        if not any(cells):
            continue
        med = [statistics.median(c) if c else float("nan") for c in cells]
        txt = [(" ".join(f"{v:.0f}" for v in c) + f" | {m:.0f}") if c else "-" for c, m in zip(cells, med)]
        print(f"{model:9s} {thr:3d}  {txt[0]:>30s}  {txt[1]:>30s}  {txt[2]:>30s}  {med[1] / med[0]:7.2f}  {med[2] / med[1]:9.2f}")
