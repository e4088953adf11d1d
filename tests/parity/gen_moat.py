#!/usr/bin/env python3
"""Golden values for Tessera's MOAT (nn/models/moat.h) against a PyTorch reference written from the
facts in ../shared/papers/moat.md (not from any repository), with the same module names so a
Tessera state_dict loads here with strict=True and the other way round.

Writes (regenerate with: /usr/bin/python3 tests/parity/gen_moat.py):
  golden/moat.h5   tiny-MOAT-0's topology (depths 2/3/7/2, heads 4/8, tables P = 14/7, 10 classes) at
                   a quarter of its width (stem 8, channels 8/16/32/64, head size 8) so the file stays
                   small: paper stem (64 px) and CIFAR variant (stem stride 1, 32 px), batch 4, in
                   training mode (BatchNorm batch statistics): weights (w/<key>), input x, labels,
                   logits, loss and every parameter gradient (grad/<key>), float32 and float64.

  golden/moat_full.h5  tiny-MOAT-0 at FULL width (stem 32, channels 32/64/128/256, heads 4/8, 10 classes),
                   paper stem at 64 px and CIFAR variant at 32 px, batch 2, float32, training mode.
                   The 3.3M weights are not stored (the file would be ~13 MB): both sides compute them
                   from the closed form of formula_weights() (a sine of the flat index, phase from the
                   key name); stored are x, labels and, computed in float64 from the same
                   (float32-rounded) weights, logits, loss and the gradients of FULL_GRADS, with
                   torch's own float32 error on each (torch_f32_err/<key>: max |g32 - g64|). The
                   early-layer gradients of this 14-block network with batch-2 BatchNorm carry
                   ~1e-3 relative float32 rounding in torch itself, so the test asks Tessera's
                   float32 to be as close to the float64 truth as torch's float32 is.

Conventions (see nn/models/moat.h): BatchNorm momentum 0.01 / eps 1e-3 (Keras 0.99 / 1e-3), exact
GELU, SE squeeze width floor(0.25 * out channels) with SiLU and a sigmoid gate, relative-position
table [heads, 2P-1, 2P-1] resized bilinearly (align_corners=False, TF2 tf.image.resize) to
(2h-1, 2w-1) and gathered as B[q, k] = table[ky - qy + h - 1, kx - qx + w - 1]."""
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F


def bn(c):
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


class Downsample2d(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.stride = stride
        self.pool = nn.AvgPool2d(2, stride, ceil_mode=True, count_include_pad=False) if stride > 1 else nn.Identity()
        self.expand = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x):
        return self.expand(self.pool(x))


class SE(nn.Module):
    def __init__(self, c, rd):
        super().__init__()
        self.fc1 = nn.Conv2d(c, rd, 1)
        self.fc2 = nn.Conv2d(rd, c, 1)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(F.silu(self.fc1(s))))


class MBConvBlock(nn.Module):
    def __init__(self, cin, cout, stride, use_se):
        super().__init__()
        hid = 4 * cout  # expansion relative to the OUTPUT channels
        self.shortcut = Downsample2d(cin, cout, stride)
        self.pre_norm = bn(cin)
        self.conv1_1x1 = nn.Conv2d(cin, hid, 1, bias=False)
        self.norm1 = bn(hid)
        self.conv2_kxk = nn.Conv2d(hid, hid, 3, stride, 1, groups=hid, bias=False)
        self.norm2 = bn(hid)
        self.se = SE(hid, int(math.floor(0.25 * cout))) if use_se else nn.Identity()
        self.conv3_1x1 = nn.Conv2d(hid, cout, 1)

    def forward(self, x):
        h = F.gelu(self.norm1(self.conv1_1x1(self.pre_norm(x))))
        h = self.se(F.gelu(self.norm2(self.conv2_kxk(h))))
        return self.shortcut(x) + self.conv3_1x1(h)


