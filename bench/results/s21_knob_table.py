#!/usr/bin/env python3
"""Session 21: table of a s21_device_knob.sh log (TESSERA_MATMUL_ROW_SPLIT off vs auto, PyTorch 2.11).
Usage: python3 bench/results/s21_knob_table.py LOG. Per model/threads: step ms per round (off / auto), medians,
auto/off time ratio per round and median, PyTorch / auto; then vit_t's 2 -> 16 speed-up from the medians, and per
round (2-thread step / 16-thread step of the same round). A bf16-mixed row's PyTorch figure is its faster
precision (fp32 or bf16 autocast) in that round."""
import re, statistics, sys
from collections import defaultdict

runs = defaultdict(dict)  # (model, threads, precision) -> round -> {variant: ms}
head = None
for line in open(sys.argv[1]):
    m = re.match(r'== (\w+) round=(\d+) (\w+) threads=(\d+) ([\w-]+)', line)
    if m:
        head = (m.group(1), int(m.group(2)), m.group(3), int(m.group(4)), m.group(5))
        continue
    ms = re.search(r'step_ms=([\d.]+)', line) or re.search(r'([\d.]+) ms/step', line)
    if head and ms:
        v, r, model, t, prec = head
        d = runs[(model, t, prec)].setdefault(r, {})
        x = float(ms.group(1))
        d[v] = min(d.get(v, x), x)  # torch: the faster of its precisions
        head = None

med = lambda xs: statistics.median(xs) if xs else float('nan')
print('| model | threads | precision | off / auto ms per round | off median | auto median | auto / off per round | median | PyTorch / auto |')
print('|---|---|---|---|---|---|---|---|---|')
meds = {}
for (model, t, prec), rounds in sorted(runs.items()):
    rs = [rounds[r] for r in sorted(rounds) if 'off' in rounds[r] and 'auto' in rounds[r]]
    off, auto = [x['off'] for x in rs], [x['auto'] for x in rs]
    torch = [x['torch'] for x in rs if 'torch' in x]
    ratio = [x['auto'] / x['off'] for x in rs]
    meds[(model, t, prec)] = (med(off), med(auto), med(torch))
    pt = f'{med(torch) / med(auto):.2f}' if torch else ''
    print(f"| {model} | {t} | {prec} | {' ; '.join(f'{a:.0f} / {b:.0f}' for a, b in zip(off, auto))} | {med(off):.0f} | "
          f"{med(auto):.0f} | {' / '.join(f'{x:.2f}' for x in ratio)} | {med(ratio):.2f} | {pt} |")
if ('vit_t', 2, 'fp32') in meds and ('vit_t', 16, 'fp32') in meds:
    o2, a2, p2 = meds[('vit_t', 2, 'fp32')]
    o16, a16, p16 = meds[('vit_t', 16, 'fp32')]
    print(f'\nvit_t fp32 2 -> 16 threads from the medians: auto {a2:.0f} -> {a16:.0f} ms = {a2 / a16:.2f}x, '
          f'off {o2:.0f} -> {o16:.0f} ms = {o2 / o16:.2f}x, PyTorch {p2:.0f} -> {p16:.0f} ms = {p2 / p16:.2f}x')
    r2, r16 = runs[('vit_t', 2, 'fp32')], runs[('vit_t', 16, 'fp32')]
    for v in ('auto', 'off', 'torch'):
        per = [r2[r][v] / r16[r][v] for r in sorted(r2) if r in r16 and v in r2[r] and v in r16[r]]
        print(f'  {v} per round: ' + ' / '.join(f'{x:.2f}' for x in per) + f'  (median {med(per):.2f})')
