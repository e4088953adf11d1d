#!/usr/bin/env python3
"""Plots of a Grassmann suite's run folders (from run_suite.py), with gnuplot (no matplotlib needed):
  <dir>/lm/val_ppl.png     validation perplexity vs step, mean over seeds, one line per model
  <dir>/lm/train_loss.png  training loss vs step, mean over seeds
  <dir>/glue/glue.png      best validation metric per task and head

  python3 experiments/grassmann/plot_results.py experiments/grassmann/results
"""
import collections, csv, json, os, subprocess, sys, tempfile


def curves(folder, split, key):
    out = {}
    for variant in sorted(os.listdir(folder)):
        vdir = os.path.join(folder, variant)
        if not os.path.isdir(vdir):
            continue
        acc = collections.defaultdict(list)
        for seed in os.listdir(vdir):
            path = os.path.join(vdir, seed, "metrics.jsonl")
            if not os.path.exists(path):
                continue
            for line in open(path):
                j = json.loads(line)
                if j.get("split") == split and key in j:
                    acc[j["step"]].append(j[key])
        if acc:
            out[variant] = sorted((s, sum(v) / len(v)) for s, v in acc.items())
    return out


def plot(series, png, title, ylabel, logy=False):
    with tempfile.TemporaryDirectory() as tmp:
        cmds = [f"set terminal png size 800,500", f"set output '{png}'", f"set title '{title}'",
                "set xlabel 'step'", f"set ylabel '{ylabel}'", "set key top right", "set grid"]
        if logy:
            cmds.append("set logscale y")
        plots = []
        for name, pts in series.items():
            dat = os.path.join(tmp, name + ".dat")
            with open(dat, "w") as f:
                f.writelines(f"{s} {v}\n" for s, v in pts)
            plots.append(f"'{dat}' using 1:2 with linespoints title '{name.replace('_', ' ')}'")
        cmds.append("plot " + ", ".join(plots))
        subprocess.run(["gnuplot"], input="\n".join(cmds), text=True, check=True)


def main(root):
    lm = os.path.join(root, "lm")
    if os.path.isdir(lm):
        plot(curves(lm, "val", "perplexity"), os.path.join(lm, "val_ppl.png"),
             "WikiText-2 reduced budget: validation perplexity (mean of 3 seeds)", "perplexity", logy=True)
        plot(curves(lm, "train", "loss"), os.path.join(lm, "train_loss.png"),
             "WikiText-2 reduced budget: training loss (mean of 3 seeds)", "cross-entropy")
    glue = os.path.join(root, "glue")
    if os.path.isdir(glue):
        rows = list(csv.DictReader(open(os.path.join(glue, "results.csv"))))
        with tempfile.TemporaryDirectory() as tmp:
            dat = os.path.join(tmp, "g.dat")
            tasks = list(dict.fromkeys(r["variant"].split("_")[0] for r in rows))
            with open(dat, "w") as f:
                for t in tasks:
                    val = {r["variant"].split("_", 1)[1]: float(r["mean"]) for r in rows if r["variant"].startswith(t + "_")}
                    metric = next(r["metric"] for r in rows if r["variant"].startswith(t + "_"))
                    f.write(f"\"{t} ({metric})\" {val.get('grassmann', 0)} {val.get('transformer', 0)}\n")
            cmds = ["set terminal png size 700,450", f"set output '{os.path.join(glue, 'glue.png')}'",
                    "set title 'GLUE from scratch, reduced budget: best validation metric'", "set style data histogram",
                    "set style histogram clustered gap 1", "set style fill solid 0.8", "set yrange [0:1]", "set grid y",
                    f"plot '{dat}' using 2:xtic(1) title 'Grassmann-Pluecker head', '' using 3 title 'Transformer head'"]
            subprocess.run(["gnuplot"], input="\n".join(cmds), text=True, check=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
