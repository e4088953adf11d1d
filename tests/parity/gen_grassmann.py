#!/usr/bin/env python3
"""Golden values for Tessera's Grassmann mixing layer and Grassmann LM (nn/grassmann.h,
nn/models/grassmann_lm.h) and the post-LN tied Transformer LM baseline (nn/models/transformer_lm.h),
against a PyTorch reference written here from the facts in ../shared/papers/grassmann.md (no
repository code), with the same module names so a state_dict loads with strict=True either way.

The reference is written the direct way on purpose: the Pluecker coordinates from the r x r outer
product and triu indices, one projection per offset, then the mean over the valid offsets (Tessera
sums the coordinates first and projects once; the two agree because W_pl is linear).

Writes (regenerate with: /usr/bin/python3 tests/parity/gen_grassmann.py):
  golden/grassmann.h5, one group per case, weights w/<key> in float64; per dtype (f32/, f64/):
    mix_norm, mix_plain, mix_extra  GrassmannMixing d 16, r 6, windows {1, 2, 4}, B 2, T 9 (normalised,
                  plain, normalised + extra_proj): input h, cotangent c, output out, and grad/h and
                  grad/<key> of sum(out * c)
    lm_all        2-layer Grassmann LM, vocab 50, d 16, r 6, d_ff 32, max_len 12, windows {1, 2, 4}
                  (every offset in every layer), tied; tokens, targets [2, 10]: logits, loss, grad/<key>
    lm_per_layer  the same with window_schedule per_layer, windows {1, 3}, untied head
    tlm_post      2-layer post-LN Transformer LM, tied, vocab 50, d 16, 2 heads, max_len 12
Dropout is 0 everywhere (the comparison is of the deterministic function)."""
import os

import torch
import torch.nn as nn
import torch.nn.functional as F


def pluecker(z, w):
    r = z.shape[-1]
    outer = z.unsqueeze(-1) * w.unsqueeze(-2)
    anti = outer - outer.transpose(-1, -2)
    i, j = torch.triu_indices(r, r, 1)
    return anti[..., i, j]


class GrassmannMixing(nn.Module):
    def __init__(self, d, r, windows, normalize=True, eps=1e-8, extra_proj=False):
        super().__init__()
        self.windows, self.normalize, self.eps = list(windows), normalize, eps
        self.red = nn.Linear(d, r)
        self.plucker = nn.Linear(r * (r - 1) // 2, d)
        self.gate = nn.Linear(2 * d, d)
        self.out_proj = nn.Linear(d, d) if extra_proj else None
        self.norm = nn.LayerNorm(d)

    def geometry(self, h):
        B, T, d = h.shape
        z = self.red(h)
        gsum = torch.zeros_like(h)
        count = torch.zeros(T, 1, dtype=h.dtype)
        for D in self.windows:
            if D >= T:
                continue
            p = pluecker(z[:, D:], z[:, :T - D])  # (z_t, z_{t-D}): causal
            if self.normalize:
                p = p / p.norm(dim=-1, keepdim=True).clamp_min(self.eps)
            gsum = gsum + F.pad(self.plucker(p), (0, 0, D, 0))
            count[D:] += 1
        g = gsum / count.clamp_min(1)  # positions without a valid offset: 0
        if self.out_proj is not None:
            g = self.out_proj(g)
        return g

    def forward(self, h):
        g = self.geometry(h)
        alpha = torch.sigmoid(self.gate(torch.cat([h, g], -1)))
        return self.norm(alpha * h + (1 - alpha) * g)


class GrassmannBlock(nn.Module):
    def __init__(self, d, r, windows, d_ff, **kw):
        super().__init__()
        self.mix = GrassmannMixing(d, r, windows, **kw)
        self.fc1 = nn.Linear(d, d_ff)
        self.fc2 = nn.Linear(d_ff, d)
        self.norm = nn.LayerNorm(d)

    def forward(self, x):
        h = self.mix(x)
        return self.norm(h + self.fc2(F.gelu(self.fc1(h))))


class GrassmannLM(nn.Module):
    def __init__(self, vocab, d, layers, r, d_ff, max_len, windows, schedule, tie=True):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.zeros(1, max_len, d))
        per = [[windows[i]] if schedule == "per_layer" else windows for i in range(layers)]
        self.blocks = nn.Sequential(*[GrassmannBlock(d, r, per[i], d_ff) for i in range(layers)])
        self.norm = nn.LayerNorm(d)
        self.head = None if tie else nn.Linear(d, vocab)

    def forward(self, tokens):
        T = tokens.shape[1]
        h = self.norm(self.blocks(self.emb(tokens) + self.pos[:, :T]))
        return h @ self.emb.weight.t() if self.head is None else self.head(h)


