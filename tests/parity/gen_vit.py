#!/usr/bin/env python3
"""Golden values for Tessera's transformer layers and ViT against a timm-named torch reference.

timm is not installed, so the reference modules below re-create timm's VisionTransformer layout
(Attention with fused qkv, Mlp, LayerScale, Block, PatchEmbed, VisionTransformer) with the same
parameter names, shapes and forward computation (timm's non-fused attention path).

Writes (regenerate with: python3 tests/parity/gen_vit.py):
  golden/vit.h5          attention with every mask kind / rope / qk_norm; position tables;
                         small ViTs (token, avg, LayerScale, no class token): weights, input,
                         logits, loss and every parameter gradient
  golden/vit_optim.h5    10 steps of SGD-momentum / Adam / AdamW on a small ViT
  golden/vit_presets.h5  key names, shapes and parameter counts of the real presets (no weights)
check_export_vit.py imports the reference from here."""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


# ----------------------------------------------------------------------------- reference layers
def build_mask(B, T, S, causal=False, key_padding_mask=None, window=-1):
    """bool [B|1, 1, T, S], True = hidden; None when nothing is masked."""
    if not causal and key_padding_mask is None and window < 0:
        return None
    i = torch.arange(T)[:, None]
    j = torch.arange(S)[None, :]
    m = torch.zeros(T, S, dtype=torch.bool)
    if causal:
        m |= j > i
    if window >= 0:
        m |= (i - j > window) if causal else ((i - j).abs() > window)
    m = m[None, None]
    if key_padding_mask is not None:
        m = m | key_padding_mask[:, None, None, :]
    return m


def rope_tables(n, d, base=10000.0):
    inv = base ** (-torch.arange(0, d // 2, dtype=torch.float64) * 2.0 / d)
    ang = torch.arange(n, dtype=torch.float64)[:, None] * inv[None, :]
    ang = torch.cat([ang, ang], -1)
    return ang.cos(), ang.sin()


def rotate_half(x):
    x1, x2 = x.chunk(2, -1)
    return torch.cat([-x2, x1], -1)


def apply_rope(x, skip=0):
    n, d = x.shape[-2] - skip, x.shape[-1]
    c, s = rope_tables(n, d)
    c, s = c.to(x.dtype), s.to(x.dtype)
    rest = x[..., skip:, :]
    rest = rest * c + rotate_half(rest) * s
    return torch.cat([x[..., :skip, :], rest], -2)


class Attention(nn.Module):
    def __init__(self, dim, num_heads=8, qkv_bias=False, qk_norm=False, attn_drop=0., proj_drop=0.,
                 rope=False, rope_skip=0):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.q_norm = nn.LayerNorm(self.head_dim, eps=1e-6) if qk_norm else nn.Identity()
        self.k_norm = nn.LayerNorm(self.head_dim, eps=1e-6) if qk_norm else nn.Identity()
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.rope = rope
        self.rope_skip = rope_skip

    def forward(self, x, causal=False, key_padding_mask=None, window=-1, attn_bias=None, safe=True):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        q, k = self.q_norm(q), self.k_norm(k)
        if self.rope:
            q, k = apply_rope(q, self.rope_skip), apply_rope(k, self.rope_skip)
        q = q * self.scale
        attn = q @ k.transpose(-2, -1)
        if attn_bias is not None:
            attn = attn + attn_bias
        mask = build_mask(B, N, N, causal, key_padding_mask, window)
        if mask is not None:
            attn = attn.masked_fill(mask, float("-inf"))
        attn = attn.softmax(dim=-1)
        if mask is not None and safe:
            # Plain torch gives NaN rows for queries that see no key; Tessera defines them as zero
            # weights. masked_fill's backward zeroes the NaN gradient of those rows again.
            fully = mask.all(-1, keepdim=True)
            if fully.any():
                attn = attn.masked_fill(fully, 0.0)
        attn = self.attn_drop(attn)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))


class LayerScale(nn.Module):
    def __init__(self, dim, init_values=1e-5):
        super().__init__()
        self.gamma = nn.Parameter(init_values * torch.ones(dim))

    def forward(self, x):
        return x * self.gamma


class Mlp(nn.Module):
    def __init__(self, in_features, hidden_features, drop=0.):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.drop1 = nn.Dropout(drop)
        self.norm = nn.Identity()
        self.fc2 = nn.Linear(hidden_features, in_features)
        self.drop2 = nn.Dropout(drop)

    def forward(self, x):
        return self.drop2(self.fc2(self.norm(self.drop1(self.act(self.fc1(x))))))


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=4., qkv_bias=False, init_values=None):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias)
        self.ls1 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.drop_path1 = nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.ls2 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.drop_path2 = nn.Identity()

    def forward(self, x):
        x = x + self.drop_path1(self.ls1(self.attn(self.norm1(x))))
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))


