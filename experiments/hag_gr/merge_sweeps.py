#!/usr/bin/env python3
"""Merges the runs.csv of several gate-lr sweeps (e.g. a grid extended by a later call) into one
<out>/runs.csv that select_gate_lr.py reads, so the selection is made over the whole grid.

  python3 experiments/hag_gr/merge_sweeps.py runs/kvasir_sweep_all \\
      experiments/hag_gr/results/kvasir_gate_lr_sweep/runs.csv runs/kvasir_sweep_lr1/runs.csv

Columns are the union over the inputs (a column an input lacks is left empty). A (variant, seed)
present in two inputs is an error: the same run measured twice must not be averaged in silently.
"""
import argparse, csv, os, sys


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="output folder (gets runs.csv)")
    ap.add_argument("inputs", nargs="+", help="runs.csv files of the sweeps")
    args = ap.parse_args(argv)
    rows, columns, seen = [], [], {}
    for path in args.inputs:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or "variant" not in reader.fieldnames or "seed" not in reader.fieldnames:
                sys.exit(f"{path}: expected a runs.csv with 'variant' and 'seed' columns")
            for c in reader.fieldnames:
                if c not in columns:
                    columns.append(c)
            for line, r in enumerate(reader, start=2):
                key = (r["variant"], r.get("fold", ""), r["seed"])
                if key in seen:
                    sys.exit(f"{path}:{line}: run {key[0]} seed {key[2]} is also in {seen[key]}")
                seen[key] = f"{path}:{line}"
                rows.append(r)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "runs.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, restval="")
        w.writeheader()
        w.writerows(rows)
    print(f"{args.out}/runs.csv: {len(rows)} runs from {len(args.inputs)} sweeps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