class PostLNBlock(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.n1, self.n2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        a = (q @ k.transpose(-1, -2)) / (D // self.heads) ** 0.5
        a = a.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
        y = (a.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D)
        h = self.n1(x + self.proj(y))
        return self.n2(h + self.fc2(F.gelu(self.fc1(h))))


class PostLNTransformerLM(nn.Module):
    def __init__(self, vocab, d, layers, heads, max_len):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.zeros(1, max_len, d))
        self.blocks = nn.Sequential(*[PostLNBlock(d, heads) for _ in range(layers)])
        self.norm = nn.LayerNorm(d)

    def forward(self, tokens):
        h = self.emb(tokens) + self.pos[:, :tokens.shape[1]]
        return self.norm(self.blocks(h)) @ self.emb.weight.t()


def randomize(model, gen):
    # Every parameter random (LayerNorm affine too), so a swapped or missing term shows.
    with torch.no_grad():
        for key, p in model.named_parameters():
            scale = 0.3 if p.dim() == 1 else 1.0 / p.shape[-1] ** 0.5
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * scale + (1.0 if "norm.weight" in key or key.endswith("n1.weight") or key.endswith("n2.weight") else 0.0))


def main():
    import h5py
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "golden", "grassmann.h5")
    gen = torch.Generator().manual_seed(0)
    f = h5py.File(path + ".tmp", "w")

    def put(name, t):
        f.create_dataset(name, data=t.detach().numpy() if isinstance(t, torch.Tensor) else t)

    def weights(case, m):
        for k, v in m.state_dict().items():
            put(f"{case}/w/{k}", v)

    mix_cases = {"mix_norm": dict(normalize=True), "mix_plain": dict(normalize=False),
                 "mix_extra": dict(normalize=True, extra_proj=True)}
    for case, kw in mix_cases.items():
        m = GrassmannMixing(16, 6, [1, 2, 4], **kw).double()
        randomize(m, gen)
        h = torch.randn(2, 9, 16, generator=gen, dtype=torch.float64)
        c = torch.randn(2, 9, 16, generator=gen, dtype=torch.float64)
        weights(case, m)
        put(f"{case}/h", h)
        put(f"{case}/c", c)
        for dt, tag in ((torch.float32, "f32"), (torch.float64, "f64")):
            md = GrassmannMixing(16, 6, [1, 2, 4], **kw).to(dt)
            md.load_state_dict({k: v.to(dt) for k, v in m.state_dict().items()})
            x = h.to(dt).requires_grad_(True)
            out = md(x)
            (out * c.to(dt)).sum().backward()
            put(f"{case}/{tag}/out", out)
            put(f"{case}/{tag}/grad/h", x.grad)
            for k, p in md.named_parameters():
                put(f"{case}/{tag}/grad/{k}", p.grad)

    lm_cases = {
        "lm_all": lambda: GrassmannLM(50, 16, 2, 6, 32, 12, [1, 2, 4], "all"),
        "lm_per_layer": lambda: GrassmannLM(50, 16, 2, 6, 32, 12, [1, 3], "per_layer", tie=False),
        "tlm_post": lambda: PostLNTransformerLM(50, 16, 2, 2, 12),
    }
    for case, make in lm_cases.items():
        m = make().double()
        randomize(m, gen)
        tokens = torch.randint(0, 50, (2, 10), generator=gen)
        targets = torch.randint(0, 50, (2, 10), generator=gen)
        weights(case, m)
        put(f"{case}/tokens", tokens)
        put(f"{case}/targets", targets)
        for dt, tag in ((torch.float32, "f32"), (torch.float64, "f64")):
            md = make().to(dt)
            md.load_state_dict({k: v.to(dt) for k, v in m.state_dict().items()})
            logits = md(tokens)
            loss = F.cross_entropy(logits.reshape(-1, 50), targets.reshape(-1))
            loss.backward()
            put(f"{case}/{tag}/logits", logits)
            put(f"{case}/{tag}/loss", loss)
            for k, p in md.named_parameters():
                put(f"{case}/{tag}/grad/{k}", p.grad)
    f.close()
    os.replace(path + ".tmp", path)
    print("wrote", path)


if __name__ == "__main__":
    main()
