#!/usr/bin/env python3
# Table of a session 12 or 13 device log (bench/results/s12_device_ab*.txt, s13_device_{ab,final}.txt; without an old
# binary the old column stays empty): per model, threads and precision the
# old and new Tessera min_ms and torch's ms/step of both rounds, new/old and torch/new on the minima, and for
# bf16 the ratio against PyTorch's best (the faster of its fp32 and bf16 minima). Usage: python3 s12_table.py LOG
import collections
import re
import sys

d = collections.defaultdict(list)
who = None
for line in open(sys.argv[1]):
    m = re.match(r'== (\S+) round=(\d) threads=(\d+) (\S+)', line)
    if m:
        who, _, T, P = m.groups()
        P = 'bf16' if P.startswith('bf16') else 'fp32'
        continue
    m = re.match(r'(\w+) batch=\d+ step_ms=[\d.]+ min_ms=([\d.]+)', line) or re.match(r'(\w+) params=\S+ ([\d.]+) ms/step', line)
    if m and who:
        d[(m.group(1), int(T), P, who)].append(float(m.group(2)))
print("| model | precision | threads | old ms | new ms | torch ms | new / old | torch / new | bf16 vs torch's best |")
print("|---|---|---|---|---|---|---|---|---|")
for model in ['vit_t', 'lm', 'resnet18']:
    for P in ['fp32', 'bf16']:
        for T in [16, 8, 2]:
            g = lambda w, p=P: d.get((model, T, p, w), [])
            o, n, t = g('tessera_old'), g('tessera_new'), g('torch')
            if not n:
                continue
            f = lambda v: ' / '.join(f'{x:.0f}' for x in v)
            best = ''
            if P == 'bf16' and g('torch', 'fp32') and t:
                best = f"{min(min(t), min(g('torch', 'fp32'))) / min(n):.2f}x"
            ratio = f'{min(n) / min(o):.2f}' if o else ''
            print(f"| {model} | {P} | {T} | {f(o)} | {f(n)} | {f(t)} | {ratio} | {min(t) / min(n):.2f}x | {best} |")
