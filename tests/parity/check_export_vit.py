#!/usr/bin/env python3
"""Loads a Tessera ViT exported with export_pytorch_h5 into the timm-named torch reference of
gen_vit.py with load_state_dict(strict=True) and compares its logits with Tessera's.

usage: check_export_vit.py WEIGHTS.h5 IO.h5 [--img N --patch N --chans N --classes N --dim N
                           --depth N --heads N --pool token|avg --class-token 0|1 --init-values X]
IO.h5 holds datasets "input" [B, C, H, W] and "logits" [B, classes] written by the C++ test.
Exit status: 0 match, 1 mismatch or load error, 2 bad usage."""
import argparse
import os
import sys

import h5py
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_vit import VisionTransformer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights")
    ap.add_argument("io")
    ap.add_argument("--img", type=int, default=32)
    ap.add_argument("--patch", type=int, default=8)
    ap.add_argument("--chans", type=int, default=3)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--dim", type=int, default=48)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--heads", type=int, default=3)
    ap.add_argument("--pool", default="token")
    ap.add_argument("--class-token", type=int, default=1)
    ap.add_argument("--init-values", type=float, default=None)
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--atol", type=float, default=1e-5)
    a = ap.parse_args()
    model = VisionTransformer(img_size=a.img, patch_size=a.patch, in_chans=a.chans, num_classes=a.classes,
                              global_pool=a.pool, embed_dim=a.dim, depth=a.depth, num_heads=a.heads,
                              init_values=a.init_values, class_token=bool(a.class_token))
    with h5py.File(a.weights, "r") as f:
        sd = {k: torch.from_numpy(f[k][()]) for k in f.keys()}
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        print("check_export_vit: strict load failed:", e)
        return 1
    with h5py.File(a.io, "r") as f:
        x = torch.from_numpy(f["input"][()])
        want = torch.from_numpy(f["logits"][()])
    model.eval()
    with torch.no_grad():
        got = model(x)
    diff = (got - want).abs().max().item()
    rel = diff / max(want.abs().max().item(), 1e-30)
    ok = got.shape == want.shape and torch.allclose(want, got, rtol=a.rtol, atol=a.atol)
    print(f"check_export_vit: {len(sd)} keys loaded strictly; logits {tuple(got.shape)} max abs err {diff:.3g}, "
          f"max rel err {rel:.3g}: {'OK' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
