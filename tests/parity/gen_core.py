#!/usr/bin/env python3
"""Golden values for the core ops (arithmetic, unary math, activations, views, sum/mean).
Regenerate with: python3 tests/parity/gen_core.py  (Debian python3-torch, python3-h5py)."""
import os
import h5py
import torch
import torch.nn.functional as F

torch.manual_seed(0)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "core.h5")
f = h5py.File(out + ".tmp", "w")


def put(name, t):
    f.create_dataset(name, data=t.detach().numpy())


a = torch.randn(3, 4)
b = torch.randn(4)
c = torch.rand(3, 1) + 0.5
pos = torch.rand(3, 4) + 0.1
put("in/a", a); put("in/b", b); put("in/c", c); put("in/pos", pos)

put("add", a + b); put("add_alpha", torch.add(a, b, alpha=0.7)); put("sub", a - c)
put("mul", a * b); put("div", a / c); put("neg", -a)
put("scalar_ops", (2.0 - a) * 3.0 / 4.0 + 1.5)

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

x = torch.arange(24.0).reshape(2, 3, 4)
put("in/x", x)
put("view/permute", x.permute(2, 0, 1).contiguous())
put("view/transpose_reshape", x.transpose(0, 2).reshape(4, 6))
put("view/slice", x[:, 1:3, ::2].contiguous())
put("view/select", x.select(1, -1).contiguous())
put("view/unfold", x.unfold(2, 2, 1).contiguous())
put("view/expand", c.expand(2, 3, 5).contiguous())

put("reduce/sum_all", a.sum()); put("reduce/sum_0", a.sum(0)); put("reduce/sum_1k", a.sum(1, keepdim=True))
put("reduce/mean_all", x.mean()); put("reduce/mean_02", x.mean((0, 2)))

# Gradients of a composite expression with broadcasting.
ga, gb, gc = a.clone().requires_grad_(), b.clone().requires_grad_(), c.clone().requires_grad_()
y = (F.gelu(ga * gb) / gc + torch.tanh(ga).exp()).sum(1).mean()
y.backward()
put("grad/y", y); put("grad/a", ga.grad); put("grad/b", gb.grad); put("grad/c", gc.grad)
f.close()
os.replace(out + ".tmp", out)
print("wrote", out)
