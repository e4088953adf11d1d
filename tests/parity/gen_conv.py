#!/usr/bin/env python3
"""PyTorch golden values for conv2d (forward and gradients), float32.

Writes tests/parity/golden/conv.h5: for each case "<case>/<tensor>" datasets with the inputs,
the upstream gradient `go`, the output `out` and input gradients `g_<input>`, and `params` =
[stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups] (int64)."""
import os

import h5py
import torch
import torch.nn.functional as F

torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "conv.h5")


def rnd(*shape):
    return torch.rand(tuple(shape), dtype=torch.float32) * 2 - 1


def run(f, inputs, names, h5, case, extra=None):
    leaves = [t.clone().requires_grad_(True) if t is not None else None for t in inputs]
    out = f(*leaves)
    go = rnd(*out.shape)
    out.backward(go)
    g = h5.create_group(case)
    for n, x in zip(names, leaves):
        if x is None:
            continue
        g[n] = x.detach().numpy()
        g["g_" + n] = x.grad.numpy()
    g["go"] = go.numpy()
    g["out"] = out.detach().numpy()
    for k, v in (extra or {}).items():
        g[k] = v


def main():
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with h5py.File(OUT, "w") as h5:
        conv = [
            ("conv_basic", (2, 3, 6, 6), (4, 3, 3, 3), (1, 1, 0, 0, 1, 1, 1), True),
            ("conv_pad", (2, 3, 6, 6), (4, 3, 3, 3), (1, 1, 1, 1, 1, 1, 1), False),
            ("conv_stride", (1, 3, 7, 8), (4, 3, 3, 2), (2, 3, 1, 0, 1, 1, 1), True),
            ("conv_dilation", (1, 2, 8, 8), (3, 2, 3, 3), (1, 1, 2, 1, 2, 3, 1), True),
            ("conv_groups", (2, 4, 5, 5), (6, 2, 3, 3), (1, 1, 1, 1, 1, 1, 2), True),
            ("conv_depthwise", (2, 4, 6, 6), (4, 1, 3, 3), (1, 1, 1, 1, 1, 1, 4), False),
            ("conv_depthwise_mult", (1, 3, 6, 6), (6, 1, 3, 3), (2, 2, 1, 1, 1, 1, 3), True),
            ("conv_1x1", (2, 8, 4, 4), (5, 8, 1, 1), (1, 1, 0, 0, 1, 1, 1), True),
        ]
        for name, sx, sw, p, has_b in conv:
            x, w = rnd(*sx), rnd(*sw)
            b = rnd(sw[0]) if has_b else None
            f = lambda x, w, b, p=p: F.conv2d(x, w, b, stride=p[0:2], padding=p[2:4], dilation=p[4:6], groups=p[6])
            run(f, [x, w, b], ["x", "w", "b"], h5, name, {"params": torch.tensor(p, dtype=torch.int64).numpy()})
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
