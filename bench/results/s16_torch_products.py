#!/usr/bin/env python3
"""PyTorch's own products on ViT-T's linear shapes (batch 64 x 65 tokens = 4160 rows, width 192), the same cases as
build/bench/onednn_bf16_probe: forward x w^T, input gradient g w, weight gradient g^T x (K = 4160), float32 and
bfloat16 tensors, milliseconds per product (median of ITERS) and GFLOP/s. Usage: THREADS=T python3 s16_torch_products.py"""
import os
import statistics
import time

import torch

torch.set_num_threads(int(os.environ.get("THREADS", "1")))
iters = int(os.environ.get("ITERS", "20"))
M = 64 * 65
cases = []
for K, N in ((192, 576), (192, 768), (768, 192)):
    cases.append(("fwd", M, K, N, lambda K=K, N=N: (torch.randn(M, K), torch.randn(N, K).t())))
cases.append(("dgrad", M, 768, 192, lambda: (torch.randn(M, 768), torch.randn(768, 192))))
for Mo, N in ((768, 192), (192, 768), (576, 192), (192, 192)):
    cases.append(("wgrad", Mo, M, N, lambda Mo=Mo, N=N: (torch.randn(M, Mo).t(), torch.randn(M, N))))
print(f"torch {torch.__version__} threads={torch.get_num_threads()}", flush=True)
for dt in (torch.float32, torch.bfloat16):
    for name, m, k, n, make in cases:
        a, b = make()
        a, b = a.to(dt), b.to(dt)
        for _ in range(3):
            a @ b
        ts = []
        for _ in range(iters):
            t = time.perf_counter()
            a @ b
            ts.append(time.perf_counter() - t)
        s = statistics.median(ts)
        print(f"{name:6s} {str(dt).split('.')[-1]:8s} M={m:<5d} K={k:<4d} N={n:<4d} {s*1e3:8.3f} ms {2*m*n*k/s/1e9:8.1f} GFLOP/s", flush=True)
