#!/usr/bin/env python3
"""Golden values for sort, argsort and topk (tests/parity/test_parity_sort.cpp).

Every case stores its inputs next to the outputs, so the C++ side reads the exact same values.
Layout: "<case>/<name>"; float32 unless named *_f64; indices int64 (int32 where noted); masks uint8.
Gradient cases store a cotangent "gy" and torch's gradient "gx" of <gy, f(x)>.
"""
import os

import h5py
import numpy as np
import torch

torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "sort.h5")


def put(f, name, t):
    if isinstance(t, torch.Tensor):
        t = t.detach()
        if t.dtype == torch.bool:
            t = t.to(torch.uint8)
        t = t.numpy()
    f.create_dataset(name, data=np.ascontiguousarray(t))


def rnd(*shape, dtype=torch.float32):
    return torch.randn(*shape, dtype=dtype)


def grad_case(f, name, x, fn, **extra):
    x = x.clone().requires_grad_(True)
    y = fn(x)
    gy = rnd(*y.shape, dtype=y.dtype)
    (gx,) = torch.autograd.grad(y, x, gy)
    put(f, f"{name}/x", x)
    put(f, f"{name}/y", y)
    put(f, f"{name}/gy", gy)
    put(f, f"{name}/gx", gx)
    for k, v in extra.items():
        put(f, f"{name}/{k}", v)


with h5py.File(OUT, "w", libver="latest") as f:
    # sort / argsort: ties (values rounded) resolve stably; NaN sorts last ascending
    xt = torch.round(rnd(3, 8) * 2) / 2
    xt[1, 3] = float("nan")
    for i, (dim, desc) in enumerate([(-1, False), (-1, True), (0, False), (0, True)]):
        c = f"sort{i}"
        v, ix = torch.sort(xt, dim=dim, descending=desc, stable=True)
        put(f, f"{c}/x", xt); put(f, f"{c}/dim", np.int64(dim)); put(f, f"{c}/desc", np.int64(desc))
        put(f, f"{c}/values", v); put(f, f"{c}/indices", ix)
        put(f, f"{c}/argsort", torch.argsort(xt, dim=dim, descending=desc, stable=True))
    xs = rnd(3, 6)
    grad_case(f, "sort_grad", xs, lambda t: torch.sort(t, dim=0, descending=True, stable=True)[0])
    # topk: distinct values -> compare indices too; tied values -> compare values only
    xk = rnd(4, 7)
    xk_ties = torch.round(rnd(4, 7))
    for i, (k, dim, largest, srt) in enumerate([(3, -1, True, True), (3, -1, False, True), (2, 0, True, True),
                                                (4, 1, True, False), (7, -1, False, True)]):
        c = f"topk{i}"
        v, ix = torch.topk(xk, k, dim=dim, largest=largest, sorted=srt)
        vt, _ = torch.topk(xk_ties, k, dim=dim, largest=largest, sorted=srt)
        put(f, f"{c}/x", xk); put(f, f"{c}/x_ties", xk_ties)
        put(f, f"{c}/k", np.int64(k)); put(f, f"{c}/dim", np.int64(dim))
        put(f, f"{c}/largest", np.int64(largest)); put(f, f"{c}/sorted", np.int64(srt))
        put(f, f"{c}/values", v); put(f, f"{c}/indices", ix); put(f, f"{c}/values_ties", vt)
    grad_case(f, "topk_grad", xk, lambda t: torch.topk(t, 3, dim=1)[0])

print("wrote", OUT, os.path.getsize(OUT), "bytes")
