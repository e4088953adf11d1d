#!/usr/bin/env python3
"""Golden values for joining and reordering ops: cat, stack, split, chunk, pad, triu/tril, repeat,
flip, roll (tests/parity/test_parity_shape.cpp).

Every case stores its inputs next to the outputs, so the C++ side reads the exact same values.
Layout: "<case>/<name>"; float32 unless named *_f64; indices int64 (int32 where noted); masks uint8.
Gradient cases store a cotangent "gy" and torch's gradient "gx" of <gy, f(x)>.
"""
import os

import h5py
import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "shape.h5")


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
    # cat / stack
    a, b, d = rnd(2, 3), rnd(2, 1), rnd(2, 2)
    c = "cat0"; put(f, f"{c}/a", a); put(f, f"{c}/b", b); put(f, f"{c}/c", d); put(f, f"{c}/y", torch.cat([a, b, d], 1))
    c = "cat1"; e = rnd(3, 3, dtype=torch.float64)
    put(f, f"{c}/a", a); put(f, f"{c}/b_f64", e); put(f, f"{c}/y_f64", torch.cat([a, torch.empty(0), e], 0))
    c = "cat2"; p, q = rnd(2, 2, 3), rnd(2, 2, 1)
    put(f, f"{c}/a", p); put(f, f"{c}/b", q); put(f, f"{c}/y", torch.cat([p, q], -1))
    s0, s1, s2 = rnd(2, 3), rnd(2, 3), rnd(2, 3)
    for dim in [0, 1, 2, -1]:
        c = f"stack{dim + 1 if dim >= 0 else 'm1'}"
        put(f, f"{c}/a", s0); put(f, f"{c}/b", s1); put(f, f"{c}/c", s2); put(f, f"{c}/dim", np.int64(dim))
        put(f, f"{c}/y", torch.stack([s0, s1, s2], dim))
    # split / chunk
    x = rnd(7, 3)
    put(f, "split/x", x)
    for i, piece in enumerate(torch.split(x, 3, 0)): put(f, f"split/size3_{i}", piece)
    for i, piece in enumerate(torch.split(x, [1, 2], 1)): put(f, f"split/sizes_{i}", piece)
    for i, piece in enumerate(torch.chunk(x, 3, 0)): put(f, f"split/chunk3_{i}", piece)
    x6 = rnd(3, 6)
    put(f, "split/x6", x6)
    for i, piece in enumerate(torch.chunk(x6, 4, -1)): put(f, f"split/chunk4_{i}", piece)
    # pad
    for i, (shape, pads, mode, val) in enumerate([([2, 3, 4], [1, 2], "constant", 0.5), ([2, 3, 4], [1, 0, 2, 1], "constant", 0.0),
                                                  ([2, 3, 4], [-1, 1, 0, 2], "constant", -2.0), ([2, 3, 4], [1, 1, 0, 1, 2, 0], "constant", 1.0),
                                                  ([2, 3, 5], [2, 1], "reflect", 0.0), ([1, 2, 4, 5], [1, 2, 3, 1], "reflect", 0.0),
                                                  ([1, 2, 3, 4, 4], [1, 1, 2, 1, 1, 2], "reflect", 0.0)]):
        x = rnd(*shape)
        c = f"pad{i}"
        fn = (lambda t: F.pad(t, pads, mode="constant", value=val)) if mode == "constant" else (lambda t: F.pad(t, pads, mode="reflect"))
        grad_case(f, c, x, fn, pads=np.array(pads, dtype=np.int64), reflect=np.int64(mode == "reflect"), value=np.float64(val))
    # triu / tril
    for i, (shape, diag) in enumerate([([4, 5], 0), ([4, 5], 1), ([4, 5], -1), ([2, 3, 4], 2), ([2, 3, 4], -2), ([3, 3], 5)]):
        x = rnd(*shape)
        c = f"tri{i}"
        put(f, f"{c}/x", x); put(f, f"{c}/diag", np.int64(diag))
        put(f, f"{c}/triu", torch.triu(x, diag)); put(f, f"{c}/tril", torch.tril(x, diag))
    # repeat / flip / roll
    x = rnd(2, 3)
    for i, reps in enumerate([[2, 1, 3], [1, 2], [3, 1]]):
        c = f"repeat{i}"
        grad_case(f, c, x, lambda t: t.repeat(*reps), repeats=np.array(reps, dtype=np.int64))
    x = rnd(2, 3, 4)
    for i, dims in enumerate([[0, 2], [-1], [0, 1, 2]]):
        c = f"flip{i}"
        put(f, f"{c}/x", x); put(f, f"{c}/dims", np.array(dims, dtype=np.int64)); put(f, f"{c}/y", torch.flip(x, dims))
    x = rnd(3, 4)
    for i, (shifts, dims) in enumerate([([1], [0]), ([2, -1], [0, 1]), ([5], []), ([-7], [1])]):
        c = f"roll{i}"
        y = torch.roll(x, shifts, dims) if dims else torch.roll(x, shifts[0])
        put(f, f"{c}/x", x); put(f, f"{c}/shifts", np.array(shifts, dtype=np.int64))
        put(f, f"{c}/dims", np.array(dims if dims else [-999], dtype=np.int64)); put(f, f"{c}/y", y)

print("wrote", OUT, os.path.getsize(OUT), "bytes")
