#!/usr/bin/env python3
"""Golden values for optimizers and LR schedulers: 10 steps of each optimizer/scheduler pair on a
fixed objective with two parameter groups (the second without weight decay).
Regenerate with: python3 tests/parity/gen_optim.py"""
import math
import os
import h5py
import torch

torch.manual_seed(0)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "optim.h5")
f = h5py.File(out + ".tmp", "w")
w0 = torch.randn(4, 3)
w1 = torch.randn(5)
c0 = torch.randn(4, 3)
c1 = torch.randn(5)
for k, v in {"w0": w0, "w1": w1, "c0": c0, "c1": c1}.items():
    f.create_dataset("in/" + k, data=v.numpy())


def loss_fn(p0, p1):
    # Same expression is built in the C++ test.
    return (p0 * c0).sum() + 0.5 * (p0 * p0).sum() + (torch.tanh(p1) * c1).sum()


def make_opt(name, groups):
    if name == "sgd":
        return torch.optim.SGD(groups, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)
    if name == "sgd_nesterov":
        return torch.optim.SGD(groups, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
    if name == "sgd_plain":
        return torch.optim.SGD(groups, lr=0.1)
    if name == "adam":
        return torch.optim.Adam(groups, lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01)
    if name == "adam_amsgrad":
        return torch.optim.Adam(groups, lr=0.05, weight_decay=0.01, amsgrad=True)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=0.05, weight_decay=0.05)
    raise ValueError(name)


def make_sched(name, opt):
    S = torch.optim.lr_scheduler
    if name == "none":
        return None
    if name == "step":
        return S.StepLR(opt, step_size=3, gamma=0.5)
    if name == "multistep":
        return S.MultiStepLR(opt, milestones=[2, 5, 8], gamma=0.3)
    if name == "exponential":
        return S.ExponentialLR(opt, gamma=0.9)
    if name == "cosine":
        return S.CosineAnnealingLR(opt, T_max=7, eta_min=0.001)
    if name == "warm_restarts":
        return S.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2, eta_min=0.001)
    if name == "warmup_cosine":
        return S.SequentialLR(opt, [S.LinearLR(opt, start_factor=0.25, total_iters=3),
                                    S.CosineAnnealingLR(opt, T_max=7, eta_min=0.0)], milestones=[3])
    if name == "onecycle":
        return S.OneCycleLR(opt, max_lr=0.2, total_steps=10)
    if name == "plateau":
        return S.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=1, threshold=0.1, cooldown=1)
    raise ValueError(name)


cases = [("sgd", "none"), ("sgd_nesterov", "step"), ("sgd_plain", "multistep"), ("adam", "exponential"),
         ("adam_amsgrad", "cosine"), ("adamw", "warm_restarts"), ("adamw", "warmup_cosine"),
         ("sgd", "onecycle"), ("adam", "onecycle"), ("adamw", "plateau")]
iters_per_epoch = 3  # warm restarts step with fractional epochs, per iteration
for opt_name, sched_name in cases:
    p0 = w0.clone().requires_grad_()
    p1 = w1.clone().requires_grad_()
    opt = make_opt(opt_name, [{"params": [p0]}, {"params": [p1], "weight_decay": 0.0}])
    sched = make_sched(sched_name, opt)
    lrs, losses = [], []
    for step in range(10):
        opt.zero_grad()
        loss = loss_fn(p0, p1)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if sched_name == "warm_restarts":
            sched.step((step + 1) / iters_per_epoch)
        elif sched_name == "plateau":
            sched.step([5.0, 4.0, 4.0, 4.0, 4.0, 3.0, 3.0, 3.0, 3.0, 3.0][step])
        elif sched is not None:
            sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    key = opt_name + "/" + sched_name
    f.create_dataset(key + "/w0", data=p0.detach().numpy())
    f.create_dataset(key + "/w1", data=p1.detach().numpy())
    f.create_dataset(key + "/lrs", data=torch.tensor(lrs, dtype=torch.float64).numpy())
    f.create_dataset(key + "/losses", data=torch.tensor(losses, dtype=torch.float64).numpy())
f.close()
os.replace(out + ".tmp", out)
print("wrote", out)
