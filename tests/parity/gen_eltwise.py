#!/usr/bin/env python3
"""Golden values for the elementwise family: pow, clamp, maximum/minimum, where, comparisons,
logical ops, isnan/isinf, arithmetic, unary math and activations (values; gradients for pow,
clamp, maximum/minimum and where).
Regenerate with: python3 tests/parity/gen_eltwise.py  (Debian python3-torch, python3-h5py).
Bool tensors are stored as uint8; bfloat16 results as float32 (exact)."""
import os
import h5py
import torch
import torch.nn.functional as F

torch.manual_seed(0)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "eltwise.h5")
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


# ---- inputs ----
a = torch.randn(3, 4)                   # any sign
b = torch.randn(4)                      # broadcast partner
pos = torch.rand(3, 4) * 2 + 0.1        # positive bases
ex = torch.randn(4) * 1.5               # exponents
put("in/a", a); put("in/b", b); put("in/pos", pos); put("in/ex", ex)

# ---- pow ----
put("pow/tt", torch.pow(pos, ex))
for i, e in enumerate([2.0, 3.0, 0.5, -0.5, -1.0, -2.0, 1.7, 0.0, 1.0]):
    put(f"pow/ts{i}", torch.pow(pos, e))
put("pow/neg_sq", torch.pow(a, 2.0)); put("pow/neg_cube", torch.pow(a, 3.0))
put("pow/st", torch.pow(2.5, ex)); put("pow/st_small", torch.pow(0.3, a))
ia = torch.tensor([[0, 1, 2], [3, -4, 5]], dtype=torch.int64)
put("in/int", ia)
put("pow/int_sq", torch.pow(ia, 2)); put("pow/int_half", torch.pow(ia.abs(), 0.5))
put("pow/bf16", torch.pow(pos.bfloat16(), ex.bfloat16()))
put("pow/bf16_s", torch.pow(pos.bfloat16(), 1.7))
pd = pos.double(); exd = ex.double()
put("pow/f64", torch.pow(pd, exd))
y, (g0, g1) = grads(torch.pow, pos, ex)
put("pow_grad/base", g0); put("pow_grad/exp", g1)
# zero bases and zero exponents (PyTorch masks the exponent gradient where base == 0 and exp >= 0)
zb = torch.tensor([0.0, 0.0, 2.0, 0.0, 1.5]); ze = torch.tensor([0.0, 2.0, 0.0, 1.5, -1.0])
put("in/zb", zb); put("in/ze", ze)
y, (g0, g1) = grads(torch.pow, zb[:4], ze[:4])
put("pow_zero/y", y); put("pow_zero/gbase", g0); put("pow_zero/gexp", g1)
y, (g0,) = grads(lambda e: torch.pow(0.0, e), ze[:4])
put("pow_zero/s_y", y); put("pow_zero/s_gexp", g0)

# ---- clamp ----
xc = a * 2
xc[0, 0] = -0.5; xc[0, 1] = 0.6; xc[1, 2] = float("nan")   # exact bounds and a NaN
put("in/xc", xc)
cases = {"both": (-0.5, 0.6), "min": (0.1, None), "max": (None, -0.2), "inverted": (1.0, 0.0)}
for k, (lo, hi) in cases.items():
    y, (g0,) = grads(lambda x: torch.clamp(x, lo, hi), xc)
    put(f"clamp/{k}", y); put(f"clamp/{k}_grad", g0)
ic = torch.tensor([[-3, 0, 4], [7, 2, -1]], dtype=torch.int32)
put("in/ic", ic)
put("clamp/int", torch.clamp(ic, -1, 3)); put("clamp/int_frac", torch.clamp(ic, 0.5, None))
put("clamp/bf16", torch.clamp(xc.bfloat16(), -0.5, 0.6))

# ---- maximum / minimum ----
ma = a.clone(); mb = b.clone()
ma[0, :2] = mb[:2]; ma[2, 3] = mb[3]        # ties
ma[1, 1] = float("nan")
put("in/ma", ma); put("in/mb", mb)
vm = torch.randn(3, 4)
put("in/vm", vm)
for k, fn in {"maximum": torch.maximum, "minimum": torch.minimum}.items():
    y, (g0, g1) = grads(fn, ma, mb, v=vm)
    put(f"{k}/y", y); put(f"{k}/ga", g0); put(f"{k}/gb", g1)
    put(f"{k}/mixed", fn(a, b.double()))
    put(f"{k}/bf16", fn(a.bfloat16(), b.bfloat16()))
    put(f"{k}/int", fn(ia, torch.tensor([1, 1, 3])))

