import re, sys, collections
def parse(path):
    d = collections.defaultdict(dict)  # (fw, round, threads, prec) -> model -> ms
    cur = None
    for line in open(path):
        m = re.match(r"== (tessera|torch) round=(\d) threads=(\d+) precision=(\S+)", line)
        if m:
            fw, r, t, p = m.groups(); p = 'bf16' if p.startswith('bf16') else p
            cur = (fw, int(r), int(t), p); continue
        m = re.match(r"(vit_t|resnet18|lm) batch=\d+ step_ms=([\d.]+)", line)
        if m and cur: d[cur][m.group(1)] = float(m.group(2)); continue
        m = re.match(r"(vit_t|resnet18|lm) params=\S+ ([\d.]+) ms/step", line)
        if m and cur: d[cur][m.group(1)] = float(m.group(2))
    return d
for path in sys.argv[1:]:
    d = parse(path); rounds = sorted({k[1] for k in d})
    print(path)
    print("| threads | model | fp32 Tessera / PyTorch 2.11 ms (ratio) | bf16-mixed Tessera / PyTorch bf16 ms | bf16 Tessera vs PyTorch's best |")
    print("|---|---|---|---|---|")
    for t in (2, 8, 16):
        for m in ("vit_t", "resnet18", "lm"):
            f, b, best = [], [], []
            for r in rounds:
                tf, pf = d[('tessera', r, t, 'fp32')].get(m), d[('torch', r, t, 'fp32')].get(m)
                tb, pb = d[('tessera', r, t, 'bf16')].get(m), d[('torch', r, t, 'bf16')].get(m)
                f.append(f"{tf:.0f} / {pf:.0f} ({pf/tf:.2f}x)"); b.append(f"{tb:.0f} / {pb:.0f}")
                best.append(f"{min(pf, pb)/tb:.2f}x")
            print(f"| {t} | {m} | {'; '.join(f)} | {'; '.join(b)} | {'; '.join(best)} |")
    for r in rounds:
        v2 = d[('tessera', r, 2, 'fp32')]['vit_t']; v16 = d[('tessera', r, 16, 'fp32')]['vit_t']
        p2 = d[('torch', r, 2, 'fp32')]['vit_t']; p16 = d[('torch', r, 16, 'fp32')]['vit_t']
        print(f"round {r}: vit_t 2->16 speed-up Tessera {v2/v16:.2f}x, PyTorch {p2/p16:.2f}x")
