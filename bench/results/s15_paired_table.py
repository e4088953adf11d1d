#!/usr/bin/env python3
"""Ratios of adjacent Tessera / PyTorch pairs in a s15_device_paired.sh log: per threads and precision, each
round's PyTorch ms / Tessera min_ms, and their median. Usage: python3 bench/results/s15_paired_table.py LOG [MODEL (vit_t)]"""
import collections
import re
import statistics
import sys

model = sys.argv[2] if len(sys.argv) > 2 else "vit_t"
runs = collections.defaultdict(dict)
key = None
for line in open(sys.argv[1]):
    m = re.match(r"== (\S+) round=(\d+) threads=(\d+) (\S+)", line)
    if m:
        who, r, t, p = m.groups()
        key = (int(t), "bf16" if p.startswith("bf16") else "fp32", int(r), who.split("_")[0])
        continue
    m = re.match(r"(\w+) batch=\d+ step_ms=[\d.]+ min_ms=([\d.]+)", line) or re.match(r"(\w+) params=\S+ ([\d.]+) ms/step", line)
    if m and key and m.group(1) == model:
        runs[key[:3]][key[3]] = float(m.group(2))
print("| threads | precision | Tessera ms per round | PyTorch 2.11 ms per round | PyTorch / Tessera per round | median |")
print("|---|---|---|---|---|---|")
for t, p in sorted({k[:2] for k in runs}, key=lambda x: (x[1], -x[0])):
    rounds = sorted(r for (tt, pp, r) in runs if (tt, pp) == (t, p))
    pairs = [runs[(t, p, r)] for r in rounds if len(runs[(t, p, r)]) == 2]
    ratios = [x["torch"] / x["tessera"] for x in pairs]
    fmt = lambda v: " / ".join(f"{x:.0f}" for x in v)
    print(f"| {t} | {p} | {fmt(x['tessera'] for x in pairs)} | {fmt(x['torch'] for x in pairs)} | "
          f"{' / '.join(f'{r:.2f}' for r in ratios)} | {statistics.median(ratios):.2f} |")
