#!/usr/bin/env python3
"""Golden values for the CNN layers (Conv2d, BatchNorm1d/2d, GroupNorm, pooling, timm's SEModule)
and torchvision's ResNet family.

Writes (float32 throughout):
  golden/resnet.h5
    layer/<case>/...      module state dict ("sd/<key>"), input x, cotangent cot, output y,
                          gradients of x ("gx") and of every parameter ("grad/<name>"), buffers
                          after the step ("after/<key>"), eval-mode output ("y_eval") where used
    repr/<name>           the module's PyTorch printout (uint8 bytes)
    r18/...               CIFAR-stem ResNet-18 (torchvision BasicBlock/_make_layer, width 4,
                          10 classes): input x, target, train/eval logits, loss, every parameter
                          gradient, buffers after the train step, and 10 steps of SGD-momentum,
                          Adam and AdamW (losses, final parameters and buffers)
    keys/<arch>           "key shape" lines of torchvision's full-size resnet18/34/50 state dicts,
                          keys/<arch>_params their parameter count, repr/resnet18_cifar the printout
                          of the full-width CIFAR ResNet-18
  golden/resnet50.h5
    r50/...               ResNet-50-style Bottleneck net ([3, 4, 6, 3], width 4, standard 7x7 stem
                          and max-pool) at 2x3x64x64: weights, train-mode logits, loss and every
                          parameter gradient in float32 and (same weights) float64, eval logits
  golden/resnet18_cifar_weights.h5
                          the r18 initial state dict in the PyTorch-export layout (one dataset per
                          state_dict key at the root), read through import_pytorch_h5.
Regenerate with: python3 tests/parity/gen_resnet.py"""
import math
import os

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

torch.manual_seed(0)
torch.set_num_threads(1)
here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "golden", "resnet.h5")
wout = os.path.join(here, "golden", "resnet18_cifar_weights.h5")
out50 = os.path.join(here, "golden", "resnet50.h5")
f = h5py.File(out + ".tmp", "w")


def put(name, t):
    if isinstance(t, torch.Tensor):
        t = t.detach()
        if t.dtype == torch.bool:
            t = t.to(torch.uint8)
        t = t.numpy()
    f.create_dataset(name, data=t)


def put_str(name, s):
    f.create_dataset(name, data=np.frombuffer(s.encode(), dtype=np.uint8))


# ---------------------------------------------------------------- layers
def layer_case(name, m, x, train=True, eval_after=False, steps=1):
    """Stores m's state dict, x, a cotangent, y, grads; `steps` forward passes in train mode."""
    for k, v in m.state_dict().items():
        put(f"layer/{name}/sd/{k}", v)
    m.train(train)
    x = x.clone().requires_grad_(True)
    put(f"layer/{name}/x", x)
    for _ in range(steps - 1):
        with torch.no_grad():
            m(x)
    y = m(x)
    cot = torch.randn_like(y)
    put(f"layer/{name}/cot", cot)
    put(f"layer/{name}/y", y)
    (y * cot).sum().backward()
    put(f"layer/{name}/gx", x.grad)
    for k, p in m.named_parameters():
        put(f"layer/{name}/grad/{k}", p.grad)
    for k, v in m.state_dict().items():
        put(f"layer/{name}/after/{k}", v)
    if eval_after:
        m.eval()
        with torch.no_grad():
            put(f"layer/{name}/y_eval", m(x))
    put_str(f"repr/{name}", repr(m))


def randomize(m):
    """Non-trivial affine parameters and running statistics for every norm layer."""
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm)):
                if mod.weight is not None:
                    mod.weight.uniform_(0.5, 1.5)
                    mod.bias.uniform_(-0.5, 0.5)
                if getattr(mod, "running_mean", None) is not None:
                    mod.running_mean.uniform_(-0.5, 0.5)
                    mod.running_var.uniform_(0.5, 2.0)
    return m


