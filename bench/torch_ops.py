#!/usr/bin/env python3
"""PyTorch counterpart of bench/bench_ops.cpp: the same ops and shapes, float32, 2 threads.

    python3 bench/torch_ops.py                          # PyTorch figures only
    build/bench/tessera_bench_ops --benchmark_format=json > tessera.json
    python3 bench/torch_ops.py --tessera tessera.json   # side by side, with ratios

Ratios are time(other) / time(Tessera): above 1 means Tessera is faster."""
import argparse
import json
import re
import statistics
import time

import torch
import torch.nn.functional as F


def timeit(fn, min_time=0.5, reps=5):
    """Median seconds per call over `reps` runs of at least min_time / reps each."""
    for _ in range(3):
        fn()
    per = []
    budget = min_time / reps
    for _ in range(reps):
        n, t0 = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            dt = time.perf_counter() - t0
            if dt >= budget:
                break
        per.append(dt / n)
    return statistics.median(per)


def rnd(*shape, requires_grad=False):
    return (torch.rand(shape) * 2 - 1).requires_grad_(requires_grad)


# bench_ops.cpp BM_DepthwiseConv2dForwardBackward: tiny-MOAT-0's depthwise layers (N, C, H, stride).
DEPTHWISE = [(64, 128, 32, 2), (64, 128, 16, 1), (64, 256, 16, 2), (64, 256, 8, 1), (64, 512, 8, 2), (64, 512, 4, 1),
             (64, 1024, 4, 2), (64, 1024, 2, 1), (8, 128, 112, 2), (8, 128, 56, 1), (8, 256, 56, 2), (8, 256, 28, 1),
             (8, 512, 28, 2), (8, 512, 14, 1), (8, 1024, 14, 2), (8, 1024, 7, 1)]


def measure(min_time):
    r = {}  # key -> (seconds, flops or None)
    with torch.no_grad():
        for m, k, n in [(1024, 1024, 1024), (4160, 192, 576), (4160, 768, 192)]:
            a, b = rnd(m, k), rnd(k, n)
            r[f"Matmul/{m}/{k}/{n}"] = (timeit(lambda: torch.matmul(a, b), min_time), 2.0 * m * n * k)
        for N, C, H, O, s in [(64, 64, 32, 64, 1), (64, 64, 32, 128, 2)]:
            x, w = rnd(N, C, H, H), rnd(O, C, 3, 3)
            oh = (H + 2 - 3) // s + 1
            fl = 2.0 * N * O * oh * oh * C * 9
            r[f"Conv2dForward/{N}/{C}/{H}/{O}/{s}"] = (timeit(lambda: F.conv2d(x, w, stride=s, padding=1), min_time), fl)
        x = rnd(64 * 3, 65, 65)
        r["Softmax"] = (timeit(lambda: torch.softmax(x, -1), min_time), None)
        x, w, b = rnd(64 * 65, 192), rnd(192), rnd(192)
        r["LayerNorm"] = (timeit(lambda: F.layer_norm(x, (192,), w, b), min_time), None)
        for arg, dt in ((0, torch.float32), (1, torch.bfloat16)):
            a32, b32 = rnd(1 << 20), rnd(1 << 20)
            a, b = a32.to(dt), b32.to(dt)
            r[f"Add1M/{arg}"] = (timeit(lambda: torch.add(a, b), min_time), None)
            r[f"Mul1M/{arg}"] = (timeit(lambda: torch.mul(a, b), min_time), None)
            r[f"Gelu1M/{arg}"] = (timeit(lambda: F.gelu(a), min_time), None)
            r[f"Relu1M/{arg}"] = (timeit(lambda: F.relu(a), min_time), None)
            r[f"AddMixed1M/{arg}"] = (timeit(lambda: torch.add(a32, b), min_time), None)
            g = rnd(4096, 384).to(dt)
            r[f"SumRows/{arg}"] = (timeit(lambda: g.sum(0), min_time), None)
        m = rnd(1024, 1024)
        r["TransposeCopy1M"] = (timeit(lambda: m.t().contiguous(), min_time), None)
        lg = rnd(4096, 1000)
        r["ArgmaxRows"] = (timeit(lambda: torch.argmax(lg, 1), min_time), None)
        r["ArgmaxCols"] = (timeit(lambda: torch.argmax(lg, 0), min_time), None)
        w = torch.empty(1024, 1024)
        r["TruncNormal1M"] = (timeit(lambda: torch.nn.init.trunc_normal_(w, 0.0, 0.02, -2.0, 2.0), min_time), None)
    for N, C, H, O, s in [(64, 64, 32, 64, 1), (64, 64, 32, 128, 2)]:
        x, w = rnd(N, C, H, H, requires_grad=True), rnd(O, C, 3, 3, requires_grad=True)
        oh = (H + 2 - 3) // s + 1
        go = rnd(N, O, oh, oh)
        fl = 3 * 2.0 * N * O * oh * oh * C * 9

        def fb():
            x.grad = w.grad = None
            F.conv2d(x, w, stride=s, padding=1).backward(go)

        r[f"Conv2dForwardBackward/{N}/{C}/{H}/{O}/{s}"] = (timeit(fb, min_time), fl)
    for N, C, H, s in DEPTHWISE:
        x, w = rnd(N, C, H, H, requires_grad=True), rnd(C, 1, 3, 3, requires_grad=True)
        oh = (H + 2 - 3) // s + 1
        go = rnd(N, C, oh, oh)

        def dw(x=x, w=w, go=go, s=s, C=C):
            x.grad = w.grad = None
            F.conv2d(x, w, stride=s, padding=1, groups=C).backward(go)

        r[f"DepthwiseConv2dForwardBackward/{N}/{C}/{H}/{s}"] = (timeit(dw, min_time), 3 * 2.0 * N * C * oh * oh * 9)
    a, b = rnd(16, requires_grad=True), rnd(16, requires_grad=True)
    r["AddOverhead16"] = (timeit(lambda: torch.add(a, b), min_time), None)
    return r


