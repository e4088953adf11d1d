"""Table of bench/results/s13_local_2core.txt: per model Tessera old / new fp32 and bf16-mixed min_ms of both rounds,
PyTorch 1.13 fp32 and 2.15 fp32 / bf16 ms/step, and the ratios on the minima. Usage: python3 s13_local_table.py LOG"""
import collections, re, sys
d = collections.defaultdict(list); who = None
for line in open(sys.argv[1]):
    m = re.match(r'== (\S+) round=\d threads=\d+ (\S+)', line)
    if m:
        who, P = m.group(1), ('bf16' if m.group(2).startswith('bf16') else 'fp32'); continue
    m = re.match(r'(\w+) batch=\d+ step_ms=[\d.]+ min_ms=([\d.]+)', line) or re.match(r'(\w+) params=\S+ ([\d.]+) ms/step', line)
    if m and who: d[(m.group(1), who, P)].append(float(m.group(2)))
f = lambda v: ' / '.join(f'{x:.0f}' for x in v)
print('| model | Tessera old fp32 / bf16 | Tessera new fp32 / bf16 | PyTorch 1.13 fp32 | PyTorch 2.15 fp32 / bf16 | new fp32 vs 1.13 / 2.15 | new bf16 vs 1.13 fp32 / 2.15 best | new / old bf16 |')
print('|---|---|---|---|---|---|---|---|')
for m in ['vit_t', 'resnet18', 'lm']:
    g = lambda w, p: d.get((m, w, p), [])
    o32, o16, n32, n16 = g('tessera_old', 'fp32'), g('tessera_old', 'bf16'), g('tessera_new', 'fp32'), g('tessera_new', 'bf16')
    t113 = g('torch-1.13', 'fp32'); t215 = [k for k in d if k[0] == m and k[1].startswith('torch-2')]
    p32 = d.get((m, t215[0][1], 'fp32'), []) if t215 else []; p16 = d.get((m, t215[0][1], 'bf16'), []) if t215 else []
    best215 = min(min(p32), min(p16))
    print(f'| {m} | {f(o32)}; {f(o16)} | {f(n32)}; {f(n16)} | {f(t113)} | {f(p32)}; {f(p16)} | '
          f'{min(t113) / min(n32):.2f}x / {min(p32) / min(n32):.2f}x | {min(t113) / min(n16):.2f}x / {best215 / min(n16):.2f}x | '
          f'{min(n16) / min(o16):.2f} |')
