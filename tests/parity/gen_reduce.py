#!/usr/bin/env python3
"""Golden values for the reduction family: max/min (all and dim), amax/amin, argmax/argmin,
var/std, logsumexp, vector norm, prod, cumsum/cumprod: forward values and input gradients.
Regenerate with: python3 tests/parity/gen_reduce.py  (Debian python3-torch, python3-h5py).

Layout: inputs once each as "in.<id>"; per op, "<op>.cfg" is a float64 matrix with one row per
case (input ids and parameters, NaN-padded; layouts in test_parity_reduce.cpp), and the cases'
results are concatenated in order, flattened, as float64: "<op>.out", "<op>.gx" (gradient of
<gy, out> w.r.t. the input, gy[k] = cos(0.7 k) over the output's flat index, which the C++ test
rebuilds) and int64 "<op>.idx" (indices). bfloat16 cases (cfg column 1 = 1) run on the float32
input converted to bf16. sum/mean are plain datasets "sum_mean/<name>" (inputs a, x and results)."""
import math
import os

import h5py
import torch
import torch.nn.functional as F

torch.manual_seed(0)
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "reduce.h5")
inputs = []          # stored once each as "in.<id>"
cases = {}           # op -> {"cfg": [rows], "out": [...], "idx": [...], "gx": [...], "gt": [...]}


def input_id(t):
    for i, u in enumerate(inputs):
        if u.dtype == t.dtype and u.shape == t.shape and torch.equal(u, t):
            return i
    inputs.append(t.detach().clone())
    return len(inputs) - 1


def flat(t):
    t = t.detach()
    if t.dtype == torch.bfloat16:
        t = t.float()
    return t.reshape(-1).tolist()


def gy_like(y):
    n = y.numel()
    return torch.cos(0.7 * torch.arange(n, dtype=torch.float64)).reshape(y.shape).to(y.dtype)


def case(op):
    return cases.setdefault(op, {"cfg": [], "out": [], "idx": [], "gx": [], "gt": []})


def reduce_case(op, x, fn, cfg, grad=True, bf16=False):
    """cfg row: [input id, bf16, op parameters...] (layouts in test_parity_reduce.cpp)."""
    c = case(op)
    xin = x.bfloat16() if bf16 else x
    xr = xin.clone().requires_grad_(grad and xin.is_floating_point())
    out = fn(xr)
    idx = None
    if isinstance(out, tuple):
        out, idx = out
    c["cfg"].append([input_id(x), 1.0 if bf16 else 0.0] + [float(v) for v in cfg])
    c["out"] += flat(out)
    if idx is not None:
        c["idx"] += flat(idx)
    if grad and xr.requires_grad:
        if out.requires_grad:
            out.backward(gy_like(out))
        c["gx"] += flat(xr.grad if xr.grad is not None else torch.zeros_like(xr))


def dims_arg(dims, nd):
    return tuple(dims) if dims else tuple(range(nd))


a = torch.randn(2, 3, 4)
a64 = torch.randn(2, 3, 4, dtype=torch.float64)
ties = torch.randint(0, 3, (2, 3, 4)).float()  # many ties
zeros_in = torch.tensor([[1.5, 0.0, -2.0, 0.5], [0.0, 1.2, 0.0, 0.7], [0.9, -1.1, 1.3, 0.8]])

# max/min over all: cfg [] ; gradient split among ties.
for x in (a, ties, a64):
    reduce_case("max_all", x, lambda t: t.max(), [])
    reduce_case("min_all", x, lambda t: t.min(), [])

# max/min over dim: cfg [dim, keepdim]
for x in (a, ties, a64):
    for dim in (0, 1, -1):
        for kd in (False, True):
            reduce_case("max_dim", x, lambda t: tuple(t.max(dim, keepdim=kd)), [dim, kd])
            reduce_case("min_dim", x, lambda t: tuple(t.min(dim, keepdim=kd)), [dim, kd])

# amax/amin: cfg [keepdim, dims...]
for x in (a, ties):
    for dims in ([], [1], [0, 2], [-1]):
        for kd in (False, True):
            reduce_case("amax", x, lambda t: torch.amax(t, dims_arg(dims, t.dim()), keepdim=kd), [kd] + dims)
            reduce_case("amin", x, lambda t: torch.amin(t, dims_arg(dims, t.dim()), keepdim=kd), [kd] + dims)
reduce_case("amax", a, lambda t: torch.amax(t, (0, 1)), [0, 0, 1], bf16=True)

# argmax/argmin: cfg [has_dim, dim, keepdim]
for x in (a, ties):
    for dim in (None, 0, 2, -2):
        for kd in (False, True):
            reduce_case("argmax", x, lambda t: torch.argmax(t, dim, keepdim=kd), [dim is not None, dim or 0, kd], grad=False)
            reduce_case("argmin", x, lambda t: torch.argmin(t, dim, keepdim=kd), [dim is not None, dim or 0, kd], grad=False)

# var/std: cfg [correction, keepdim, dims...]
for x in (a, a64):
    for dims in ([], [1], [0, 2]):
        for corr in (0, 1, 2):
            for kd in (False, True):
                reduce_case("var", x, lambda t: torch.var(t, dims_arg(dims, t.dim()), correction=corr, keepdim=kd),
                            [corr, kd] + dims)
                reduce_case("std", x, lambda t: torch.std(t, dims_arg(dims, t.dim()), correction=corr, keepdim=kd),
                            [corr, kd] + dims)
