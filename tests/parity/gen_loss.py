#!/usr/bin/env python3
"""Golden values for the loss family: mse, l1, smooth_l1, huber and binary_cross_entropy_with_logits
(values and input gradients, every reduction, broadcast targets, float64 cases).
Regenerate with: python3 tests/parity/gen_loss.py  (Debian python3-torch, python3-h5py)."""
import os
import h5py
import torch
import torch.nn.functional as F

torch.manual_seed(0)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "loss.h5")
f = h5py.File(out + ".tmp", "w")


def put(name, t):
    t = t.detach()
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    if t.dtype == torch.bfloat16:
        t = t.float()
    f.create_dataset(name, data=t.numpy())


def grads(fn, *xs, v=None):
    """Value of fn and gradients w.r.t. xs (backward with v, or ones for a scalar)."""
    xs = [x.clone().requires_grad_() for x in xs]
    y = fn(*xs)
    y.backward(v if v is not None else torch.ones_like(y))
    return y, [x.grad for x in xs]


# ---- losses: value and input gradient for every reduction ----
li = torch.randn(4, 5) * 2
lt_ = torch.randn(4, 5) * 2
lt_[0, 0] = li[0, 0]                        # d == 0 (l1's sign(0) = 0 convention)
lt_[1, 1] = li[1, 1] - 1.0                  # |d| == beta (1.0) boundary of smooth_l1 / huber
ltb = torch.randn(5)                        # broadcast target
logits = torch.randn(4, 5) * 3
logits[0, :2] = torch.tensor([40.0, -40.0])  # saturated logits
tgt01 = torch.rand(4, 5)
tgt01[0, :2] = torch.tensor([0.0, 1.0])
w = torch.rand(5) + 0.5
pw = torch.rand(5) * 3 + 0.2
vl = torch.randn(4, 5)
for k, t in {"li": li, "lt": lt_, "ltb": ltb, "logits": logits, "tgt01": tgt01, "w": w, "pw": pw, "vl": vl}.items():
    put("in/" + k, t)
losses = {
    "mse": lambda x, t, r: F.mse_loss(x, t, reduction=r),
    "l1": lambda x, t, r: F.l1_loss(x, t, reduction=r),
    "smooth_l1": lambda x, t, r: F.smooth_l1_loss(x, t, reduction=r),
    "smooth_l1_b05": lambda x, t, r: F.smooth_l1_loss(x, t, reduction=r, beta=0.5),
    "smooth_l1_b0": lambda x, t, r: F.smooth_l1_loss(x, t, reduction=r, beta=0.0),
    "huber": lambda x, t, r: F.huber_loss(x, t, reduction=r),
    "huber_d03": lambda x, t, r: F.huber_loss(x, t, reduction=r, delta=0.3),
}
import warnings
warnings.simplefilter("ignore")  # PyTorch warns when target broadcasts
for red in ["none", "mean", "sum"]:
    v = vl if red == "none" else None
    for k, fn in losses.items():
        y, (g0,) = grads(lambda x: fn(x, lt_, red), li, v=v)
        put(f"loss/{k}/{red}", y); put(f"loss/{k}/{red}_grad", g0)
    for k in ["mse", "l1"]:
        y, (g0,) = grads(lambda x: losses[k](x, ltb, red), li, v=v)
        put(f"loss/{k}_bcast/{red}", y); put(f"loss/{k}_bcast/{red}_grad", g0)
    bce = {"plain": (None, None), "w": (w, None), "pw": (None, pw), "w_pw": (w, pw)}
    for k, (ww, pp) in bce.items():
        y, (g0,) = grads(lambda x: F.binary_cross_entropy_with_logits(x, tgt01, weight=ww, pos_weight=pp, reduction=red),
                         logits, v=v)
        put(f"loss/bce_{k}/{red}", y); put(f"loss/bce_{k}/{red}_grad", g0)
# float64 cases
y, (g0,) = grads(lambda x: F.mse_loss(x, lt_.double()), li.double())
put("loss64/mse", y); put("loss64/mse_grad", g0)
y, (g0,) = grads(lambda x: F.binary_cross_entropy_with_logits(x, tgt01.double(), pos_weight=pw.double()), logits.double())
put("loss64/bce", y); put("loss64/bce_grad", g0)
y, (g0,) = grads(lambda x: F.huber_loss(x, lt_.double(), delta=0.3, reduction="sum"), li.double())
put("loss64/huber", y); put("loss64/huber_grad", g0)

f.close()
os.replace(out + ".tmp", out)
print("wrote", out, os.path.getsize(out), "bytes")
