#!/usr/bin/env python3
"""Golden values for the view ops (permute, transpose + reshape, slice, select, unfold, expand).
Regenerate with: python3 tests/parity/gen_view.py  (Debian python3-torch, python3-h5py)."""
import os
import h5py
import torch

torch.manual_seed(0)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "view.h5")
f = h5py.File(out + ".tmp", "w")


def put(name, t):
    f.create_dataset(name, data=t.detach().numpy())


torch.randn(3, 4), torch.randn(4)  # drawn as in gen_core.py, so that c equals its c
c = torch.rand(3, 1) + 0.5
put("in/c", c)
x = torch.arange(24.0).reshape(2, 3, 4)
put("in/x", x)
put("view/permute", x.permute(2, 0, 1).contiguous())
put("view/transpose_reshape", x.transpose(0, 2).reshape(4, 6))
put("view/slice", x[:, 1:3, ::2].contiguous())
put("view/select", x.select(1, -1).contiguous())
put("view/unfold", x.unfold(2, 2, 1).contiguous())
put("view/expand", c.expand(2, 3, 5).contiguous())
f.close()
os.replace(out + ".tmp", out)
print("wrote", out)