reduce_case("var", a, lambda t: torch.var(t, (2,), correction=1), [1, 0, 2], bf16=True)
reduce_case("std", torch.full((2, 3), 1.5), lambda t: torch.std(t, (1,)), [1, 0, 1])  # zero std: grad 0

# logsumexp: cfg [keepdim, dims...]
big = torch.tensor([[1000.0, 999.0, -5.0], [-1000.0, -1001.0, -999.5]])
for x in (a, a64, big * 1.0):
    for dims in ([], [1], [0, -1]):
        for kd in (False, True):
            if x.dim() == 2 and dims == [0, -1]:
                continue
            reduce_case("logsumexp", x, lambda t: torch.logsumexp(t, dims_arg(dims, t.dim()), keepdim=kd), [kd] + dims)
reduce_case("logsumexp", a, lambda t: torch.logsumexp(t, (2,)), [0, 2], bf16=True)

# vector norm: cfg [p, keepdim, dims...]
zrow = torch.tensor([[0.0, 0.0, 0.0, 0.0], [1.0, -2.0, 2.0, 0.5], [0.0, 3.0, -3.0, 0.0]])
for x in (a, a64, zrow):
    for p in (2.0, 1.0, math.inf, -math.inf, 3.0, 1.5, 0.0):
        if x is a64 and p not in (2.0, math.inf):
            continue
        for dims in ([], [1], [0, -1]):
            for kd in (False, True):
                if x.dim() == 2 and dims == [0, -1]:
                    continue
                if kd and dims == []:
                    continue
                reduce_case("norm", x, lambda t: torch.linalg.vector_norm(t, p, dims if dims else None, keepdim=kd),
                            [p, kd] + dims)
reduce_case("norm", a, lambda t: torch.linalg.vector_norm(t, 0.5, (1,)), [0.5, 0, 1])

# prod: cfg [keepdim, dims...]; torch.prod takes one dim, so chain for several.
def prod_dims(t, dims, kd):
    if not dims:
        r = t.prod()
        return r.reshape([1] * t.dim()) if kd else r
    for d in sorted([d % t.dim() for d in dims], reverse=True):
        t = t.prod(d, keepdim=True)
    if not kd:
        for d in sorted([d % len(t.shape) for d in dims], reverse=True):
            t = t.squeeze(d)
    return t


small = torch.rand(3, 4, 2) + 0.5
for x in (small, zeros_in, a64):
    for dims in ([], [1], [0, -1]):
        for kd in (False, True):
            reduce_case("prod", x, lambda t: prod_dims(t, dims, kd), [kd] + dims)
reduce_case("prod", torch.tensor([[2, 0, 3], [1, 4, -2]]), lambda t: t.prod(1), [0, 1])
reduce_case("prod", torch.tensor([2.0, 0.0, 3.0, 0.0]), lambda t: t.prod(), [0])  # two zeros

# cumsum / cumprod: cfg [dim]
cz = torch.tensor([[3.0, 0.0, 1.0, 2.0, 0.0, 4.0], [0.5, 1.5, -2.0, 1.0, 0.0, 2.0]])
for x in (a, a64):
    for dim in (0, 1, -1):
        reduce_case("cumsum", x, lambda t: torch.cumsum(t, dim), [dim])
        reduce_case("cumprod", x, lambda t: torch.cumprod(t, dim), [dim])
reduce_case("cumprod", cz, lambda t: torch.cumprod(t, 1), [1])  # zeros
reduce_case("cumsum", torch.tensor([[1, 2, 3], [4, 5, 6]]), lambda t: torch.cumsum(t, 0), [0])
reduce_case("cumprod", torch.tensor([[1, 2, 3], [4, 5, 6]]), lambda t: torch.cumprod(t, 1), [1])

# sum / mean: plain datasets (own seed: the same a as gen_core.py).
torch.manual_seed(0)
sa = torch.randn(3, 4)
sx = torch.arange(24.0).reshape(2, 3, 4)
sum_mean = {"a": sa, "x": sx, "sum_all": sa.sum(), "sum_0": sa.sum(0), "sum_1k": sa.sum(1, keepdim=True),
            "mean_all": sx.mean(), "mean_02": sx.mean((0, 2))}

with h5py.File(path + ".tmp", "w", libver="latest") as f:
    for k, t in sum_mean.items():
        f.create_dataset("sum_mean/" + k, data=t.numpy())
    for i, t in enumerate(inputs):
        f.create_dataset(f"in.{i}", data=t.numpy())
    for op, c in cases.items():
        width = max(len(r) for r in c["cfg"])
        rows = [r + [float("nan")] * (width - len(r)) for r in c["cfg"]]
        f.create_dataset(op + ".cfg", data=torch.tensor(rows, dtype=torch.float64).numpy())
        for k in ("out", "gx", "gt"):
            if c[k]:
                f.create_dataset(f"{op}.{k}", data=torch.tensor(c[k], dtype=torch.float64).numpy())
        if c["idx"]:
            f.create_dataset(op + ".idx", data=torch.tensor(c["idx"], dtype=torch.int64).numpy())
os.replace(path + ".tmp", path)
print(path, os.path.getsize(path), "bytes;", len(inputs), "inputs;", {k: len(c["cfg"]) for k, c in cases.items()})