class PatchEmbed(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=768):
        super().__init__()
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.Identity()

    def forward(self, x):
        return self.norm(self.proj(x).flatten(2).transpose(1, 2))


class VisionTransformer(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, num_classes=1000, global_pool="token",
                 embed_dim=768, depth=12, num_heads=12, mlp_ratio=4., qkv_bias=True, init_values=None,
                 class_token=True, fc_norm=None):
        super().__init__()
        use_fc_norm = global_pool == "avg" if fc_norm is None else fc_norm
        self.global_pool = global_pool
        self.num_prefix_tokens = 1 if class_token else 0
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        n = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if class_token else None
        self.pos_embed = nn.Parameter(torch.randn(1, n + self.num_prefix_tokens, embed_dim) * .02)
        self.pos_drop = nn.Dropout(0.)
        self.patch_drop = nn.Identity()
        self.norm_pre = nn.Identity()
        self.blocks = nn.Sequential(*[Block(embed_dim, num_heads, mlp_ratio, qkv_bias, init_values)
                                      for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6) if not use_fc_norm else nn.Identity()
        self.fc_norm = nn.LayerNorm(embed_dim, eps=1e-6) if use_fc_norm else nn.Identity()
        self.head_drop = nn.Dropout(0.)
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()

    def forward_features(self, x):
        x = self.patch_embed(x)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.pos_drop(x + self.pos_embed)
        x = self.norm_pre(self.patch_drop(x))
        x = self.blocks(x)
        return self.norm(x)

    def forward_head(self, x):
        if self.global_pool == "avg":
            x = x[:, self.num_prefix_tokens:].mean(dim=1)
        else:
            x = x[:, 0]
        return self.head(self.head_drop(self.fc_norm(x)))

    def forward(self, x):
        return self.forward_head(self.forward_features(x))


PRESETS = {
    "vit_tiny_patch16_224": dict(patch_size=16, embed_dim=192, depth=12, num_heads=3),
    "vit_small_patch16_224": dict(patch_size=16, embed_dim=384, depth=12, num_heads=6),
    "vit_base_patch16_224": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12),
    "vit_tiny_patch4_32": dict(img_size=32, patch_size=4, num_classes=10, embed_dim=192, depth=12, num_heads=3),
}

SMALL = dict(img_size=32, patch_size=8, in_chans=3, num_classes=10, embed_dim=48, depth=2, num_heads=3)
VARIANTS = {
    "token": dict(),
    "avg": dict(global_pool="avg"),
    "token_ls": dict(init_values=0.1),
    "avg_nocls": dict(global_pool="avg", class_token=False),
}


