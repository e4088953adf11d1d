#!/usr/bin/env python3
"""Golden values for the gradients of a composite expression with broadcasting (arithmetic,
activations and reductions through one backward pass).
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
put("in/a", a); put("in/b", b); put("in/c", c)

# Gradients of a composite expression with broadcasting.
ga, gb, gc = a.clone().requires_grad_(), b.clone().requires_grad_(), c.clone().requires_grad_()
y = (F.gelu(ga * gb) / gc + torch.tanh(ga).exp()).sum(1).mean()
y.backward()
put("grad/y", y); put("grad/a", ga.grad); put("grad/b", gb.grad); put("grad/c", gc.grad)
f.close()
os.replace(out + ".tmp", out)
print("wrote", out)
