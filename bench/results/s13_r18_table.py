"""Per threads / precision / binary: resnet18 min_ms and the profile's conv / norm / elementwise ms of each round,
from a s13_device_r18.sh log. Usage: python3 bench/results/s13_r18_table.py LOG"""
import collections, re, sys
d = collections.defaultdict(list); who = None
for line in open(sys.argv[1]):
    m = re.match(r'== (\S+) round=(\d) threads=(\d+) (\S+)', line)
    if m: who, R, T, P = m.groups(); continue
    m = re.match(r'resnet18 batch=\d+ step_ms=[\d.]+ min_ms=([\d.]+)', line) or re.match(r'resnet18 params=\S+ ([\d.]+) ms/step', line)
    if m: d[(T, P, who, 'step')].append(float(m.group(1))); continue
    m = re.match(r'  (conv|norm|elementwise)\s+([\d.]+)', line)
    if m: d[(T, P, who, m.group(1))].append(float(m.group(2)))
for T in ['16', '8', '2']:
    for P in ['fp32', 'bf16-mixed']:
        tp = 'fp32' if P == 'fp32' else 'bf16'
        if d.get((T, tp, 'torch', 'step')): print(f'threads={T} {P} torch step {d[(T, tp, "torch", "step")]}')
        for w in ['tessera_old', 'tessera_new']:
            if d.get((T, P, w, 'step')):
                print(f'threads={T} {P} {w}: ' + '  '.join(f'{k} {d[(T, P, w, k)]}' for k in ['step', 'conv', 'norm', 'elementwise']))
