#!/usr/bin/env python3
"""Golden values for the softmax family: softmax/log_softmax and the classification losses built on
them, nll_loss and cross_entropy (class indices and probabilities): forward values and input (and
probability-target) gradients.
Regenerate with: python3 tests/parity/gen_softmax.py  (Debian python3-torch, python3-h5py).

Layout as gen_reduce.py: inputs once each as "in.<id>"; per op, "<op>.cfg" is a float64 matrix with
one row per case (layouts in test_parity_softmax.cpp), and the cases' results are concatenated in
order, flattened, as float64: "<op>.out", "<op>.gx" (gradient of <gy, out> w.r.t. the input,
gy[k] = cos(0.7 k) over the output's flat index, which the C++ test rebuilds) and "<op>.gt"
(probability-target gradient). bfloat16 cases (cfg column 1 = 1) run on the float32 input
converted to bf16."""
import os

import h5py
import torch
import torch.nn.functional as F

torch.manual_seed(0)
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "softmax.h5")
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
    """cfg row: [input id, bf16, op parameters...] (layouts in test_parity_softmax.cpp)."""
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


a = torch.randn(2, 3, 4)
a64 = torch.randn(2, 3, 4, dtype=torch.float64)

# softmax / log_softmax: cfg [dim]
wide = torch.randn(3, 37) * 3
for x in (a, a64, wide):
    for dim in (0, 1, -1):
        reduce_case("softmax", x, lambda t: F.softmax(t, dim), [dim])
        reduce_case("log_softmax", x, lambda t: F.log_softmax(t, dim), [dim])
large = torch.tensor([[1000.0, 999.0, 998.0, 0.0], [-1000.0, -1000.5, -2000.0, -999.0]])
reduce_case("softmax", large, lambda t: F.softmax(t, -1), [-1])
reduce_case("log_softmax", large, lambda t: F.log_softmax(t, -1), [-1])
for dim in (0, -1):
    reduce_case("softmax", a, lambda t: F.softmax(t, dim), [dim], bf16=True)
    reduce_case("log_softmax", a, lambda t: F.log_softmax(t, dim), [dim], bf16=True)

# Losses: ".x" input, ".t" target, ".w" weight (optional), ".cfg" [reduction (0 none, 1 mean,
# 2 sum), ignore_index, label_smoothing], ".out", ".gx", ".gt" (probability targets only).
RED = {"none": 0, "mean": 1, "sum": 2}


def loss_case(op, x, t, w, red, ii, ls):
    c = case(op)
    xr = x.clone().requires_grad_()
    tr = t.clone().requires_grad_() if t.is_floating_point() else t
    if op == "nll":
        out = F.nll_loss(xr, tr, weight=w, ignore_index=ii, reduction=red)
    else:
        out = F.cross_entropy(xr, tr, weight=w, ignore_index=ii, reduction=red, label_smoothing=ls)
    out.backward(gy_like(out))
    c["cfg"].append([input_id(x), input_id(t), -1 if w is None else input_id(w), RED[red], ii, ls])
    c["out"] += flat(out)
    c["gx"] += flat(xr.grad)
    if t.is_floating_point():
        c["gt"] += flat(tr.grad)


x2 = torch.randn(6, 5)
t2 = torch.tensor([0, 4, 2, 2, 1, 3])
t2i = torch.tensor([0, 4, -100, 2, 1, -100])
x3 = torch.randn(2, 4, 3, 2)
t3 = torch.randint(0, 4, (2, 3, 2))
t3i = t3.clone()
t3i[0, 1, 1] = 2
x1 = torch.randn(5)
t1 = torch.tensor(3)
w5 = torch.rand(5) + 0.2
w4 = torch.rand(4) + 0.2
for red in ("mean", "sum", "none"):
    for w in (None, "w"):
        loss_case("nll", F.log_softmax(x2, 1), t2i, w5 if w else None, red, -100, 0.0)
        loss_case("nll", F.log_softmax(x3, 1), t3i, w4 if w else None, red, 2, 0.0)
        loss_case("nll", F.log_softmax(x1, 0), t1, w5 if w else None, red, -100, 0.0)
        for ls in (0.0, 0.1):
            loss_case("ce", x2, t2, w5 if w else None, red, -100, ls)
            loss_case("ce", x2, t2i, w5 if w else None, red, -100, ls)
            loss_case("ce", x3, t3i, w4 if w else None, red, 2, ls)
            loss_case("ce", x1, t1, w5 if w else None, red, -100, ls)
            loss_case("ce", x2, F.softmax(torch.randn(6, 5), 1), w5 if w else None, red, -100, ls)
            loss_case("ce", x3, F.softmax(torch.randn(2, 4, 3, 2), 1), w4 if w else None, red, -100, ls)
loss_case("ce", x2.double(), t2i, w5.double(), "mean", -100, 0.2)
loss_case("ce", x2.double(), F.softmax(torch.randn(6, 5, dtype=torch.float64), 1), None, "mean", -100, 0.2)

# Wide rows, as the LM's 33k vocabulary reaches the fused kernel (vectorised lines and their odd tails),
# every option; drawn last so the cases above keep their values.
xw = torch.randn(6, 517) * 4
tw = torch.randint(0, 517, (6,))
tw[3] = -100
ww = torch.rand(517) + 0.2
for red in ("mean", "sum", "none"):
    for w in (None, ww):
        for ls in (0.0, 0.1):
            loss_case("ce", xw, tw, w, red, -100, ls)

with h5py.File(path + ".tmp", "w", libver="latest") as f:
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
