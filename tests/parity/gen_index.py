#!/usr/bin/env python3
"""Golden values for indexing, joining and reordering ops (tests/parity/test_parity_index.cpp).

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
    # one_hot
    ind = torch.tensor([[0, 3, 1], [2, 2, 4]])
    put(f, "one_hot/indices", ind)
    put(f, "one_hot/y_auto", F.one_hot(ind)); put(f, "one_hot/y_7", F.one_hot(ind, 7))
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
