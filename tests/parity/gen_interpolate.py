"""Golden values for interpolate (nearest, bilinear, bicubic, nearest-exact, area) from PyTorch.

Writes tests/parity/golden/interpolate.h5: one group per case with the output `y`, the cotangent
`gy` and the input gradient `gx`; the input is `interp/x`. Option values of each case are repeated
in tests/parity/test_parity_interpolate.cpp. Run with /usr/bin/python3 (Debian's python3-torch).
"""
import os

import h5py
import torch
import torch.nn.functional as F

torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "interpolate.h5")


def rnd(*shape, lo=-2.0, hi=2.0):
    return (torch.rand(*shape, dtype=torch.float64) * (hi - lo) + lo).float()


def put(f, name, t):
    t = t.detach()
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    f.create_dataset(name, data=t.numpy())


with h5py.File(OUT, "w") as f:
    def interp_case(case, fn, x, with_indices=False):
        xl = x.clone().requires_grad_(True)
        out = fn(xl)
        y, idx = (out if with_indices else (out, None))
        gy = rnd(*y.shape)
        y.backward(gy)
        put(f, f"{case}/y", y)
        put(f, f"{case}/gy", gy)
        put(f, f"{case}/gx", xl.grad)
        if idx is not None:
            put(f, f"{case}/idx", idx)

    # ---- interpolate ----
    xi = rnd(2, 3, 4, 6)
    put(f, "interp/x", xi)
    I = lambda case, **kw: interp_case(case, lambda x: F.interpolate(x, **kw), x=xi)
    I("near_a", size=(5, 9))
    I("near_b", scale_factor=2.0)
    I("near_c", scale_factor=1.5)
    I("near_d", scale_factor=(0.5, 0.7))
    I("near_e", size=(3, 3))
    I("near_f", size=(4, 13))
    I("bil_a", size=(5, 9), mode="bilinear", align_corners=False)
    I("bil_b", size=(5, 9), mode="bilinear", align_corners=True)
    I("bil_c", scale_factor=1.7, mode="bilinear", align_corners=False)
    I("bil_d", scale_factor=(0.6, 2.3), mode="bilinear", align_corners=True)
    I("bil_e", size=(2, 3), mode="bilinear", align_corners=False)
    I("bil_f", scale_factor=1.7, mode="bilinear", align_corners=False, recompute_scale_factor=True)
    I("bil_g", size=(1, 1), mode="bilinear", align_corners=True)
    I("bic_a", size=(5, 9), mode="bicubic", align_corners=False)
    I("bic_b", size=(5, 9), mode="bicubic", align_corners=True)
    I("bic_c", scale_factor=1.7, mode="bicubic", align_corners=False)
    I("bic_d", size=(3, 4), mode="bicubic", align_corners=False)
    I("bic_e", scale_factor=(0.6, 2.3), mode="bicubic", align_corners=True)
    I("nex_a", size=(5, 9), mode="nearest-exact")
    I("nex_b", scale_factor=(0.7, 1.3), mode="nearest-exact")
    I("area_a", size=(3, 4), mode="area")
    I("area_b", size=(5, 9), mode="area")
    I("area_c", size=(2, 3), mode="area")

print(OUT, os.path.getsize(OUT), "bytes")
