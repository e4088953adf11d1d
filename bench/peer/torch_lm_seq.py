#!/usr/bin/env python3
"""PyTorch side of `tessera bench lm --seq-len T`: the same 4-layer causal LM as
../shared/peer/torch_steps.py's `lm` (d 256, 4 heads, vocab 33278, learned positions, AdamW step),
with the sequence length and batch as arguments and a choice of attention:
  explicit  softmax(q k^T / sqrt(d) masked) v, as torch_steps.py (the only choice on PyTorch 1.13)
  sdpa      F.scaled_dot_product_attention(q, k, v, is_causal=True) (PyTorch >= 2.0: flash/memory-efficient
            kernels on CPU)
Usage: torch_lm_seq.py --seq-len 1024 [--batch 1] [--attention sdpa] [--iters 3] [--warmup 1]
Env THREADS (default 2). One configuration per process: the printed peak RSS is the process's maximum.
"""
import argparse
import math
import os
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
torch.manual_seed(0)


class Block(nn.Module):
    def __init__(s, d, h, mlp, attention):
        super().__init__()
        s.n1 = nn.LayerNorm(d); s.n2 = nn.LayerNorm(d)
        s.qkv = nn.Linear(d, 3 * d); s.proj = nn.Linear(d, d); s.h = h
        s.fc1 = nn.Linear(d, mlp); s.fc2 = nn.Linear(mlp, d); s.attention = attention

    def forward(s, x):
        B, T, D = x.shape
        q, k, v = s.qkv(s.n1(x)).view(B, T, 3, s.h, D // s.h).permute(2, 0, 3, 1, 4)
        if s.attention == "sdpa":
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            a = (q @ k.transpose(-1, -2)) / math.sqrt(D // s.h)
            a = a.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
            y = a.softmax(-1) @ v
        x = x + s.proj(y.transpose(1, 2).reshape(B, T, D))
        return x + s.fc2(F.gelu(s.fc1(s.n2(x))))


class LM(nn.Module):
    def __init__(s, T, attention, V=33278, d=256, depth=4, h=4):
        super().__init__()
        s.emb = nn.Embedding(V, d); s.pos = nn.Parameter(torch.zeros(1, T, d))
        s.blocks = nn.Sequential(*[Block(d, h, 4 * d, attention) for _ in range(depth)])
        s.norm = nn.LayerNorm(d); s.head = nn.Linear(d, V)

    def forward(s, x):
        return s.head(s.norm(s.blocks(s.emb(x) + s.pos[:, : x.shape[1]])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--attention", choices=["explicit", "sdpa"], default="explicit")
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    a = ap.parse_args()
    if a.attention == "sdpa" and not hasattr(F, "scaled_dot_product_attention"):
        raise SystemExit(f"torch {torch.__version__} has no F.scaled_dot_product_attention (needs >= 2.0)")
    T, B = a.seq_len, a.batch
    m = LM(T, a.attention)
    x = torch.randint(0, 33278, (B, T)); y = torch.randint(0, 33278, (B, T))
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        out = m(x)
        F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1)).backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    ts = []
    for _ in range(a.iters):
        t = time.perf_counter(); step(); ts.append(time.perf_counter() - t)
    ms = statistics.median(ts) * 1e3
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"torch {torch.__version__} lm attention={a.attention} seq_len={T} batch={B} step_ms={ms:.1f} "
          f"tokens_per_s={B * T * 1e3 / ms:.0f} max_rss_mb={rss:.0f}", flush=True)


if __name__ == "__main__":
    main()
