#!/usr/bin/env python3
"""Gate values over training for one run: the mean gate value sigmoid(w) of every gate (top panel)
and its spread, the std over channels (bottom panel), from the gate_mean/<gate> and gate_std/<gate>
records the trainer writes to metrics.jsonl (split "init" at step 0, then every train record).

  python3 experiments/hag_gr/plot_gates.py runs/hag_kvasir_reduced/resnet18_rgb_hag_gr/seed0 out.png [--title T]

Also writes out.csv (step, then mean and std per gate) next to the PNG. Drawn with gnuplot.
"""
import argparse, csv, json, os, shutil, subprocess, sys


def read_gates(metrics_path):
    steps, rows, gates = [], [], []
    with open(metrics_path) as f:
        for line in f:
            j = json.loads(line)
            if j.get("split") not in ("init", "train") or not any(k.startswith("gate_mean/") for k in j):
                continue
            if not gates:
                gates = [k[len("gate_mean/"):] for k in j if k.startswith("gate_mean/")]
            steps.append(j["step"])
            rows.append([(j["gate_mean/" + g], j["gate_std/" + g]) for g in gates])
    if not gates:
        raise SystemExit(f"{metrics_path}: no gate values logged (a model without gates, or an older trainer)")
    return gates, steps, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("png")
    ap.add_argument("--title", default=None)
    args = ap.parse_args()
    gates, steps, rows = read_gates(os.path.join(args.run_dir, "metrics.jsonl"))
    base = os.path.splitext(args.png)[0]
    with open(base + ".csv", "w", newline="") as f:
        w = csv.writer(f)
        f.write("# step," + ",".join(f"{s}_{g}" for g in gates for s in ("mean", "std")) + "\n")  # '#': gnuplot skips it
        for st, r in zip(steps, rows):
            w.writerow([st] + [f"{v:.6f}" for ms in r for v in ms])
    if not shutil.which("gnuplot"):
        sys.exit("gnuplot not found: wrote only " + base + ".csv")
    short = [g[:-len(".fsag")] if g.endswith(".fsag") else g for g in gates]
    means = ", ".join(f"'{base}.csv' using 1:{2 + 2 * i} with linespoints lw 2 pt 7 ps 0.4 lc {i % 8 + 1} dt {i // 8 + 1} title '{g}'"
                      for i, g in enumerate(short))
    stds = ", ".join(f"'{base}.csv' using 1:{3 + 2 * i} with linespoints lw 2 pt 7 ps 0.4 lc {i % 8 + 1} dt {i // 8 + 1} notitle"
                     for i, g in enumerate(short))
    title = args.title or os.path.normpath(args.run_dir)
    script = f"""set terminal pngcairo size 1000,760
set output '{args.png}'
set termoption noenhanced
set datafile separator ','
set grid
set rmargin at screen 0.7
set multiplot layout 2,1 title '{title}'
set key outside right top
set ylabel 'mean gate value'
plot {means}
set xlabel 'step'
set ylabel 'spread (std over channels)'
unset key
plot {stds}
unset multiplot
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    print(f"wrote {args.png} and {base}.csv")


if __name__ == "__main__":
    main()