class MoatAttention(nn.Module):
    def __init__(self, dim, heads, P, window=0):
        super().__init__()
        self.heads, self.hd, self.window = heads, dim // heads, window
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.relative_position_bias_table = nn.Parameter(0.02 * torch.randn(heads, 2 * P - 1, 2 * P - 1))

    def bias(self, h, w):
        t = self.relative_position_bias_table
        if t.shape[1:] != (2 * h - 1, 2 * w - 1):
            t = F.interpolate(t[None], size=(2 * h - 1, 2 * w - 1), mode="bilinear", align_corners=False)[0]
        qy, qx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        qy, qx = qy.reshape(-1), qx.reshape(-1)
        dy = qy[None, :] - qy[:, None] + h - 1  # [query, key]: key - query
        dx = qx[None, :] - qx[:, None] + w - 1
        return t[:, dy, dx]  # [heads, hw, hw]

    def attend(self, x, h, w):  # x [B, hw, C]
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, self.hd).permute(2, 0, 3, 1, 4)
        logits = (q * self.hd ** -0.5) @ k.transpose(-2, -1) + self.bias(h, w)
        p = torch.softmax(logits, -1)
        return self.proj((p @ v).transpose(1, 2).reshape(B, N, C))

    def forward(self, x):  # [B, H, W, C]
        B, H, W, C = x.shape
        if not self.window:
            return self.attend(x.reshape(B, H * W, C), H, W).reshape(B, H, W, C)
        wh = ww = self.window
        t = x.reshape(B, H // wh, wh, W // ww, ww, C).permute(0, 1, 3, 2, 4, 5).reshape(-1, wh * ww, C)
        o = self.attend(t, wh, ww)
        return o.reshape(B, H // wh, W // ww, wh, ww, C).permute(0, 1, 3, 2, 4, 5).reshape(B, H, W, C)


class MoatBlock(nn.Module):
    def __init__(self, cin, cout, stride, heads, P, window=0):
        super().__init__()
        self.mbconv = MBConvBlock(cin, cout, stride, use_se=False)
        self.norm = nn.LayerNorm(cout, eps=1e-5)
        self.attn = MoatAttention(cout, heads, P, window)

    def forward(self, x):
        x1 = self.mbconv(x).permute(0, 2, 3, 1)
        return (x1 + self.attn(self.norm(x1))).permute(0, 3, 1, 2)


class MoatStem(nn.Module):
    def __init__(self, cin, c, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c, 3, stride, 1)
        self.norm1 = bn(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1)

    def forward(self, x):
        return self.conv2(F.gelu(self.norm1(self.conv1(x))))


class Moat(nn.Module):
    def __init__(self, stem=32, depths=(2, 3, 7, 2), channels=(32, 64, 128, 256), num_classes=10, stem_stride=2,
                 pos=(14, 7), head_size=32):
        super().__init__()
        self.stem = MoatStem(3, stem, stem_stride)
        cin, stages = stem, []
        for s, (d, c) in enumerate(zip(depths, channels)):
            blocks = []
            for b in range(d):
                stride = 2 if b == 0 else 1
                blocks.append(MBConvBlock(cin, c, stride, True) if s < 2 else MoatBlock(cin, c, stride, c // head_size, pos[s - 2]))
                cin = c
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.norm = nn.LayerNorm(cin, eps=1e-5)
        self.head = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.head(self.norm(self.stages(self.stem(x)).mean((2, 3))))


def randomize(model, gen):
    """Weights away from the init (BN affine and LayerNorm not at 1/0) so every term is exercised."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() > 1 and not name.endswith("relative_position_bias_table"):
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(fan_in))
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=gen) + (1.0 if name.endswith("norm1.weight") or
                                                                        name.endswith("norm2.weight") or
                                                                        name.endswith("pre_norm.weight") or
                                                                        name.endswith("norm.weight") else 0.0))


# Parameters whose gradients the full-width golden keeps: stem, a depthwise kernel, SE, a shortcut
# 1x1, the relative-position tables of both attention stages, attention and MBConv weights of the last
# blocks, the head. About 30k values.
FULL_GRADS = ["stem.conv1.weight", "stages.0.0.conv2_kxk.weight", "stages.1.0.se.fc1.weight",
              "stages.1.0.shortcut.expand.weight", "stages.2.0.attn.relative_position_bias_table",
              "stages.2.6.attn.proj.weight", "stages.2.6.mbconv.norm2.weight",
              "stages.3.1.attn.relative_position_bias_table", "stages.3.1.mbconv.conv2_kxk.weight",
              "norm.weight", "head.weight", "head.bias"]


def name_phase(key):
    """A phase in [0, 1000) from the key's characters: sum of (position + 1) * byte."""
    return sum((i + 1) * b for i, b in enumerate(key.encode())) % 1000


def formula_weights(model):
    """Deterministic weights that tests/parity/test_parity_moat.cpp computes the same way:
    v_i = a * sin(0.731 i + 0.017 phase(key) + 1), i the flat index (row-major), with
    a = sqrt(0.5 / fan_in) for kernels (dim > 1, std 0.5 / sqrt(fan_in): well conditioned, where
    1 / sqrt(fan_in) makes the 14 blocks amplify float32 rounding to 1%) except the relative-position
    tables (a = 0.2), and 1 + 0.2 sin(...) for norm weights, 0.2 sin(...) for other vectors."""
    with torch.no_grad():
        for key, p in model.named_parameters():
            i = torch.arange(p.numel(), dtype=torch.float64)
            s = torch.sin(0.731 * i + 0.017 * name_phase(key) + 1.0)
            if p.dim() > 1 and not key.endswith("relative_position_bias_table"):
                v = math.sqrt(0.5 / p[0].numel()) * s
            elif p.dim() == 1 and key.endswith(".weight"):
                v = 1.0 + 0.2 * s
            else:
                v = 0.2 * s
            p.copy_(v.reshape(p.shape).to(p.dtype))


def write_full(path, gen):
    import h5py
    f = h5py.File(path + ".tmp", "w")

    def put(name, t):
        f.create_dataset(name, data=t.detach().numpy() if isinstance(t, torch.Tensor) else t)

    for variant, stem_stride, size in (("paper", 2, 64), ("cifar", 1, 32)):
        x = torch.randn(2, 3, size, size, generator=gen)
        labels = torch.tensor([3, 8])
        out = {}
        for dt in (torch.float32, torch.float64):
            m = Moat(stem_stride=stem_stride).train()
            formula_weights(m)  # float32 weights, then widened: both runs see the same values
            m = m.to(dt)
            logits = m(x.to(dt))
            loss = F.cross_entropy(logits, labels)
            loss.backward()
            grads = dict(m.named_parameters())
            out[dt] = (logits, loss, {k: grads[k].grad for k in FULL_GRADS})
        pre = f"{variant}/"
        logits, loss, g64 = out[torch.float64]
        put(pre + "x", x)
        put(pre + "labels", labels)
        put(pre + "logits", logits)
        put(pre + "loss", loss)
        for k in FULL_GRADS:
            put(pre + "grad/" + k, g64[k])
            put(pre + "torch_f32_err/" + k, (out[torch.float32][2][k].double() - g64[k]).abs().max())
    f.close()
    os.replace(path + ".tmp", path)
    print("wrote", path)


def main():
    import h5py
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "golden", "moat.h5")
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    f = h5py.File(path + ".tmp", "w")

    def put(name, t):
        f.create_dataset(name, data=t.detach().numpy() if isinstance(t, torch.Tensor) else t)

    assert sum(p.numel() for p in Moat(num_classes=1000).parameters()) == 3355348  # moat.md's tiny-MOAT-0
    narrow = dict(stem=8, channels=(8, 16, 32, 64), head_size=8)
    for variant, stem_stride, size in (("paper", 2, 64), ("cifar", 1, 32)):
        model = Moat(stem_stride=stem_stride, **narrow)
        randomize(model, gen)
        x = torch.randn(4, 3, size, size, generator=gen)
        labels = torch.tensor([3, 7, 0, 9])
        pre = f"{variant}/"
        for k, v in model.state_dict().items():
            put(pre + "w/" + k, v)
        put(pre + "x", x)
        put(pre + "labels", labels)
        for dt, name in ((torch.float32, "f32"), (torch.float64, "f64")):
            m = Moat(stem_stride=stem_stride, **narrow)
            m.load_state_dict(model.state_dict(), strict=True)
            m = m.to(dt).train()
            logits = m(x.to(dt))
            loss = F.cross_entropy(logits, labels)
            loss.backward()
            put(pre + name + "/logits", logits)
            put(pre + name + "/loss", loss)
            for k, p in m.named_parameters():
                put(pre + name + "/grad/" + k, p.grad)
    f.close()
    os.replace(path + ".tmp", path)
    print("wrote", path)
    write_full(os.path.join(here, "golden", "moat_full.h5"), gen)


if __name__ == "__main__":
    main()
