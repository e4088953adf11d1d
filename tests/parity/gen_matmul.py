#!/usr/bin/env python3
"""PyTorch golden values for matmul / bmm / linear (forward and gradients), float32.

Writes tests/parity/golden/matmul.h5: for each case "<case>/<tensor>" datasets with the inputs,
the upstream gradient `go`, the output `out` and input gradients `g_<input>`. Matmul cases
store `layout` = [transpose_a, transpose_b] (uint8): the C++ test feeds a.t() / b.t() views."""
import os

import h5py
import torch
import torch.nn.functional as F

torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "matmul.h5")


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
        # matmul: shapes of the stored (contiguous) tensors, and whether the test transposes them.
        mm = [
            ("mm_2d", (5, 7), (7, 3), 0, 0),
            ("mm_dot", (6,), (6,), 0, 0),
            ("mm_vec_mat", (6,), (6, 4), 0, 0),
            ("mm_mat_vec", (4, 6), (6,), 0, 0),
            ("mm_batch_mat", (2, 3, 5), (5, 4), 0, 0),
            ("mm_broadcast", (2, 1, 3, 5), (3, 5, 4), 0, 0),
            ("mm_vec_batch", (5,), (3, 5, 2), 0, 0),
            ("mm_trans_a", (7, 5), (7, 3), 1, 0),
            ("mm_trans_b", (5, 7), (3, 7), 0, 1),
            ("mm_trans_both", (7, 5), (3, 7), 1, 1),
            ("mm_k64", (9, 64), (64, 11), 0, 0),
        ]
        for name, sa, sb, ta, tb in mm:
            a, b = rnd(*sa), rnd(*sb)
            f = lambda x, y, ta=ta, tb=tb: torch.matmul(x.t() if ta else x, y.t() if tb else y)
            run(f, [a, b], ["a", "b"], h5, name, {"layout": torch.tensor([ta, tb], dtype=torch.uint8).numpy()})
        run(torch.bmm, [rnd(3, 4, 5), rnd(3, 5, 2)], ["a", "b"], h5, "bmm",
            {"layout": torch.tensor([0, 0], dtype=torch.uint8).numpy()})

        lin = [
            ("linear_2d", (5, 6), (4, 6), True),
            ("linear_3d", (2, 3, 6), (4, 6), True),
            ("linear_1d", (6,), (4, 6), True),
            ("linear_nobias", (3, 6), (4, 6), False),
        ]
        for name, sx, sw, has_b in lin:
            x, w = rnd(*sx), rnd(*sw)
            b = rnd(sw[0]) if has_b else None
            run(lambda x, w, b: F.linear(x, w, b), [x, w, b], ["x", "w", "b"], h5, name)
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
