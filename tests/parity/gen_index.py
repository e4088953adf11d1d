#!/usr/bin/env python3
"""Golden values for the indexing ops (tests/parity/test_parity_index.cpp).

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
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "index.h5")


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
    # index_select
    for i, (shape, dim, idx, idt) in enumerate([([4, 5], 0, [2, 0, 3, 3], torch.int64),
                                                ([4, 5], -1, [4, 1], torch.int64),
                                                ([2, 3, 4], 1, [2, 2, 0], torch.int32)]):
        x = rnd(*shape)
        index = torch.tensor(idx, dtype=idt)
        c = f"index_select{i}"
        put(f, f"{c}/x", x); put(f, f"{c}/index", index); put(f, f"{c}/dim", np.int64(dim))
        put(f, f"{c}/y", torch.index_select(x, dim, index))
    # index_add (repeated indices accumulate)
    for i, (shape, dim, idx) in enumerate([([5, 3], 0, [4, 0, 4, 2]), ([2, 4, 3], -2, [3, 3, 1])]):
        x = rnd(*shape)
        index = torch.tensor(idx)
        ss = list(shape); ss[dim] = len(idx)
        src = rnd(*ss)
        c = f"index_add{i}"
        put(f, f"{c}/x", x); put(f, f"{c}/index", index); put(f, f"{c}/src", src); put(f, f"{c}/dim", np.int64(dim))
        put(f, f"{c}/y", torch.index_add(x, dim, index, src))
    # gather
    gx = rnd(2, 3, 4)
    for i, (dim, idx_shape, n) in enumerate([(1, [2, 2, 4], 3), (0, [1, 3, 2], 2), (-1, [2, 3, 6], 4),
                                             (2, [1, 2, 3], 4)]):
        index = torch.randint(0, n, idx_shape)
        c = f"gather{i}"
        put(f, f"{c}/x", gx); put(f, f"{c}/index", index); put(f, f"{c}/dim", np.int64(dim))
        put(f, f"{c}/y", torch.gather(gx, dim, index))
    # scatter_add (duplicates accumulate) and scatter (distinct targets per line)
    for i, (xs, dim, idx_shape, src_shape) in enumerate([([3, 5], 1, [3, 4], [3, 4]), ([4, 3], 0, [6, 3], [6, 3]),
                                                         ([3, 5], -1, [2, 3], [3, 4]), ([2, 3, 4], 1, [2, 5, 4], [2, 5, 4])]):
        x = rnd(*xs)
        index = torch.randint(0, xs[dim], idx_shape)
        src = rnd(*src_shape)
        c = f"scatter_add{i}"
        put(f, f"{c}/x", x); put(f, f"{c}/index", index); put(f, f"{c}/src", src); put(f, f"{c}/dim", np.int64(dim))
        put(f, f"{c}/y", torch.scatter_add(x, dim, index, src))
    for i, (xs, dim, k, other) in enumerate([([3, 5], 1, 3, 3), ([4, 3], 0, 2, 3)]):
        x = rnd(*xs)
        lines = [torch.randperm(xs[dim])[:k] for _ in range(other)]
        index = torch.stack(lines, dim=1 - dim) if dim == 0 else torch.stack(lines, 0)
        src = rnd(*index.shape)
        c = f"scatter{i}"
        put(f, f"{c}/x", x); put(f, f"{c}/index", index); put(f, f"{c}/src", src); put(f, f"{c}/dim", np.int64(dim))
        put(f, f"{c}/y", torch.scatter(x, dim, index, src))
    # embedding (+ gradient with padding_idx)
    w = rnd(10, 4)
    ind = torch.tensor([[1, 2, 2], [9, 0, 2]])
    for i, pad in enumerate([None, 2, -1]):
        c = f"embedding{i}"
        grad_case(f, c, w, lambda t: F.embedding(ind, t, padding_idx=pad), indices=ind,
                  padding_idx=np.int64(pad if pad is not None else -999))
    # masked_fill (broadcast mask, broadcast x)
    for i, (xs, ms, val) in enumerate([([3, 4], [3, 4], -1.5), ([3, 4], [4], 2.0), ([1, 4], [3, 4], 0.0),
                                       ([2, 3, 4], [3, 1], float("-inf"))]):
        x = rnd(*xs)
        m = torch.rand(*ms) < 0.4
        c = f"masked_fill{i}"
        grad_case(f, c, x, lambda t: t.masked_fill(m, val), mask=m, value=np.float64(val))
    # one_hot
    ind = torch.tensor([[0, 3, 1], [2, 2, 4]])
    put(f, "one_hot/indices", ind)
    put(f, "one_hot/y_auto", F.one_hot(ind)); put(f, "one_hot/y_7", F.one_hot(ind, 7))

print("wrote", OUT, os.path.getsize(OUT), "bytes")
