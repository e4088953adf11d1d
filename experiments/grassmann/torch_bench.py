#!/usr/bin/env python3
"""PyTorch reference for `tessera bench grassmann_lm transformer_lm` and `tessera bench pluecker`, run in
the same sitting: one training step (forward, cross-entropy, backward, AdamW lr 1e-3) of the models of
tests/parity/gen_grassmann.py (the parity reference: Grassmann LM with the direct per-offset
projection; post-LN tied Transformer LM) at the paper's sizes (vocab 30522, d 256, 6 layers, r 32,
d_ff 1024, windows {1,2,4,8,12,16} in every layer), dropout 0, and the Pluecker step alone (naive
outer product, forward + backward, rows x r = 4096 x 32).

  python3 experiments/grassmann/torch_bench.py --threads 1 --seq-len 128 --batch 4
  python3 experiments/grassmann/torch_bench.py --pluecker

Prints lines in tessera bench's format (median step ms, tokens/s, peak RSS of this process in MB:
run one model per process for a meaningful peak)."""
import argparse, os, resource, statistics, sys, time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "parity"))
from gen_grassmann import GrassmannLM, PostLNTransformerLM, pluecker  # noqa: E402


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["grassmann_lm", "transformer_lm"], default="grassmann_lm")
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--pluecker", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.pluecker:
        z = torch.randn(4096, 32, requires_grad=True)
        w = torch.randn(4096, 32, requires_grad=True)
        g = torch.randn(4096, 496)
        ts = []
        for i in range(a.warmup + max(a.iters, 20)):
            t0 = time.perf_counter()
            pluecker(z, w).backward(g)
            z.grad = w.grad = None
            if i >= a.warmup:
                ts.append(time.perf_counter() - t0)
        print(f"torch pluecker_naive batch=4096 step_ms={statistics.median(ts) * 1e3:.1f} min_ms={min(ts) * 1e3:.1f} "
              f"threads={a.threads}", flush=True)
        return
    L, V = a.seq_len, 30522
    B = a.batch or (32 if L <= 128 else max(1, 4096 // L))
    if a.model == "grassmann_lm":
        m = GrassmannLM(V, 256, 6, 32, 1024, L, [1, 2, 4, 8, 12, 16], "all")
    else:
        m = PostLNTransformerLM(V, 256, 6, 4, L)
    with torch.no_grad():  # the reference leaves the embedding at N(0, 1); GPT-2's scale as Tessera's init
        m.emb.weight.normal_(0, 0.02)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    x = torch.randint(0, V, (B, L))
    y = torch.randint(0, V, (B, L))
    ts = []
    for i in range(a.warmup + a.iters):
        t0 = time.perf_counter()
        loss = F.cross_entropy(m(x).reshape(-1, V), y.reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i >= a.warmup:
            ts.append(time.perf_counter() - t0)
    med = statistics.median(ts)
    params = sum(p.numel() for p in m.parameters())
    print(f"torch {a.model} batch={B} step_ms={med * 1e3:.1f} min_ms={min(ts) * 1e3:.1f} params={params / 1e6:.2f}M "
          f"seq_len={L} tokens_per_s={B * L / med:.0f} max_rss_mb={rss_mb():.1f} threads={a.threads}", flush=True)


if __name__ == "__main__":
    main()
