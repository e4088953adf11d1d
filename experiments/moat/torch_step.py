#!/usr/bin/env python3
"""PyTorch counterpart of `tessera bench tiny_moat0 tiny_moat0_224`: one training step (forward,
cross-entropy, backward, AdamW step, zero_grad) of the reference tiny-MOAT-0 of
tests/parity/gen_moat.py (written from the paper facts; same layers as Tessera's), float32, batch 64,
median of --iters timed steps after --warmup, at the given thread count. With --profile, also the
share of the step spent in each op family (torch.profiler self CPU time, grouped).

  /usr/bin/python3 experiments/moat/torch_step.py --threads 2 [--profile]
"""
import argparse, os, statistics, sys, time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "parity"))
import gen_moat  # noqa: E402

GROUPS = [  # (family, substrings of aten op names)
    ("depthwise conv", ["depthwise", "thnn_conv_depthwise", "_conv_depthwise2d"]),
    ("conv (1x1, stem)", ["convolution", "mkldnn_convolution", "conv2d", "thnn_conv2d", "slow_conv"]),
    ("batch norm", ["batch_norm"]),
    ("attention (bmm, softmax, bias gather/resize)", ["bmm", "softmax", "_softmax", "upsample_bilinear", "index"]),
    ("linear (qkv, proj, head)", ["addmm", "mm", "linear"]),
    ("gelu / silu / sigmoid", ["gelu", "silu", "sigmoid"]),
    ("layer norm", ["layer_norm"]),
    ("optimizer", ["_foreach", "adamw", "lerp", "addcdiv", "addcmul", "sqrt"]),
]


def model_and_batch(name, batch):
    cifar = name == "tiny_moat0"
    m = gen_moat.Moat(stem_stride=1 if cifar else 2, num_classes=10 if cifar else 1000).train()
    px = 32 if cifar else 224
    x = torch.randn(batch, 3, px, px)
    y = torch.randint(0, 10 if cifar else 1000, (batch,))
    return m, x, y


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=["tiny_moat0", "tiny_moat0_224"])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name in args.models:
        m, x, y = model_and_batch(name, args.batch)
        opt = torch.optim.AdamW(m.parameters(), lr=1e-3)

        def step():
            F.cross_entropy(m(x), y).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        for _ in range(args.warmup):
            step()
        ts = []
        for _ in range(args.iters):
            t0 = time.perf_counter()
            step()
            ts.append(time.perf_counter() - t0)
        params = sum(p.numel() for p in m.parameters())
        print(f"torch {name} batch={args.batch} step_ms={statistics.median(ts) * 1e3:.1f} min_ms={min(ts) * 1e3:.1f} "
              f"params={params / 1e6:.2f}M")
        if args.profile:
            from torch.profiler import profile, ProfilerActivity
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                step()
            totals, total = {}, 0.0
            for e in prof.key_averages():
                if not e.key.startswith("aten::"):
                    continue
                t = e.self_cpu_time_total
                total += t
                op = e.key[len("aten::"):]
                fam = next((g for g, subs in GROUPS if any(s == op or s in op for s in subs)), "other")
                totals[fam] = totals.get(fam, 0.0) + t
            for fam, t in sorted(totals.items(), key=lambda kv: -kv[1]):
                print(f"  {fam:48s} {t / 1e3:9.1f} ms  {100 * t / total:5.1f}%")


if __name__ == "__main__":
    main()