layer_case("conv_basic", nn.Conv2d(4, 6, 3, stride=2, padding=1), torch.randn(2, 4, 7, 7))
layer_case("conv_groups", nn.Conv2d(4, 6, 3, dilation=2, groups=2, bias=False), torch.randn(2, 4, 8, 8))
layer_case("conv_rect", nn.Conv2d(3, 5, (3, 1), stride=(1, 2), padding=(1, 0)), torch.randn(2, 3, 6, 7))
layer_case("conv_reflect", nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"), torch.randn(1, 2, 5, 6))
layer_case("conv_1x1", nn.Conv2d(8, 4, 1, stride=2, bias=False), torch.randn(3, 8, 5, 5))
layer_case("bn2d", randomize(nn.BatchNorm2d(4)), torch.randn(3, 4, 5, 5) * 2 + 1, eval_after=True)
layer_case("bn2d_cma", nn.BatchNorm2d(3, momentum=None, eps=1e-3), torch.randn(2, 3, 4, 4), eval_after=True,
           steps=3)
layer_case("bn2d_noaffine", nn.BatchNorm2d(3, affine=False, momentum=0.3), torch.randn(2, 3, 4, 4),
           eval_after=True)
layer_case("bn2d_nostats", nn.BatchNorm2d(3, track_running_stats=False), torch.randn(2, 3, 4, 4), train=False)
layer_case("bn2d_eval", randomize(nn.BatchNorm2d(4)), torch.randn(2, 4, 3, 3), train=False)
layer_case("bn1d", randomize(nn.BatchNorm1d(5)), torch.randn(6, 5), eval_after=True)
layer_case("bn1d_3d", randomize(nn.BatchNorm1d(5)), torch.randn(4, 5, 3), eval_after=True)
layer_case("groupnorm", randomize(nn.GroupNorm(2, 6)), torch.randn(2, 6, 4, 4))
layer_case("groupnorm_noaffine", nn.GroupNorm(3, 6, eps=1e-3, affine=False), torch.randn(2, 6, 3, 2))
layer_case("maxpool", nn.MaxPool2d(3, stride=2, padding=1), torch.randn(2, 3, 9, 9))
layer_case("maxpool_ceil", nn.MaxPool2d((2, 3), stride=(2, 1), dilation=(1, 2), ceil_mode=True),
           torch.randn(1, 2, 7, 8))
layer_case("avgpool", nn.AvgPool2d(2), torch.randn(2, 3, 6, 6))
layer_case("avgpool_pad", nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), torch.randn(1, 2, 7, 7))
layer_case("adaptive", nn.AdaptiveAvgPool2d((1, 1)), torch.randn(2, 3, 5, 7))
layer_case("adaptive_23", nn.AdaptiveAvgPool2d((2, 3)), torch.randn(2, 3, 5, 7))


# timm.layers.squeeze_excite.SEModule, written out here (timm is not installed).
def make_divisible(v, divisor=8, min_value=None, round_limit=.9):
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < round_limit * v:
        new_v += divisor
    return new_v


class SEModule(nn.Module):
    def __init__(self, channels, rd_ratio=1. / 16, rd_channels=None, rd_divisor=8, add_maxpool=False, bias=True,
                 act_layer=nn.ReLU, norm_layer=None, gate_layer=nn.Sigmoid):
        super().__init__()
        self.add_maxpool = add_maxpool
        if not rd_channels:
            rd_channels = make_divisible(channels * rd_ratio, rd_divisor, round_limit=0.)
        self.fc1 = nn.Conv2d(channels, rd_channels, kernel_size=1, bias=bias)
        self.bn = norm_layer(rd_channels) if norm_layer else nn.Identity()
        self.act = act_layer()
        self.fc2 = nn.Conv2d(rd_channels, channels, kernel_size=1, bias=bias)
        self.gate = gate_layer()

    def forward(self, x):
        x_se = x.mean((2, 3), keepdim=True)
        if self.add_maxpool:
            x_se = 0.5 * x_se + 0.5 * x.amax((2, 3), keepdim=True)
        x_se = self.fc1(x_se)
        x_se = self.act(self.bn(x_se))
        x_se = self.fc2(x_se)
        return x * self.gate(x_se)


layer_case("se", SEModule(16), torch.randn(2, 16, 5, 5))
layer_case("se_opts", randomize(SEModule(12, rd_ratio=0.25, rd_divisor=1, add_maxpool=True, norm_layer=nn.BatchNorm2d,
                                         act_layer=nn.SiLU)), torch.randn(3, 12, 4, 4))


# ---------------------------------------------------------------- ResNets
def torchvision_init(model, zero_init_residual=False):
    # The init loop of torchvision.models.resnet.ResNet.__init__.
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
    if zero_init_residual:
        for m in model.modules():
            if isinstance(m, Bottleneck):
                nn.init.constant_(m.bn3.weight, 0)
            elif isinstance(m, BasicBlock):
                nn.init.constant_(m.bn2.weight, 0)


