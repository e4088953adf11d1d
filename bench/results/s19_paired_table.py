#!/usr/bin/env python3
"""Per-round figures of a s19_device_split.sh log: for each model, thread count and precision, every round's
tessera_old / tessera_nosplit / tessera_new ms (min of 4 steps), PyTorch's ms (bf16: the faster of its fp32 and bf16
in that round) and PyTorch / new, with medians of old / new, nosplit / new and PyTorch / new.
Usage: python3 bench/results/s19_paired_table.py LOG"""
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from s17_paired_table import parse, rounds  # noqa: E402  (the same log format)

rows = rounds(parse(sys.argv[1]), ["tessera_old", "tessera_nosplit", "tessera_new"])
med = lambda xs: statistics.median(xs) if xs else float("nan")
print("| model | threads | precision | old / nosplit / new Tessera ms per round | PyTorch ms | old / new | nosplit / new | PyTorch / new per round | median |")
print("|---|---|---|---|---|---|---|---|---|")
for (model, t, p), v in rows:
    f = lambda x: f"{x:.0f}" if x else "-"
    per = " ; ".join(f"{f(o)} / {f(s)} / {f(n)}" for o, s, n, _ in v)
    print(f"| {model} | {t} | {p} | {per} | {' / '.join(f(b) for *_, b in v)} | "
          f"{med([o / n for o, _, n, _ in v if o]):.2f} | {med([s / n for _, s, n, _ in v if s]):.2f} | "
          f"{' / '.join(f'{b / n:.2f}' for _, _, n, b in v)} | {med([b / n for _, _, n, b in v]):.2f} |")
