#!/usr/bin/env python3
"""Chooses the reduced-budget gate lr of each HAG + GR model from a gate-lr sweep, on VALIDATION data
only, and writes it as the overlay the suite runner applies to that model's HAG + GR variant.

  python3 experiments/hag_gr/run_suite.py --suite kvasir --gate-lrs 3e-4 3e-3 3e-2 3e-1 --seeds 10 11 \\
      --variants resnet18_rgb_hag_gr multistream_rgb_mask_hag_gr --out runs/kvasir_gate_lr_sweep
  python3 experiments/hag_gr/select_gate_lr.py runs/kvasir_gate_lr_sweep --suite kvasir --write

Rule: per model, the constant gate lr with the lowest mean (over the sweep's seeds) of the minimum
validation loss of each run (the metric the trainer selects checkpoints on). Test metrics are never
read. Writes <sweep>/selection.md (the table) and, with --write,
configs/hag/<suite>/reduced_gate_lr_<model>.yaml: the model's optimizers list from <model>_hag_gr.yaml
with the gate optimizer's (the first) lr replaced.
"""
import argparse, csv, math, os, re, sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = os.path.normpath(os.path.join(HERE, "..", "..", "configs", "hag"))


def optimizers_block(hag_gr_yaml, gate_lr):
    """The `optimizers:` list of a HAG + GR config (text), the first item's lr set to gate_lr."""
    lines = open(hag_gr_yaml).read().splitlines()
    try:
        start = lines.index("optimizers:")
    except ValueError:
        sys.exit(f"{hag_gr_yaml}: no top-level 'optimizers:' list")
    items = []
    for line in lines[start + 1:]:
        if not line.startswith("  - "):
            break
        items.append(line)
    if len(items) != 2 or '"*fsag*"' not in items[0]:
        sys.exit(f"{hag_gr_yaml}: expected two optimizers, the first over [\"*fsag*\"] (the gate optimizer)")
    items[0], n = re.subn(r"lr: [^,}]+", f"lr: {gate_lr:g}", items[0], count=1)
    if n != 1:
        sys.exit(f"{hag_gr_yaml}: the gate optimizer has no 'lr:'")
    return ["optimizers:"] + items


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sweep", help="the sweep's output folder (with runs.csv)")
    ap.add_argument("--suite", required=True, choices=["cifar10", "kvasir", "polyp"])
    ap.add_argument("--write", action="store_true", help="write configs/hag/<suite>/reduced_gate_lr_<model>.yaml")
    ap.add_argument("--note", default="", help="provenance line for the overlays (commit, machine, command)")
    args = ap.parse_args()
    runs = defaultdict(list)  # (model, lr) -> rows
    with open(os.path.join(args.sweep, "runs.csv")) as f:
        for r in csv.DictReader(f):
            m = re.fullmatch(r"(.+)_hag_gr_glr(.+)", r["variant"])
            if not m:
                sys.exit(f"{args.sweep}/runs.csv: variant '{r['variant']}' is not <model>_hag_gr_glr<lr>")
            runs[(m.group(1), float(m.group(2)))].append(r)
    models = sorted({m for m, _ in runs})
    out = ["| model | gate lr | seeds | min val loss (mean +- std) | val accuracy at it (mean) | gate shift (mean) | chosen |",
           "|---|---|---|---|---|---|---|"]
    chosen = {}
    for model in models:
        lrs = sorted(lr for m, lr in runs if m == model)

        def stats(lr, key):
            xs = [float(r[key]) for r in runs[(model, lr)] if r[key] not in ("", "nan")]
            mu = sum(xs) / len(xs) if xs else math.nan
            sd = math.sqrt(sum((x - mu) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
            return mu, sd

        best = min(lrs, key=lambda lr: stats(lr, "val_loss")[0])
        chosen[model] = best
        for lr in lrs:
            vl, vs = stats(lr, "val_loss")
            out.append(f"| {model} | {lr:g} | {len(runs[(model, lr)])} | {vl:.4f} +- {vs:.4f} | "
                       f"{stats(lr, 'val_accuracy')[0]:.4f} | {stats(lr, 'gate_shift')[0]:.4f} | {'yes' if lr == best else ''} |")
    table = "\n".join(out)
    with open(os.path.join(args.sweep, "selection.md"), "w") as f:
        f.write("# Gate lr selection (validation only)\n\nRule: per model, the constant gate lr with the lowest mean "
                "over seeds of each run's minimum validation loss.\n\n" + table + "\n")
    print(table)
    if args.write:
        for model, lr in chosen.items():
            src = os.path.join(CONFIGS, args.suite, f"{model}_hag_gr.yaml")
            dst = os.path.join(CONFIGS, args.suite, f"reduced_gate_lr_{model}.yaml")
            text = [f"# Reduced-budget gate lr of {model}_hag_gr: {lr:g}, held constant. Chosen on VALIDATION data",
                    "# only by experiments/hag_gr/select_gate_lr.py (lowest mean min-validation loss over the sweep's",
                    "# seeds; see experiments/hag_gr/README.md, 'Gate lr at reduced budgets'). Applied by the suite",
                    "# runner after the reduced-budget overlay. (The list restates the main optimizer: lists replace.)"]
            if args.note:
                text.append("# " + args.note)
            with open(dst, "w") as f:
                f.write("\n".join(text + optimizers_block(src, lr)) + "\n")
            print("wrote", dst)


if __name__ == "__main__":
    main()