def narrow_resnet(block, layers, width, num_classes, cifar):
    """torchvision's ResNet with stage widths width * (1, 2, 4, 8): the layers are rebuilt with
    torchvision's own _make_layer (attribute order, hence state_dict order, is unchanged)."""
    m = ResNet(block, layers, num_classes=num_classes)
    m.inplanes = width
    if cifar:
        m.conv1 = nn.Conv2d(3, width, kernel_size=3, stride=1, padding=1, bias=False)
        m.maxpool = nn.Identity()
    else:
        m.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
    m.bn1 = nn.BatchNorm2d(width)
    m.layer1 = m._make_layer(block, width, layers[0])
    m.layer2 = m._make_layer(block, width * 2, layers[1], stride=2)
    m.layer3 = m._make_layer(block, width * 4, layers[2], stride=2)
    m.layer4 = m._make_layer(block, width * 8, layers[3], stride=2)
    m.fc = nn.Linear(width * 8 * block.expansion, num_classes)
    torchvision_init(m)
    return m


def grads_of(prefix, model):
    for k, p in model.named_parameters():
        put(f"{prefix}/{k}", p.grad)


# CIFAR ResNet-18, width 4.
r18 = randomize(narrow_resnet(BasicBlock, [2, 2, 2, 2], 4, 10, cifar=True))
init_sd = {k: v.clone() for k, v in r18.state_dict().items()}
with h5py.File(wout + ".tmp", "w") as wf:
    for k, v in init_sd.items():
        wf.create_dataset(k, data=v.numpy())
x = torch.randn(4, 3, 32, 32)
target = torch.tensor([3, 7, 0, 9], dtype=torch.int64)
put("r18/x", x)
put("r18/target", target)
for mode in ("train", "eval"):
    r18.load_state_dict(init_sd)
    r18.zero_grad()
    r18.train(mode == "train")
    logits = r18(x)
    loss = F.cross_entropy(logits, target)
    loss.backward()
    put(f"r18/{mode}/logits", logits)
    put(f"r18/{mode}/loss", loss)
    grads_of(f"r18/{mode}/grad", r18)
    if mode == "train":
        for k, v in r18.named_buffers():
            put(f"r18/train/after/{k}", v)

optimizers = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=5e-4),
    "adam": lambda p: torch.optim.Adam(p, lr=1e-3),
    "adamw": lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=0.05),
}
for name, make in optimizers.items():
    r18.load_state_dict(init_sd)
    r18.train()
    opt = make(r18.parameters())
    losses = []
    for step in range(10):
        opt.zero_grad()
        loss = F.cross_entropy(r18(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    put(f"r18/opt/{name}/losses", torch.tensor(losses, dtype=torch.float64))
    for k, v in r18.state_dict().items():
        put(f"r18/opt/{name}/final/{k}", v)

# ResNet-50-style Bottleneck net, width 4, standard stem: its own file (golden/resnet50.h5).
f.close()
f = f50 = h5py.File(out50 + ".tmp", "w")
r50 = randomize(narrow_resnet(Bottleneck, [3, 4, 6, 3], 4, 10, cifar=False))
r50_init = {k: v.clone() for k, v in r50.state_dict().items()}
for k, v in r50_init.items():
    put(f"r50/init/{k}", v)
x50 = torch.randn(2, 3, 64, 64)
t50 = torch.tensor([1, 8], dtype=torch.int64)
put("r50/x", x50)
put("r50/target", t50)
for dtype, tag in ((torch.float32, "train"), (torch.float64, "train64")):
    # float64 run on the same (float32-valued) weights and input: tells rounding from real error.
    r50.load_state_dict(r50_init)
    r50.to(dtype)
    r50.zero_grad()
    r50.train()
    logits = r50(x50.to(dtype))
    loss = F.cross_entropy(logits, t50)
    loss.backward()
    put(f"r50/{tag}/logits", logits)
    put(f"r50/{tag}/loss", loss)
    grads_of(f"r50/{tag}/grad", r50)
r50.float()
r50.load_state_dict(r50_init)
r50.eval()
with torch.no_grad():
    put("r50/eval/logits", r50(x50))
f50.close()
f = h5py.File(out + ".tmp", "a")

# Full-size presets: key names, shapes, parameter counts; printout of the full-width CIFAR model.
for arch in ("resnet18", "resnet34", "resnet50"):
    m = getattr(torchvision.models, arch)()
    lines = [f"{k} {list(v.shape)}" for k, v in m.state_dict().items()]
    put_str(f"keys/{arch}", "\n".join(lines))
    put(f"keys/{arch}_params", torch.tensor(sum(p.numel() for p in m.parameters()), dtype=torch.int64))
cifar18 = torchvision.models.resnet18(num_classes=10)
cifar18.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
cifar18.maxpool = nn.Identity()
put_str("repr/resnet18_cifar", repr(cifar18))
put_str("repr/resnet50", repr(torchvision.models.resnet50()))

f.close()
os.replace(out + ".tmp", out)
os.replace(wout + ".tmp", wout)
os.replace(out50 + ".tmp", out50)
for p in (out, wout, out50):
    print("wrote", p, os.path.getsize(p), "bytes")
