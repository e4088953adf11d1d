"""Pairs the ResNetConvBf16 rows of a tessera_bench_ops log (oneDNN convolution vs im2col + matmul, per ResNet-18
layer and kind) into one line per problem: ms each way and the ratio oneDNN / gemm (> 1: the gemm path is faster).
Usage: python3 bench/results/s13_layers_table.py LOG   (sections start at lines '== layers threads=T')"""
import re, sys
kinds = {'0': 'fwd', '1': 'bwd_data', '2': 'bwd_wei'}
section, rows = 'local', {}
for line in open(sys.argv[1]):
    m = re.match(r'== layers threads=(\d+)', line)
    if m:
        section = m.group(1); continue
    m = re.match(r'BM_ResNetConvBf16/(\d+)/(\d+)/(\d+)/(\d+)/(\d+)/(\d)/(\d)\S*\s+([\d.]+) ms', line)
    if m:
        C, H, O, k, s, kind, algo, ms = m.groups()
        rows.setdefault(section, {}).setdefault((C, H, O, k, s, kind), {})[algo] = float(ms)
for section, table in rows.items():
    print(f'threads={section}: C H->O k s kind: oneDNN ms, gemm ms, oneDNN/gemm')
    for (C, H, O, k, s, kind), v in table.items():
        if '0' in v and '1' in v:
            print(f'  C{C:>3} {H:>2}px ->O{O:>3} k{k} s{s} {kinds[kind]:<8} {v["0"]:7.2f} {v["1"]:7.2f}  {v["0"] / v["1"]:.2f}')
