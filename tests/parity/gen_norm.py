"""Golden values for the norm family (batch/layer/rms/group norm) from PyTorch.

Writes tests/parity/golden/norm.h5: one group per case with the float32 inputs, the cotangent
`gy`, the outputs and the gradients. Option values of each case are repeated in
tests/parity/test_parity_norm.cpp. torch 1.13 has no rms_norm, so its reference is the formula
x / sqrt(mean(x^2) + eps) * w evaluated in float64 (eps defaults to finfo(float32).eps).
Run with /usr/bin/python3 (Debian's python3-torch).
"""
import os

import h5py
import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "norm.h5")


def rnd(*shape, lo=-2.0, hi=2.0):
    return (torch.rand(*shape, dtype=torch.float64) * (hi - lo) + lo).float()


def put(f, name, t):
    t = t.detach()
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    f.create_dataset(name, data=t.numpy())


def run(f, case, fn, inputs, extra=None):
    """inputs: dict name -> tensor (float32; those named x/w/b get gradients)."""
    leaves = {k: v.clone().requires_grad_(k in ("x", "w", "b")) for k, v in inputs.items()}
    y = fn(leaves)
    gy = rnd(*y.shape)
    y.backward(gy)
    for k, v in inputs.items():
        put(f, f"{case}/{k}", v)
    put(f, f"{case}/y", y)
    put(f, f"{case}/gy", gy)
    for k, v in leaves.items():
        if v.requires_grad and v.grad is not None:
            put(f, f"{case}/g{k}", v.grad)
    return leaves, y


with h5py.File(OUT, "w") as f:
    # ---- layer_norm ----
    run(f, "ln_a", lambda t: F.layer_norm(t["x"], [6], t["w"], t["b"]), {"x": rnd(4, 6), "w": rnd(6), "b": rnd(6)})
    run(f, "ln_b", lambda t: F.layer_norm(t["x"], [3, 4], t["w"], t["b"], eps=1e-3),
        {"x": rnd(2, 3, 4), "w": rnd(3, 4), "b": rnd(3, 4)})
    run(f, "ln_c", lambda t: F.layer_norm(t["x"], [5]), {"x": rnd(3, 5)})

    # ---- rms_norm (formula in float64) ----
    def rms(t, ns, eps, use_w):
        x = t["x"].double()
        dims = tuple(range(x.dim() - len(ns), x.dim()))
        y = x * torch.rsqrt(x.pow(2).mean(dims, keepdim=True) + eps)
        if use_w:
            y = y * t["w"].double()
        return y.float()
    run(f, "rms_a", lambda t: rms(t, [6], float(torch.finfo(torch.float32).eps), True), {"x": rnd(4, 6), "w": rnd(6)})
    run(f, "rms_b", lambda t: rms(t, [3, 4], 1e-6, False), {"x": rnd(2, 3, 4)})

    # ---- group_norm ----
    run(f, "gn_a", lambda t: F.group_norm(t["x"], 3, t["w"], t["b"]), {"x": rnd(2, 6, 3, 3), "w": rnd(6), "b": rnd(6)})
    run(f, "gn_b", lambda t: F.group_norm(t["x"], 4, eps=1e-3), {"x": rnd(2, 4, 5)})
    run(f, "gn_c", lambda t: F.group_norm(t["x"], 1, t["w"], t["b"]), {"x": rnd(3, 4, 2, 2), "w": rnd(4), "b": rnd(4)})

    # ---- batch_norm: a training step (running stats updated), then eval with the new stats ----
    for case, shape, mom, eps, affine in (("bn_a", (4, 3, 2, 2), 0.1, 1e-5, True), ("bn_b", (5, 3), 0.3, 1e-3, False)):
        C = shape[1]
        rm0, rv0 = rnd(C), rnd(C, lo=0.5, hi=2.0)
        ins = {"x": rnd(*shape)}
        if affine:
            ins.update(w=rnd(C), b=rnd(C))
        rm, rv = rm0.clone(), rv0.clone()
        run(f, case, lambda t: F.batch_norm(t["x"], rm, rv, t.get("w"), t.get("b"), True, mom, eps), ins)
        put(f, f"{case}/rm0", rm0)
        put(f, f"{case}/rv0", rv0)
        put(f, f"{case}/rm1", rm)
        put(f, f"{case}/rv1", rv)
        run(f, case + "_eval", lambda t: F.batch_norm(t["x"], rm, rv, t.get("w"), t.get("b"), False, mom, eps), ins)
        put(f, f"{case}/rm2", rm)  # eval leaves running stats untouched
        put(f, f"{case}/rv2", rv)
    # Training without running statistics.
    run(f, "bn_c", lambda t: F.batch_norm(t["x"], None, None, t["w"], t["b"], True), {"x": rnd(3, 2, 5), "w": rnd(2), "b": rnd(2)})

print(OUT, os.path.getsize(OUT), "bytes")
