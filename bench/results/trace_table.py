#!/usr/bin/env python3
"""Per-op time of a `TESSERA_PROFILE_TRACE=1 tessera bench ... --profile` run: stderr lines
"trace FAMILY  MS ms  N faults NOTE" summed by family and note (numbers in notes dropped), divided
by the step count given. Usage: python3 bench/results/trace_table.py TRACE_FILE STEPS [TOP]"""
import collections
import re
import sys

path, steps = sys.argv[1], float(sys.argv[2])
top = int(sys.argv[3]) if len(sys.argv) > 3 else 30
agg = collections.defaultdict(lambda: [0.0, 0])
for line in open(path, errors="replace"):
    m = re.match(r"trace (.+?)\s+([0-9.]+) ms\s+\d+ faults\s*(.*)", line)
    if not m:
        continue
    note = re.sub(r"[0-9.]+ms/[0-9]+f|=/[0-9]+f", "", m.group(3))[:100]
    key = f"{m.group(1).strip()} | {note}"
    agg[key][0] += float(m.group(2))
    agg[key][1] += 1
for key, (ms, n) in sorted(agg.items(), key=lambda kv: -kv[1][0])[:top]:
    print(f"{ms / steps:9.2f} ms/step {n / steps:7.1f} calls  {key}")
