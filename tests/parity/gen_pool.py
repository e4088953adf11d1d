"""Golden values for the pool family (max/avg/adaptive pooling: values, indices, input gradients)
from PyTorch.

Writes tests/parity/golden/pool.h5: one group per case with the output `y`, the cotangent `gy`,
the input gradient `gx` and, for max pools, the int64 indices `idx`; the inputs are `pool/x` and
`mp_e/x`. Option values of each case are repeated in tests/parity/test_parity_pool.cpp.
Run with /usr/bin/python3 (Debian's python3-torch).
"""
import os

import h5py
import torch
import torch.nn.functional as F

torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "pool.h5")


def rnd(*shape, lo=-2.0, hi=2.0):
    return (torch.rand(*shape, dtype=torch.float64) * (hi - lo) + lo).float()


def put(f, name, t):
    t = t.detach()
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    f.create_dataset(name, data=t.numpy())


with h5py.File(OUT, "w") as f:
    # ---- pooling (inputs shared per group) ----
    xp = rnd(2, 3, 7, 6)
    put(f, "pool/x", xp)

    def pool_case(case, fn, x=xp, with_indices=False):
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

    pool_case("mp_a", lambda x: F.max_pool2d(x, 2, return_indices=True), with_indices=True)
    pool_case("mp_b", lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True), with_indices=True)
    pool_case("mp_c", lambda x: F.max_pool2d(x, (3, 2), (1, 2), (1, 0), dilation=2, return_indices=True), with_indices=True)
    pool_case("mp_d", lambda x: F.max_pool2d(x, 2, 1, 0, dilation=(2, 1), ceil_mode=True, return_indices=True), with_indices=True)
    x3 = rnd(3, 5, 5)
    put(f, "mp_e/x", x3)
    pool_case("mp_e", lambda x: F.max_pool2d(x, 2, 2, 1, ceil_mode=True, return_indices=True), x=x3, with_indices=True)
    pool_case("ap_a", lambda x: F.avg_pool2d(x, 2))
    pool_case("ap_b", lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=True))
    pool_case("ap_c", lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False))
    pool_case("ap_d", lambda x: F.avg_pool2d(x, (2, 3), (2, 1), (1, 1), divisor_override=4))
    pool_case("ap_e", lambda x: F.avg_pool2d(x, 3, 3, 1, ceil_mode=True, count_include_pad=False))
    pool_case("ap_f", lambda x: F.avg_pool2d(x, 2, 2, 1, ceil_mode=True, count_include_pad=True))
    pool_case("aap_a", lambda x: F.adaptive_avg_pool2d(x, (3, 4)))
    pool_case("aap_b", lambda x: F.adaptive_avg_pool2d(x, 1))
    pool_case("aap_c", lambda x: F.adaptive_avg_pool2d(x, (9, 8)))
    pool_case("amp_a", lambda x: F.adaptive_max_pool2d(x, (3, 4), return_indices=True), with_indices=True)
    pool_case("amp_b", lambda x: F.adaptive_max_pool2d(x, (5, 1), return_indices=True), with_indices=True)

print(OUT, os.path.getsize(OUT), "bytes")