def load_tessera(path):
    """gbench JSON -> {name without BM_ and /real_time: seconds}."""
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    out = {}
    with open(path) as f:
        data = json.load(f)
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b["run_name"] if "run_name" in b else b["name"]
        name = re.sub(r"/(min_warmup_time:[0-9.]+|real_time)", "", name.replace("BM_", ""))
        out[name] = b["real_time"] * scale[b["time_unit"]]
    return out


def fmt_time(s):
    return f"{s * 1e3:9.3f} ms" if s >= 1e-3 else f"{s * 1e6:9.2f} us"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tessera", help="tessera_bench_ops --benchmark_format=json output")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-time", type=float, default=0.5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    r = measure(args.min_time)
    tz = load_tessera(args.tessera) if args.tessera else {}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    hdr = f"{'op':38s} {'Tessera':>13s} {'raw oneDNN':>13s} {'OpenBLAS':>13s} {'PyTorch':>13s}  {'T/raw':>6s} {'torch/T':>7s}"
    print(hdr)
    print("-" * len(hdr))
    for key, (sec, flops) in r.items():
        if key.startswith("Matmul/"):
            shape = key[len("Matmul/"):]
            tess, raw, blas = (tz.get(f"Matmul{v}/{shape}") for v in ("Tessera", "OneDNNRaw", "OpenBLAS"))
        else:
            tess, raw, blas = tz.get(key), None, None

        def cell(s):
            if s is None:
                return f"{'-':>13s}"
            if flops:
                return f"{flops / s * 1e-9:8.1f} GF/s"
            return f"{fmt_time(s):>13s}"

        t_raw = f"{raw / tess:6.2f}" if tess and raw else f"{'-':>6s}"
        torch_t = f"{sec / tess:7.2f}" if tess else f"{'-':>7s}"
        print(f"{key:38s} {cell(tess)} {cell(raw)} {cell(blas)} {cell(sec)}  {t_raw} {torch_t}")
    print("T/raw: Tessera speed as a fraction of the raw oneDNN primitive; torch/T: PyTorch time / Tessera time.")


if __name__ == "__main__":
    main()
