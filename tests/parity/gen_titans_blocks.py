#!/usr/bin/env python3
"""Golden values for one Titans MAC, MAG and MAL layer (nn/titans/titans_lm.h) against a PyTorch
reference written from ../shared/papers/titans.md, with Tessera's module names (a TitansLayer
state_dict loads here with strict=True). The neural memory is gen_titans.py's token-by-token
recursion (imported, not copied), so the blocks share nothing with Tessera's chunked closed form but
the definitions.

Writes (regenerate with: /usr/bin/python3 tests/parity/gen_titans_blocks.py):
  golden/titans_blocks.h5  one group per case (mac, mag, mal) with the weights (w/<key>), the input x
                           [B, T, dim], a cotangent `probe`, the layer output y, grad_x and grad/<key> of
                           sum(y * probe), in float64.

Layer (pre-norm, residuals): x + mix(RMSNorm(x)), then x + SwiGLU(RMSNorm(x)); with P persistent tokens p,
  MAC  per segment S of length C (a partial last one zero-padded to C): h = M_{s-1}(S) (read, no write;
       the query conv's history is the previous segment's inputs),
       y = Attn([p || h || S])[S rows] (S_t sees p, h_<=t, S_<=t; h_t sees p, h_<=t), o = y * M(y) with the
       LMM chunk rule (written from y), the state carried to the next segment;
  MAG  y = SWA([p || xn]) with p always visible, m = LMM([p || xn]), o = RMSNorm(y) * sigmoid(RMSNorm(m));
  MAL  m = [p || xn] + LMM([p || xn]), o = SWA(RMSNorm(m)) with m's first P rows always visible;
rows of p dropped. Attention: fused qkv (no bias), rotary "rotate half" on the rows after p (tables
computed in float64 and rounded to float32, as Tessera's module built in float32 and then converted),
scale 1/sqrt(head_dim), proj without bias.
"""
import argparse
import functools
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_titans import ChunkedMemory, NeuralMemory, write_case  # noqa: E402


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class SwiGLU(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.w1, self.w2, self.w3 = nn.Linear(d, h, bias=False), nn.Linear(h, d, bias=False), nn.Linear(d, h, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


def rope_tables(n, d, base=10000.0):
    i = torch.arange(d // 2, dtype=torch.float64)
    a = torch.arange(n, dtype=torch.float64).unsqueeze(1) * torch.pow(torch.tensor(base, dtype=torch.float64), -2.0 * i / d)
    a = torch.cat([a, a], 1)
    return a.cos().float().double(), a.sin().float().double()


def rotate(x, skip):
    """Rotary embedding of x [B, H, N, d] for the rows after `skip` (positions 0, 1, ...)."""
    d = x.shape[-1]
    head, rest = x[:, :, :skip], x[:, :, skip:]
    c, s = rope_tables(rest.shape[2], d)
    c, s = c.to(x.dtype), s.to(x.dtype)
    x1, x2 = rest[..., : d // 2], rest[..., d // 2:]
    return torch.cat([head, rest * c + torch.cat([-x2, x1], -1) * s], 2)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.hd = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.proj = nn.Linear(dim, dim, bias=False)

    def forward(self, x, skip, hidden):
        """hidden: bool [N, N], True = key hidden from the query."""
        b, n, dim = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, self.hd).permute(2, 0, 3, 1, 4)
        q, k = rotate(q, skip), rotate(k, skip)
        s = (q * (1.0 / math.sqrt(self.hd))) @ k.transpose(-2, -1)
        s = s.masked_fill(hidden, float("-inf"))
        return self.proj((s.softmax(-1) @ v).transpose(1, 2).reshape(b, n, dim))


class PrefixAttention(nn.Module):
    def __init__(self, dim, heads, p):
        super().__init__()
        self.attn = Attention(dim, heads)
        if p > 0:
            self.persistent = nn.Module()
            self.persistent.tokens = nn.Parameter(torch.randn(p, dim) * 0.5)


def window_mask(n, p, window):
    i = torch.arange(n).unsqueeze(1)
    j = torch.arange(n).unsqueeze(0)
    far = (i - j > window) & (j >= p) if window >= 0 else torch.zeros(n, n, dtype=torch.bool)
    return (j > i) | far


@functools.lru_cache(maxsize=None)
def mac_mask(p, L):
    n = p + 2 * L
    hidden = torch.ones(n, n, dtype=torch.bool)
    for i in range(n):
        for j in range(n):
            if i < p:
                vis = j <= i
            elif j < p:
                vis = True
            else:
                qh, kh = i < p + L, j < p + L
                ti, tj = (i - p if qh else i - p - L), (j - p if kh else j - p - L)
                vis = tj <= ti and (kh or not qh)
            hidden[i, j] = not vis
    return hidden


def retrieve(mem, x, state):
    """M_{s-1}(S) without update. The query conv runs over the segment inputs: its history is the
    previous segments' query projections (state["conv_read"]), not those of the written sequence y."""
    q = mem.inputs(x, {"conv": (state.get("conv_read"), None, None)})[0]
    return mem.output(mem.memory(state["W"], q), x)


def next_read_history(mem, x, state):
    if mem.conv_kernel == 0:
        return None
    p = mem.to_q(x)
    h = state.get("conv_read")
    pad = h if h is not None else p.new_zeros(p.shape[0], mem.conv_kernel - 1, p.shape[2])
    return torch.cat([pad, p], 1)[:, -(mem.conv_kernel - 1):]


class TitansLayer(nn.Module):
    def __init__(self, variant, dim, heads, hidden, p, window, segment, memory_opts, memory_cls=NeuralMemory):
        super().__init__()
        self.variant, self.p, self.window, self.segment = variant, p, window, segment
        self.attn_norm = RMSNorm(dim)
        self.attn = PrefixAttention(dim, heads, p)
        self.memory = memory_cls(dim=dim, **memory_opts)
        if variant == "mag":
            self.gate_norm_y, self.gate_norm_m = RMSNorm(dim), RMSNorm(dim)
        if variant == "mal":
            self.mem_norm = RMSNorm(dim)
        self.mlp_norm = RMSNorm(dim)
        self.mlp = SwiGLU(dim, hidden)

    def prefixed(self, x):
        return torch.cat([self.attn.persistent.tokens.unsqueeze(0).expand(x.shape[0], -1, -1), x], 1)

    def mix(self, xn):
        b, t, dim = xn.shape
        P = self.p
        if self.variant == "mac":
            state, outs, C = {}, [], self.segment
            state.update(self.memory.initial_state(b))
            for s0 in range(0, t, C):
                n = min(C, t - s0)
                seg = xn[:, s0:s0 + n]
                if n < C:
                    seg = torch.cat([seg, seg.new_zeros(b, C - n, dim)], 1)
                h = retrieve(self.memory, seg, state)
                full = torch.cat([self.prefixed(seg)[:, :P], h, seg], 1)
                y = self.attn.attn(full, P, mac_mask(P, C))[:, P + C:]  # h at positions 0.., S at C..
                nxt = {"W": list(state["W"]), "S": list(state["S"]), **({"conv": state["conv"]} if "conv" in state else {})}
                r = self.memory(y, nxt)
                outs.append((y * r)[:, :n])
                if n == C:
                    nxt["conv_read"] = next_read_history(self.memory, seg, state)
                    state = nxt
            return torch.cat(outs, 1)
        xp = self.prefixed(xn)
        n = xp.shape[1]
        if self.variant == "mag":
            y = self.attn.attn(xp, P, window_mask(n, P, self.window))[:, P:]
            m = self.memory(xp, {})[:, P:]
            return self.gate_norm_y(y) * torch.sigmoid(self.gate_norm_m(m))
        m = xp + self.memory(xp, {})
        return self.attn.attn(self.mem_norm(m), P, window_mask(n, P, self.window))[:, P:]

    def forward(self, x):
        h = x + self.mix(self.attn_norm(x))
        return h + self.mlp(self.mlp_norm(h))


CASES = {
    "mac": dict(variant="mac", window=-1),
    "mag": dict(variant="mag", window=2),
    "mal": dict(variant="mal", window=2),
}
MEMORY = dict(heads=1, depth=2, expansion=2, chunk_size=2, max_lr=0.5, conv_kernel=2)


def check_chunked(m, c, x, name):
    """The block with gen_titans.py's chunked memory equals the block with its recursion, output and
    gradients (in MAC the keys and values depend on the memory weights through the retrieval, so this
    catches an inner gradient that also differentiates through that path)."""
    k = TitansLayer(c["variant"], dim=4, heads=1, hidden=6, p=1, window=c["window"], segment=4, memory_opts=MEMORY,
                    memory_cls=ChunkedMemory).double()
    k.load_state_dict(m.state_dict())
    outs = []
    for mod in (m, k):
        xr = x.clone().requires_grad_(True)
        y = mod(xr)
        outs.append([y] + list(torch.autograd.grad(y.square().sum(), [xr] + list(mod.parameters()))))
    err = max((a - b).abs().max().item() for a, b in zip(*outs))
    assert err < 1e-10, f"{name}: the block with the chunked memory differs from the recursion by {err}"


def main():
    ap = argparse.ArgumentParser()
    ap.parse_args()
    import h5py
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "golden", "titans_blocks.h5")
    f = h5py.File(path + ".tmp", "w")
    for i, (name, c) in enumerate(CASES.items()):
        torch.manual_seed(300 + i)
        m = TitansLayer(c["variant"], dim=4, heads=1, hidden=6, p=1, window=c["window"], segment=4,
                        memory_opts=MEMORY).double()
        with torch.no_grad():
            for mod in m.modules():
                if isinstance(mod, RMSNorm):
                    mod.weight.uniform_(0.5, 1.5)
        x = torch.randn(1, 6, 4, dtype=torch.float64)
        check_chunked(m, c, x, name)
        write_case(f, name, m, {"x": x}, lambda mod, inp: mod(inp["x"]))
    f.close()
    os.replace(path + ".tmp", path)
    print("wrote", path)


if __name__ == "__main__":
    main()
