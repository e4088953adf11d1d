#!/usr/bin/env python3
"""Checks a Tessera ResNet-18 exported with export_pytorch_h5 against torchvision.

usage: check_export_resnet.py WEIGHTS.h5 IO.h5
  WEIGHTS.h5  the exported state dict (one dataset per key) of a Tessera resnet18(num_classes=N)
  IO.h5       x (input), logits_eval and logits_train (Tessera's outputs; train mode = batch
              statistics), computed by the C++ test (tests/parity/test_parity_resnet_export.cpp)
Loads the weights into torchvision.models.resnet18(num_classes=N) with strict=True, runs the same
input in eval and train mode and compares the logits (rtol 1e-4, atol 1e-5). Also checks that the
running statistics after the train-mode pass are the ones PyTorch's BatchNorm produces from the
exported ones (i.e. that the buffers were exported, not just the parameters).
Exit status 0 on success, 1 on a mismatch (details on stdout)."""
import sys

import h5py
import torch
import torchvision


def main():
    wpath, iopath = sys.argv[1], sys.argv[2]
    with h5py.File(wpath, "r") as f:
        try:
            sd = {k: torch.from_numpy(f[k][()]) for k in f}
        except TypeError as e:
            # h5py returns 0-d datasets (num_batches_tracked) as numpy scalars through [()],
            # which torch.from_numpy rejects; [...] returns a 0-d ndarray instead.
            print(f"note: {{k: torch.from_numpy(f[k][()])}} fails on 0-d datasets ({e}); using f[k][...]")
            sd = {k: torch.from_numpy(f[k][...]) for k in f}
    with h5py.File(iopath, "r") as f:
        io = {k: torch.from_numpy(f[k][...]) for k in f}
    num_classes = sd["fc.weight"].shape[0]
    model = torchvision.models.resnet18(num_classes=num_classes)
    result = model.load_state_dict(sd, strict=True)
    print(f"loaded {len(sd)} tensors into torchvision resnet18(num_classes={num_classes}): {result}")
    ok = True
    for k, v in model.state_dict().items():
        if v.dtype != sd[k].dtype:
            print(f"dtype mismatch for {k}: torchvision {v.dtype}, exported {sd[k].dtype}")
            ok = False
    x = io["x"]
    with torch.no_grad():
        model.eval()
        eval_logits = model(x)
        model.train()
        train_logits = model(x)
    for name, got in (("logits_eval", eval_logits), ("logits_train", train_logits)):
        ref = io[name]
        err = (got - ref).abs().max().item()
        rel = err / ref.abs().max().item()
        close = torch.allclose(got, ref, rtol=1e-4, atol=1e-5)
        print(f"{name}: max abs err {err:.3g}, max rel err (vs max) {rel:.3g} -> {'ok' if close else 'MISMATCH'}")
        ok = ok and close
    nbt = model.bn1.num_batches_tracked.item()
    if nbt != int(sd["bn1.num_batches_tracked"].item()) + 1:
        print(f"num_batches_tracked after one train pass: {nbt}, exported {sd['bn1.num_batches_tracked'].item()}")
        ok = False
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
