#!/usr/bin/env python3
"""Per-round ratios of adjacent Tessera / PyTorch runs in a s16_local_paired.sh or s16_device_paired.sh log: for
each model, thread count and precision, every round's PyTorch ms / Tessera ms (fp32 against PyTorch's fp32; bf16
against the faster of PyTorch's fp32 and bf16 in that same round) and their median.
Usage: python3 bench/results/s16_paired_table.py LOG"""
import collections
import re
import statistics
import sys

# A configuration is one Tessera run and the PyTorch runs after it (fp32; for bf16-mixed also bf16).
ms = collections.defaultdict(dict)  # (model, threads, round, precision) -> {"tessera" | "torch-fp32" | "torch-bf16": ms}
cfg = None
for line in open(sys.argv[1]):
    m = re.match(r"== (\S+) round=(\d+) threads=(\d+) (\S+)", line)
    if m:
        who, r, t, p = m.groups()
        p = "bf16" if p.startswith("bf16") else "fp32"
        if who.startswith("tessera"):
            cfg, slot = (int(r), int(t), p), "tessera"
        else:
            slot = "torch-" + p
        continue
    m = re.match(r"(\w+) batch=\d+ step_ms=[\d.]+ min_ms=([\d.]+)", line) or re.match(r"(\w+) params=\S+ ([\d.]+) ms/step", line)
    if m and cfg:
        r, t, p = cfg
        ms[(m.group(1), t, r, p)][slot] = float(m.group(2))
rows = collections.defaultdict(list)  # (model, threads, precision) -> [(tessera, torch, ratio)]
for (model, t, r, p), d in sorted(ms.items()):
    torch = [v for k, v in d.items() if k.startswith("torch")]
    if "tessera" not in d or not torch:
        continue
    best = min(torch)
    rows[(model, t, p)].append((d["tessera"], best, best / d["tessera"]))
print("| model | threads | precision | Tessera ms per round | PyTorch ms per round (bf16: its best) | PyTorch / Tessera per round | median |")
print("|---|---|---|---|---|---|---|")
for (model, t, p), v in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][2], -kv[0][1])):
    fmt = lambda xs: " / ".join(f"{x:.0f}" for x in xs)
    print(f"| {model} | {t} | {p} | {fmt(x[0] for x in v)} | {fmt(x[1] for x in v)} | "
          f"{' / '.join(f'{x[2]:.2f}' for x in v)} | {statistics.median(x[2] for x in v):.2f} |")