# ---- where ----
cond = torch.rand(3, 4) > 0.5
bc = torch.randn(3, 1)
put("in/cond", cond); put("in/bc", bc)
ga_, gb_ = a.clone().requires_grad_(), bc.clone().requires_grad_()
y = torch.where(cond, ga_, gb_)
y.backward(vm)
put("where/tt", y); put("where/ga", ga_.grad); put("where/gb", gb_.grad)
put("where/ts", torch.where(cond, a, 0.5)); put("where/st", torch.where(cond, -1.0, bc))
put("where/cond_row", torch.where(cond[0], a, b))
put("where/int_float", torch.where(cond[:2, :3], ia, 0.5))

# ---- comparisons, logical, classification ----
cq = a.clone(); cq[0, :2] = b[:2]           # some equal elements
put("in/cq", cq)
for k, fn in {"eq": torch.eq, "ne": torch.ne, "lt": torch.lt, "le": torch.le, "gt": torch.gt, "ge": torch.ge}.items():
    put(f"cmp/{k}", fn(cq, b))
    put(f"cmp/{k}_s", fn(cq, 0.1))
put("cmp/int_frac", torch.lt(ia, 2.5)); put("cmp/int_eq", torch.eq(ia, 3))
p_ = torch.rand(3, 4) > 0.5; q_ = torch.rand(4) > 0.5
put("in/p", p_); put("in/q", q_)
put("logical/and", torch.logical_and(p_, q_)); put("logical/or", torch.logical_or(p_, q_))
put("logical/xor", torch.logical_xor(p_, q_)); put("logical/not", torch.logical_not(p_))
nz = torch.tensor([0.0, 1.0, -2.0, 0.0])
put("in/nz", nz)
put("logical/and_num", torch.logical_and(a, nz))
sp = torch.tensor([1.0, float("nan"), float("inf"), -float("inf"), -2.0, 0.0])
put("in/special", sp)
put("cls/isnan", torch.isnan(sp)); put("cls/isinf", torch.isinf(sp)); put("cls/isposinf", torch.isposinf(sp))
put("cls/isneginf", torch.isneginf(sp)); put("cls/isfinite", torch.isfinite(sp))

# ---- arithmetic, unary math and activations (own seed: the same a, b, c, pos as gen_core.py) ----
torch.manual_seed(0)
a = torch.randn(3, 4)
b = torch.randn(4)
c = torch.rand(3, 1) + 0.5
pos = torch.rand(3, 4) + 0.1
put("arith/a", a); put("arith/b", b); put("arith/c", c); put("arith/pos", pos)

put("arith/add", a + b); put("arith/add_alpha", torch.add(a, b, alpha=0.7)); put("arith/sub", a - c)
put("arith/mul", a * b); put("arith/div", a / c); put("arith/neg", -a)
put("arith/scalar_ops", (2.0 - a) * 3.0 / 4.0 + 1.5)

unary = {"exp": torch.exp, "sin": torch.sin, "cos": torch.cos, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
         "silu": F.silu, "erf": torch.erf, "relu": F.relu, "abs": torch.abs, "sign": torch.sign,
         "square": torch.square, "expm1": torch.expm1, "floor": torch.floor, "ceil": torch.ceil,
         "round": torch.round, "gelu": F.gelu, "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
         "softplus": lambda x: F.softplus(x, beta=2.0, threshold=3.0)}
for k, fn in unary.items():
    put("unary/" + k, fn(a * 2))
pos_unary = {"log": torch.log, "log1p": torch.log1p, "sqrt": torch.sqrt, "rsqrt": torch.rsqrt,
             "reciprocal": torch.reciprocal, "tan": torch.tan}
for k, fn in pos_unary.items():
    put("pos_unary/" + k, fn(pos))

f.close()
os.replace(out + ".tmp", out)
print("wrote", out, os.path.getsize(out), "bytes")
