#!/usr/bin/env python3
"""Per-round ratios in a s17_device_paired.sh / s17_local_paired.sh log: for each model, thread count and precision,
every round's old / new Tessera ms and PyTorch ms / new Tessera ms (fp32 against PyTorch's fp32; bf16 against the
faster of PyTorch's fp32 and bf16 in that same round), with medians.
Usage: python3 bench/results/s17_paired_table.py LOG"""
import collections
import re
import statistics
import sys


def parse(path):
    """{(model, threads, round, precision): {slot: ms}} of a paired log; slots are the Tessera names
    (tessera_old, tessera_new, ...) and torch-fp32 / torch-bf16."""
    ms = collections.defaultdict(dict)  # (model, threads, round, precision) -> {"tessera_old" | "tessera_new" | "torch-fp32" | "torch-bf16": ms}
    key = None
    for line in open(path):
        m = re.match(r"== (\S+) round=(\d+) threads=(\d+) (\S+)", line)
        if m:
            who, r, t, p = m.groups()
            p2 = "bf16" if p.startswith("bf16") else "fp32"
            if who.startswith("tessera"):
                key, slot = (int(r), int(t), p2), who
            else:
                slot = "torch-" + p2
            continue
        m = re.match(r"(\w+) batch=\d+ step_ms=[\d.]+ min_ms=([\d.]+)", line) or re.match(r"(\w+) params=\S+ ([\d.]+) ms/step", line)
        if m and key:
            r, t, p = key
            ms[(m.group(1), t, r, p)][slot] = float(m.group(2))
    return ms


def rounds(ms, slots):
    """{(model, threads, precision): [(slot values..., PyTorch's best ms) per round]}, in table order, for the rounds
    that have tessera_new and PyTorch; a missing slot is None."""
    rows = collections.defaultdict(list)
    for (model, t, r, p), d in sorted(ms.items()):
        torch = [v for k, v in d.items() if k.startswith("torch")]
        if "tessera_new" not in d or not torch:
            continue
        rows[(model, t, p)].append(tuple(d.get(s) for s in slots) + (min(torch),))
    return sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][2], -kv[0][1]))


if __name__ == "__main__":
    rows = rounds(parse(sys.argv[1]), ["tessera_old", "tessera_new"])
    print("| model | threads | precision | old / new Tessera ms per round | PyTorch ms (bf16: its best) | old / new median | PyTorch / new per round | median |")
    print("|---|---|---|---|---|---|---|---|")
    for (model, t, p), v in rows:
        on = " ; ".join(f"{o:.0f} / {n:.0f}" if o else f"- / {n:.0f}" for o, n, _ in v)
        sp = [o / n for o, n, _ in v if o]
        rt = [b / n for _, n, b in v]
        print(f"| {model} | {t} | {p} | {on} | {' / '.join(f'{b:.0f}' for _, _, b in v)} | "
              f"{statistics.median(sp) if sp else float('nan'):.2f} | {' / '.join(f'{x:.2f}' for x in rt)} | {statistics.median(rt):.2f} |")