def randomize_(model, gen):
    """Well-spread random values for every parameter (so that parity exercises all of them)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name in ("norm.weight", "fc_norm.weight") \
                    or name.endswith("_norm.weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith("gamma"):
                p.copy_(0.1 + 0.05 * torch.randn(p.shape, generator=gen))
            elif p.dim() >= 2 and name not in ("cls_token", "pos_embed"):
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(fan_in))
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))


# ----------------------------------------------------------------------------- golden files
def main():
    import h5py
    here = os.path.dirname(os.path.abspath(__file__))
    gdir = os.path.join(here, "golden")
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)

    def put(f, name, t):
        t = t.detach() if isinstance(t, torch.Tensor) else torch.tensor(t)
        if t.dtype == torch.bool:
            t = t.to(torch.uint8)
        try:
            f.create_dataset(name, data=t.numpy())
        except ValueError:
            print("failed", name, t.shape, t.dtype); raise

    # ---- vit.h5
    path = os.path.join(gdir, "vit.h5")
    f = h5py.File(path + ".tmp", "w")
    # attention cases: B 2, N 5, dim 12, heads 3
    B, N, D, H = 2, 5, 12, 3
    x = torch.randn(B, N, D, generator=gen)
    dy = torch.randn(B, N, D, generator=gen)
    put(f, "attn/in/x", x)
    put(f, "attn/in/dy", dy)
    kpm = torch.zeros(B, N, dtype=torch.bool)
    kpm[0, 3:] = True
    kpm[1, 0] = True
    kpm_full = torch.zeros(B, N, dtype=torch.bool)
    kpm_full[1, :] = True
    kpm_first = torch.zeros(B, N, dtype=torch.bool)
    kpm_first[0, 0] = True
    kpm_first[1, 2] = True
    bias = 0.5 * torch.randn(H, N, N, generator=gen)
    put(f, "attn/in/kpm", kpm)
    put(f, "attn/in/kpm_full", kpm_full)
    put(f, "attn/in/kpm_first", kpm_first)
    put(f, "attn/in/bias", bias)
    cases = {
        "none": dict(),
        "causal": dict(causal=True),
        "kpm": dict(key_padding_mask=kpm),
        "window1": dict(window=1),
        "window1_causal": dict(window=1, causal=True),
        "bias": dict(attn_bias=bias),
        "bias_causal_kpm": dict(attn_bias=bias, causal=True, key_padding_mask=kpm),
        "kpm_full": dict(key_padding_mask=kpm_full),
        "causal_kpm_first": dict(causal=True, key_padding_mask=kpm_first),
        "rope": dict(),
        "rope_skip1_causal": dict(causal=True),
        "qk_norm": dict(),
    }
    for name, kw in cases.items():
        rope = name.startswith("rope")
        attn = Attention(D, H, qkv_bias=True, qk_norm=name == "qk_norm", rope=rope,
                         rope_skip=1 if name == "rope_skip1_causal" else 0)
        randomize_(attn, gen)
        xi = x.clone().requires_grad_()
        kw = dict(kw)
        if "attn_bias" in kw:
            kw["attn_bias"] = kw["attn_bias"].clone().requires_grad_()
        y = attn(xi, **kw)
        assert torch.isfinite(y).all(), name
        (y * dy).sum().backward()
        for k, v in attn.state_dict().items():
            put(f, f"attn/{name}/w/{k}", v)
        put(f, f"attn/{name}/y", y)
        put(f, f"attn/{name}/dx", xi.grad)
        assert torch.isfinite(xi.grad).all(), name
        for k, p in attn.named_parameters():
            put(f, f"attn/{name}/grad/{k}", p.grad)
        if "attn_bias" in kw:
            put(f, f"attn/{name}/dbias", kw["attn_bias"].grad)
        if name in ("kpm_full", "causal_kpm_first"):
            with torch.no_grad():  # plain torch (no safe fill) is NaN on the fully masked rows
                plain = attn(x, safe=False, causal=kw.get("causal", False),
                             key_padding_mask=kw.get("key_padding_mask"))
                assert torch.isnan(plain).any(), name

    c, s = rope_tables(7, 8)
    put(f, "pos/rope_cos", c.float())
    put(f, "pos/rope_sin", s.float())
    pe = torch.zeros(7, 8, dtype=torch.float64)
    pos = torch.arange(7, dtype=torch.float64)[:, None]
    div = torch.pow(10000.0, -torch.arange(0, 8, 2, dtype=torch.float64) / 8)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    put(f, "pos/sinusoidal", pe.float())

    # ViT variants
    imgs = torch.randn(2, 3, 32, 32, generator=gen)
    labels = torch.tensor([3, 7])
    put(f, "vit/x", imgs)
    put(f, "vit/labels", labels)
    for vname, extra in VARIANTS.items():
        model = VisionTransformer(**SMALL, **extra)
        randomize_(model, gen)
        logits = model(imgs)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        for k, v in model.state_dict().items():
            put(f, f"vit/{vname}/w/{k}", v)
        put(f, f"vit/{vname}/logits", logits)
        put(f, f"vit/{vname}/loss", loss)
        for k, p in model.named_parameters():
            put(f, f"vit/{vname}/grad/{k}", p.grad)
    f.close()
    os.replace(path + ".tmp", path)

    # ---- vit_optim.h5
    path = os.path.join(gdir, "vit_optim.h5")
    f = h5py.File(path + ".tmp", "w")
    model = VisionTransformer(**SMALL, init_values=0.1)
    randomize_(model, gen)
    init = {k: v.clone() for k, v in model.state_dict().items()}
    for k, v in init.items():
        put(f, f"w/{k}", v)
    put(f, "x", imgs)
    put(f, "labels", labels)
    for oname in ("sgd", "adam", "adamw"):
        model.load_state_dict(init)
        params = list(model.parameters())
        if oname == "sgd":
            opt = torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=1e-4)
        elif oname == "adam":
            opt = torch.optim.Adam(params, lr=1e-3)
        else:
            opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.05)
        losses = []
        for _ in range(10):
            opt.zero_grad()
            loss = F.cross_entropy(model(imgs), labels)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        put(f, f"{oname}/losses", torch.tensor(losses, dtype=torch.float64))
        for k, v in model.state_dict().items():
            put(f, f"{oname}/final/{k}", v)
    f.close()
    os.replace(path + ".tmp", path)

    # ---- vit_presets.h5: "key shape" lines as uint8 text, and parameter counts
    path = os.path.join(gdir, "vit_presets.h5")
    f = h5py.File(path + ".tmp", "w")
    import numpy as np
    for pname, cfg in PRESETS.items():
        model = VisionTransformer(**cfg)
        lines = [f"{k} {','.join(str(d) for d in v.shape)}" for k, v in model.state_dict().items()]
        f.create_dataset(f"{pname}/keys", data=np.frombuffer("\n".join(lines).encode(), dtype=np.uint8))
        f.create_dataset(f"{pname}/num_params", data=np.array(sum(p.numel() for p in model.parameters()), dtype=np.int64))
        print(pname, sum(p.numel() for p in model.parameters()))
    f.close()
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
