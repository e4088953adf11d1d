#!/usr/bin/env python3
"""bf16-mixed vs fp32 on the reduced CIFAR-10 ViT-T/4 (configs/amp/cifar10_vit_t4_reduced.yaml).

Runs every (precision, seed) pair as its own `tessera train` process, --jobs at a time, each with
--threads threads, then prints a table of test accuracy (mean +- sample std over seeds), final
training loss and wall time per precision, and writes it as JSON (--out/summary.json).
Run from the repository root (the config's data paths are relative to it):

  python3 experiments/amp/run_amp_experiment.py --seeds 0 1 2 --jobs 6 --threads 2 \
      [--set trainer.max_steps=600] [--tessera build/tessera] [--out runs/amp]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def last_json(path, split, key):
    """The last value of `key` in the records of `split` in a metrics.jsonl (None if absent)."""
    val = None
    if not os.path.exists(path):
        return None
    with open(path) as f:
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if rec.get("split") == split and key in rec:
                val = rec[key]
    return val


def run_one(args, precision, seed):
    out = os.path.join(args.out, f"{precision}_seed{seed}")
    cmd = [args.tessera, "train", args.config,
           "--set", f"trainer.precision={precision}", "--set", f"trainer.seed={seed}",
           "--set", f"trainer.threads={args.threads}", "--set", f"trainer.output_dir={out}",
           "--set", "trainer.progress=plain"]
    for s in args.set:
        cmd += ["--set", s]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    t0 = time.time()
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "stdout.txt"), "w") as log:
        try:
            rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            rc = "timeout"
    wall = time.time() - t0
    jsonl = os.path.join(out, "metrics.jsonl")
    return {"precision": precision, "seed": seed, "rc": rc, "wall_s": wall,
            "test_accuracy": last_json(jsonl, "test", "accuracy"),
            "train_loss": last_json(jsonl, "train", "loss")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/amp/cifar10_vit_t4_reduced.yaml")
    ap.add_argument("--tessera", default="build/tessera")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16-mixed"])
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=3600)
    ap.add_argument("--set", action="append", default=[], help="extra config override key=value")
    ap.add_argument("--out", default="runs/amp/cifar10_vit_t4")
    args = ap.parse_args()
    pairs = [(p, s) for s in args.seeds for p in args.precisions]
    with ThreadPoolExecutor(max_workers=args.jobs) as ex:
        results = list(ex.map(lambda ps: run_one(args, *ps), pairs))
    print("| precision | seeds | test accuracy (mean +- std) | per seed | final train loss | wall s (mean) |")
    print("|---|---|---|---|---|---|")
    summary = {"config": args.config, "overrides": args.set, "threads": args.threads, "jobs": args.jobs, "runs": results}
    for p in args.precisions:
        rs = [r for r in results if r["precision"] == p and r["rc"] == 0 and r["test_accuracy"] is not None]
        accs = [r["test_accuracy"] for r in rs]
        if not accs:
            print(f"| {p} | 0 | failed | | | |")
            continue
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        losses = [r["train_loss"] for r in rs if r["train_loss"] is not None]
        print(f"| {p} | {len(accs)} | {statistics.mean(accs):.4f} +- {sd:.4f} | "
              f"{', '.join(f'{a:.4f}' for a in accs)} | "
              f"{statistics.mean(losses):.4f} | {statistics.mean(r['wall_s'] for r in rs):.0f} |")
        summary[p] = {"mean": statistics.mean(accs), "std": sd, "accs": accs}
    for r in results:
        if r["rc"] != 0:
            print(f"run {r['precision']} seed {r['seed']} failed (rc {r['rc']}): see its stdout.txt", file=sys.stderr)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return 0 if all(r["rc"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
