#!/usr/bin/env python3
"""PyTorch training step (forward, cross-entropy, backward, AdamW) of the `tessera bench titans_mac`
and `tessera bench transformer_pp` workloads, built from the reference blocks of
tests/parity/gen_titans_blocks.py (MAC layers with gen_titans.py's chunked torch memory, which the
generator checks against the token-by-token recursion): byte vocabulary, dim 128, 4 layers, 4 heads,
batch 1; MAC with segment 64, 4 persistent tokens, a 2-head depth-2 memory with chunk 16 in every
layer. Prints one line per model and length, like `tessera bench`.

  python3 experiments/titans/torch_step.py --seq 1024 4096 --threads 4
"""
import argparse, os, resource, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "parity"))
from gen_titans import ChunkedMemory  # noqa: E402
from gen_titans_blocks import RMSNorm, SwiGLU, PrefixAttention, TitansLayer, window_mask  # noqa: E402


class PPBlock(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.attn_norm, self.attn, self.mlp_norm, self.mlp = RMSNorm(dim), PrefixAttention(dim, heads, 0), RMSNorm(dim), SwiGLU(dim, hidden)

    def forward(self, x):
        h = x + self.attn.attn(self.attn_norm(x), 0, window_mask(x.shape[1], 0, -1))
        return h + self.mlp(self.mlp_norm(h))


class LM(nn.Module):
    def __init__(self, kind, dim=128, depth=4, heads=4):
        super().__init__()
        hidden = ((8 * dim + 2) // 3 + 7) // 8 * 8
        self.embed = nn.Embedding(256, dim)
        mem = dict(heads=2, depth=2, expansion=4, chunk_size=16, max_lr=0.1, conv_kernel=4)
        self.layers = nn.ModuleList(
            PPBlock(dim, heads, hidden) if kind == "transformer_pp" else
            TitansLayer("mac", dim, heads, hidden, p=4, window=-1, segment=64, memory_opts=mem, memory_cls=ChunkedMemory)
            for _ in range(depth))
        self.norm = RMSNorm(dim)

    def forward(self, t):
        h = self.embed(t)
        for l in self.layers:
            h = l(h)
        return self.norm(h) @ self.embed.weight.t()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seq", type=int, nargs="+", default=[1024])
    ap.add_argument("--models", nargs="+", default=["titans_mac", "transformer_pp"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for T in a.seq:
        for kind in a.models:
            torch.manual_seed(0)
            m = LM(kind)
            opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
            x, y = torch.randint(0, 256, (1, T)), torch.randint(0, 256, (1, T))
            times = []
            for i in range(a.iters + 1):
                t0 = time.perf_counter()
                loss = F.cross_entropy(m(x).view(-1, 256), y.view(-1))
                opt.zero_grad()
                loss.backward()
                opt.step()
                times.append(time.perf_counter() - t0)
            med = sorted(times[1:])[len(times[1:]) // 2]
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"torch {kind} batch=1 seq={T} step_ms={med * 1e3:.1f} tokens_per_s={T / med:.0f} "
                  f"params={sum(p.numel() for p in m.parameters()) / 1e6:.2f}M max_rss_mb={rss:.0f} "
                  f"threads={a.threads} (torch {torch.__version__})", flush=True)


if __name__ == "__main__":
    main()
