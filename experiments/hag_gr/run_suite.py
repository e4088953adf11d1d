#!/usr/bin/env python3
"""HAG / gradient-routing suite runner: trains every variant of a suite over several seeds with the
`tessera` CLI and writes results.csv, results.md (mean +- std per metric) and plots (gnuplot PNGs).

  python3 experiments/hag_gr/run_suite.py --suite cifar10 --budget reduced --seeds 0 1 2
  python3 experiments/hag_gr/run_suite.py --suite kvasir --budget full --out runs/hag_kvasir_full

Run it from a directory where ../shared/data/ holds the datasets (the configs use that relative
path), e.g. the repository root of the main checkout. Extra --set overrides go to every run.
"""
import argparse, csv, json, math, os, shutil, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = os.path.normpath(os.path.join(HERE, "..", "..", "configs", "hag"))

SUITES = {
    # variant name -> (config file, reduced-budget overlay)
    "cifar10": {f"{m}_{v}": (f"cifar10/{m}_{v}.yaml", f"cifar10/reduced_{m}.yaml")
                for m in ("resnet18", "vit_t4") for v in ("baseline", "hag", "hag_gr")},
    "kvasir": {f"{m}_{v}": (f"kvasir/{m}_{v}.yaml", "kvasir/reduced.yaml" if m == "resnet18_rgb" else "kvasir/reduced_multistream.yaml")
               for m in ("resnet18_rgb", "multistream_rgb_mask") for v in ("baseline", "hag", "hag_gr")},
}
ABLATIONS = {"cifar10": {f"{m}_frozen": (f"cifar10/{m}_frozen.yaml", f"cifar10/reduced_{m}.yaml") for m in ("resnet18", "vit_t4")}}
METRICS = ["accuracy", "f1_weighted", "f1_macro", "precision_weighted", "recall_weighted", "loss"]


def last_test_metrics(run_dir):
    test = None
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        for line in f:
            j = json.loads(line)
            if j.get("split") == "test":
                test = j
    if test is None:
        raise RuntimeError(f"{run_dir}: no test metrics in metrics.jsonl")
    return test


def mean_std(xs):
    m = sum(xs) / len(xs)
    s = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, s


def plot(rows, out_dir):
    if not shutil.which("gnuplot"):
        print("gnuplot not found: no plots", file=sys.stderr)
        return []
    files = []
    for metric in ("accuracy", "f1_weighted"):
        dat = os.path.join(out_dir, f"{metric}.dat")
        with open(dat, "w") as f:
            for i, r in enumerate(rows):
                f.write(f'{i} "{r["variant"]}" {r[metric + "_mean"]} {r[metric + "_std"]}\n')
        png = os.path.join(out_dir, f"{metric}.png")
        script = f"""set terminal pngcairo size 900,500
set output '{png}'
set title 'test {metric} (mean +- std over seeds)'
set style fill solid 0.6
set boxwidth 0.6
set yrange [0:1]
set xtics rotate by -30
set grid ytics
plot '{dat}' using 1:3:xtic(2) with boxes notitle, '' using 1:3:4 with yerrorbars lc rgb 'black' notitle
"""
        try:
            subprocess.run(["gnuplot"], input=script, text=True, check=True)
            files.append(png)
        except subprocess.CalledProcessError:
            script = script.replace("pngcairo", "png")
            subprocess.run(["gnuplot"], input=script, text=True, check=True)
            files.append(png)
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", choices=sorted(SUITES), required=True)
    ap.add_argument("--budget", choices=["reduced", "full"], default="reduced")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--variants", nargs="*", help="subset of variant names (default: all)")
    ap.add_argument("--ablations", action="store_true", help="also run the frozen-gate ablations")
    ap.add_argument("--tessera", default=os.path.normpath(os.path.join(HERE, "..", "..", "build", "tessera")))
    ap.add_argument("--out", default=None, help="output folder (default runs/hag_<suite>_<budget>)")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="extra key=value override for every run")
    args = ap.parse_args()

    variants = dict(SUITES[args.suite])
    if args.ablations:
        variants.update(ABLATIONS.get(args.suite, {}))
    if args.variants:
        unknown = [v for v in args.variants if v not in variants]
        if unknown:
            ap.error(f"unknown variants {unknown}; known: {sorted(variants)}")
        variants = {k: variants[k] for k in args.variants}
    out = os.path.abspath(args.out or f"runs/hag_{args.suite}_{args.budget}")
    os.makedirs(out, exist_ok=True)

    per_run = []
    for name, (cfg, reduced) in variants.items():
        for seed in args.seeds:
            run_dir = os.path.join(out, name, f"seed{seed}")
            os.makedirs(run_dir, exist_ok=True)
            bases = [os.path.join(CONFIGS, cfg)] + ([os.path.join(CONFIGS, reduced)] if args.budget == "reduced" else [])
            wrapper = os.path.join(run_dir, "suite_config.yaml")
            with open(wrapper, "w") as f:
                f.write("base: [" + ", ".join(bases) + "]\n")
            cmd = [args.tessera, "train", wrapper, "--progress", "plain",
                   "--set", f"trainer.seed={seed}", "--set", f"trainer.output_dir={run_dir}"]
            for s in args.sets:
                cmd += ["--set", s]
            print(f"[{name} seed {seed}] {' '.join(cmd)}", flush=True)
            t0 = time.time()
            with open(os.path.join(run_dir, "stdout.txt"), "w") as log:
                rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
            if rc != 0:
                print(f"  failed (exit {rc}); see {run_dir}/stdout.txt", file=sys.stderr)
                continue
            m = last_test_metrics(run_dir)
            m.update(variant=name, seed=seed, seconds=round(time.time() - t0, 1))
            per_run.append(m)
            print(f"  test accuracy {m.get('accuracy', float('nan')):.4f}  f1_weighted {m.get('f1_weighted', float('nan')):.4f}  ({m['seconds']} s)", flush=True)

    with open(os.path.join(out, "runs.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["variant", "seed", "seconds"] + METRICS)
        for m in per_run:
            w.writerow([m["variant"], m["seed"], m["seconds"]] + [m.get(k, "") for k in METRICS])
    rows = []
    for name in variants:
        runs = [m for m in per_run if m["variant"] == name]
        if not runs:
            continue
        r = {"variant": name, "n": len(runs)}
        for k in METRICS:
            r[k + "_mean"], r[k + "_std"] = mean_std([float(x[k]) for x in runs if x.get(k) is not None])
        rows.append(r)
    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["variant", "n"] + [f"{k}_{s}" for k in METRICS for s in ("mean", "std")])
        for r in rows:
            w.writerow([r["variant"], r["n"]] + [f'{r[f"{k}_{s}"]:.6f}' for k in METRICS for s in ("mean", "std")])
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(f"# HAG / GR suite `{args.suite}` ({args.budget} budget), seeds {args.seeds}\n\n")
        f.write("Test metrics of the checkpoint with minimum validation loss; mean +- std over seeds.\n\n")
        f.write("| variant | n | " + " | ".join(METRICS) + " |\n|" + "---|" * (len(METRICS) + 2) + "\n")
        for r in rows:
            f.write(f"| {r['variant']} | {r['n']} | " +
                    " | ".join(f"{r[k + '_mean']:.4f} +- {r[k + '_std']:.4f}" for k in METRICS) + " |\n")
    plots = plot(rows, out) if rows else []
    print(f"results: {out}/results.md, {out}/results.csv" + (f", plots: {', '.join(plots)}" if plots else ""))
    return 0 if len(per_run) == len(variants) * len(args.seeds) else 1


if __name__ == "__main__":
    sys.exit(main())
