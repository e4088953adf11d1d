"""Golden values for the fused scaled-dot-product attention (tessera::flash_attention) from PyTorch.

Writes tests/parity/golden/sdpa.h5: per case the inputs q, k, v (and bias, kpm when used), the
cotangent g, the output `out` and the gradients dq, dk, dv (dbias). Shapes leave tile remainders
(the kernels' tiles are 64 x 64): T = 70 queries, S = 70 or 131 keys. The reference is the explicit
softmax(q k^T * scale + bias, masked) v of PyTorch 1.13 (Debian's python3-torch; it has no
F.scaled_dot_product_attention), computed in float64 from the stored inputs, so the goldens are
the exact answer and each dtype is judged by its own tolerance in tests/parity/test_parity_sdpa.cpp.
When torch >= 2.0 runs this script, the float32 case without masks is cross-checked against
F.scaled_dot_product_attention too. bf16 cases store bfloat16-rounded inputs (as float32).
Masks follow nn::AttentionMask: causal j > i, key padding (true = hidden), window |i - j| > w (causal:
i - j > w) except keys j < global_prefix. Every row sees at least one key here.
Run with /usr/bin/python3.
"""
import math
import os

import h5py
import torch
import torch.nn.functional as F

torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "sdpa.h5")


def put(f, name, t):
    t = t.detach()
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    f.create_dataset(name, data=t.numpy())


def hidden(T, S, B, causal=False, window=-1, prefix=0, kpm=None):
    i = torch.arange(T).view(T, 1)
    j = torch.arange(S).view(1, S)
    h = torch.zeros(T, S, dtype=torch.bool)
    if causal:
        h |= j > i
    if window >= 0:
        d = i - j
        far = d > window
        if not causal:
            far |= d < -window
        far &= j >= prefix
        h |= far
    h = h.view(1, 1, T, S).expand(B, 1, T, S)
    if kpm is not None:
        h = h | kpm.view(B, 1, 1, S)
    return h


def reference(q, k, v, hide, bias, scale):
    s = (q * scale) @ k.transpose(-2, -1)
    if bias is not None:
        s = s + bias
    s = s.masked_fill(hide, float("-inf"))
    return s.softmax(-1) @ v


CASES = [
    # name, B, H, T, S, D, Dv, options
    ("plain", 1, 2, 70, 131, 16, 8, {}),
    ("causal", 2, 2, 70, 70, 16, 8, {"causal": True}),
    ("padding", 2, 2, 70, 131, 8, 8, {"kpm": True}),
    ("window", 1, 2, 70, 70, 8, 8, {"window": 5}),
    ("window_causal_prefix", 2, 2, 131, 131, 8, 8, {"causal": True, "window": 9, "prefix": 3}),
    ("bias", 2, 2, 70, 70, 8, 8, {"bias": (2, 70, 70), "causal": True}),
    ("bias_full", 2, 2, 70, 131, 8, 8, {"bias": (2, 2, 70, 131), "kpm": True, "scale": 0.3}),
]

with h5py.File(OUT, "w") as f:
    for dtype_name in ("f32", "bf16"):
        for name, B, H, T, S, D, Dv, o in CASES:
            case = f"{dtype_name}_{name}"
            def rnd(*shape):
                t = torch.randn(*shape)
                return t.bfloat16().float() if dtype_name == "bf16" else t
            q, k, v = rnd(B, H, T, D), rnd(B, H, S, D), rnd(B, H, S, Dv)
            g = rnd(B, H, T, Dv)
            kpm = None
            if o.get("kpm"):
                kpm = torch.rand(B, S) < 0.3
                kpm[:, 0] = False  # every row keeps a visible key
            bias = rnd(*o["bias"]) if "bias" in o else None
            scale = o.get("scale", 1.0 / math.sqrt(D))
            hide = hidden(T, S, B, o.get("causal", False), o.get("window", -1), o.get("prefix", 0), kpm)
            leaves = [t.double().requires_grad_(True) for t in (q, k, v)]
            bl = bias.double().requires_grad_(True) if bias is not None else None
            out = reference(*leaves, hide, bl, scale)
            out.backward(g.double())
            for n, t in (("q", q), ("k", k), ("v", v), ("g", g)):
                put(f, f"{case}/{n}", t)
            put(f, f"{case}/out", out.float())
            for n, t in zip(("dq", "dk", "dv"), leaves):
                put(f, f"{case}/{n}", t.grad.float())
            if bias is not None:
                put(f, f"{case}/bias", bias)
                put(f, f"{case}/dbias", bl.grad.float())
            if kpm is not None:
                put(f, f"{case}/kpm", kpm)
            f.create_dataset(f"{case}/scale", data=scale)
            if name == "plain" and dtype_name == "f32" and hasattr(F, "scaled_dot_product_attention"):
                ref = F.scaled_dot_product_attention(q, k, v)
                assert torch.allclose(ref, out.float(), atol=1e-5), "F.scaled_dot_product_attention disagrees"
print("wrote", OUT)
