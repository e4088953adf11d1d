#!/usr/bin/env python3
"""HAG / gradient-routing suite runner: trains every variant of a suite over several seeds with the
`tessera` CLI and writes results.csv, results.md (mean +- std per metric) and plots (gnuplot PNGs).

  python3 experiments/hag_gr/run_suite.py --suite cifar10 --budget reduced --seeds 0 1 2
  python3 experiments/hag_gr/run_suite.py --suite kvasir --budget full --out runs/hag_kvasir_full
  python3 experiments/hag_gr/run_suite.py --suite polyp --split /data/split_6fold.csv --folds 0 1 2 3 4 5 \
      --seeds 0 --set data.train.dataset.real_colon_path=/data/real-colon ...

The polyp suite (REAL-Colon / SUN size regression, the paper's k-fold protocol) runs every variant
on every fold-run (test fold k, validation fold k+1 mod 6) and reports each fold (mean over seeds)
and the mean +- std over folds.

Run it from a directory where ../shared/data/ holds the datasets (the configs use that relative
path), e.g. the repository root of the main checkout. Extra --set overrides go to every run.
"""
import argparse, concurrent.futures, contextlib, csv, json, math, os, shutil, subprocess, sys, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = os.path.normpath(os.path.join(HERE, "..", "..", "configs", "hag"))

# variant name -> (config file, reduced-budget overlays applied after it, in order). The HAG + GR
# variants also take reduced_gate_lr_<model>.yaml: the gate lr chosen on validation for the
# reduced budget's step count (experiments/hag_gr/README.md, "Gate lr at reduced budgets").
VARIANTS = ("baseline", "baseline_matched", "hag", "hag_gr", "frozen")


def _suite(folder, models, variants, reduced_of, gate_lr_of=None):
    r = {}
    for m in models:
        for v in variants:
            overlays = [reduced_of(m)] + ([gate_lr_of(m)] if v == "hag_gr" and gate_lr_of else [])
            r[f"{m}_{v}"] = (f"{folder}/{m}_{v}.yaml", [f"{folder}/{o}" for o in overlays])
    return r


SUITES = {
    "cifar10": _suite("cifar10", ("resnet18", "vit_t4"), VARIANTS, lambda m: f"reduced_{m}.yaml",
                      lambda m: f"reduced_gate_lr_{m}.yaml"),
    "kvasir": _suite("kvasir", ("resnet18_rgb", "multistream_rgb_mask"), VARIANTS,
                     lambda m: "reduced.yaml" if m == "resnet18_rgb" else "reduced_multistream.yaml",
                     lambda m: f"reduced_gate_lr_{m}.yaml"),
    # multistream_loc_dpt is the official R18 HAG model (needs depth maps); rgb_loc is a departure.
    "polyp": _suite("polyp", ("multistream_loc_dpt", "multistream_rgb_loc", "vit_t"), ("baseline", "hag", "hag_gr"),
                    lambda m: {"multistream_loc_dpt": "reduced_loc_dpt.yaml", "multistream_rgb_loc": "reduced_multistream.yaml",
                               "vit_t": "reduced_vit.yaml"}[m]),
}
CLASSIFICATION_METRICS = ["accuracy", "f1_weighted", "f1_macro", "precision_weighted", "recall_weighted", "loss",
                          "gate_shift", "gate_spread", "val_loss", "val_accuracy"]
SIZE_METRICS = ["binary_f1_weighted", "triclass_f1_weighted", "binary_f1_macro", "triclass_f1_macro",
                "binary_precision_weighted", "binary_recall_weighted", "triclass_precision_weighted",
                "triclass_recall_weighted", "binary_accuracy", "triclass_accuracy", "mae_mm", "loss",
                "gate_shift", "gate_spread", "val_loss"]
METRICS = CLASSIFICATION_METRICS  # set per suite in main()
FOLDED = {"polyp"}  # suites whose runs are fold-runs of a k-fold split


def gate_movement(run_dir):
    """(gate_shift, gate_spread) of a run: the mean over gates of |final mean gate value - initial|
    and of the final spread (std over channels), from the gate values the trainer logs (split
    "init" at step 0, then every train record). (nan, nan) for a model without gates."""
    init = last = None
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        for line in f:
            j = json.loads(line)
            if j.get("split") == "init":
                init = j
            elif j.get("split") == "train" and any(k.startswith("gate_mean/") for k in j):
                last = j
    if init is None or last is None:
        return float("nan"), float("nan")
    gates = [k[len("gate_mean/"):] for k in init if k.startswith("gate_mean/")]
    shift = sum(abs(last["gate_mean/" + g] - init["gate_mean/" + g]) for g in gates) / len(gates)
    spread = sum(last["gate_std/" + g] for g in gates) / len(gates)
    return shift, spread


def best_validation(run_dir):
    """(val_loss, val_accuracy) of the validation with the lowest loss (the checkpoint the test
    metrics come from); what the gate-lr sweep selects on."""
    best = None
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        for line in f:
            j = json.loads(line)
            if j.get("split") == "val" and j.get("loss") is not None and (best is None or j["loss"] < best["loss"]):
                best = j
    if best is None:
        return float("nan"), float("nan")
    return best["loss"], best.get("accuracy", float("nan"))


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


@contextlib.contextmanager
def replace_atomically(path, newline=None):
    """Writes to path.tmp and renames it over path, so an interrupted run never leaves a half table
    in place of the previous one."""
    tmp = path + ".tmp"
    with open(tmp, "w", newline=newline) as f:
        yield f
    os.replace(tmp, path)


def mean_std(xs):
    if not xs:
        return float("nan"), float("nan")
    m = sum(xs) / len(xs)
    s = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, s


def plot(rows, out_dir, metrics, over="seeds"):
    if not shutil.which("gnuplot"):
        print("gnuplot not found: no plots", file=sys.stderr)
        return []
    files = []
    for metric in metrics:
        dat = os.path.join(out_dir, f"{metric}.dat")
        with open(dat, "w") as f:
            for i, r in enumerate(rows):
                f.write(f'{i} "{r["variant"]}" {r[metric + "_mean"]} {r[metric + "_std"]}\n')
        png = os.path.join(out_dir, f"{metric}.png")
        script = f"""set terminal pngcairo size 900,500
set output '{png}'
set title 'test {metric} (mean +- std over {over})'
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
    ap.add_argument("--gate-lrs", type=float, nargs="+", default=None,
                    help="gate-lr sweep: run each HAG + GR variant once per constant gate lr (variant <name>_glr<lr>); "
                         "select on the val_loss / val_accuracy columns only")
    ap.add_argument("--jobs", type=int, default=1, help="runs at a time (each with --threads threads)")
    ap.add_argument("--threads", type=int, default=None, help="trainer.threads of every run (default: the configs' 2)")
    ap.add_argument("--tessera", default=os.path.normpath(os.path.join(HERE, "..", "..", "build", "tessera")))
    ap.add_argument("--out", default=None, help="output folder (default runs/hag_<suite>_<budget>)")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="extra key=value override for every run")
    ap.add_argument("--folds", type=int, nargs="+", default=None,
                    help="fold-runs of the k-fold suites (polyp; default 0..5)")
    ap.add_argument("--split", default=None, help="k-fold split CSV for the polyp suite (sets data.*.dataset.split)")
    args = ap.parse_args()
    global METRICS
    folded = args.suite in FOLDED
    METRICS = SIZE_METRICS if folded else CLASSIFICATION_METRICS
    folds = (args.folds if args.folds is not None else list(range(6))) if folded else [None]
    if not folded and (args.folds is not None or args.split):
        ap.error("--folds and --split apply to the k-fold suites only: " + ", ".join(sorted(FOLDED)))
    split_sets = [f"data.{p}.dataset.split={os.path.abspath(args.split)}" for p in ("train", "val", "test")] if args.split else []

    variants = dict(SUITES[args.suite])
    if args.variants:
        unknown = [v for v in args.variants if v not in variants]
        if unknown:
            ap.error(f"unknown variants {unknown}; known: {sorted(variants)}")
        variants = {k: variants[k] for k in args.variants}
    extra_sets = {}  # variant -> --set overrides of that variant only
    if args.gate_lrs:
        # The gate optimizer is optimizers[0] in every HAG + GR config (it takes the "*fsag*" params first).
        # The swept lr replaces the chosen one: the reduced_gate_lr overlay is left out.
        variants = {f"{k}_glr{lr:g}": (cfg, [o for o in reduced if "/reduced_gate_lr_" not in o])
                    for k, (cfg, reduced) in variants.items() if k.endswith("_hag_gr") for lr in args.gate_lrs}
        extra_sets = {k: [f"optimizers.0.lr={k.rsplit('_glr', 1)[1]}"] for k in variants}
    if args.budget == "reduced":
        missing = sorted({o for _, reduced in variants.values() for o in reduced if not os.path.exists(os.path.join(CONFIGS, o))})
        if missing:
            ap.error(f"missing overlay(s) {missing} under {CONFIGS}; the reduced_gate_lr_<model>.yaml files are written "
                     "by experiments/hag_gr/select_gate_lr.py from a --gate-lrs sweep")
    out = os.path.abspath(args.out or f"runs/hag_{args.suite}_{args.budget}")
    os.makedirs(out, exist_ok=True)

    jobs = []
    for name, (cfg, reduced) in variants.items():
        for fold in folds:
            for seed in args.seeds:
                run_dir = os.path.join(out, name, *( [f"fold{fold}"] if fold is not None else []), f"seed{seed}")
                os.makedirs(run_dir, exist_ok=True)
                bases = [os.path.join(CONFIGS, cfg)] + ([os.path.join(CONFIGS, r) for r in reduced] if args.budget == "reduced" else [])
                wrapper = os.path.join(run_dir, "suite_config.yaml")
                with open(wrapper, "w") as f:
                    f.write("base: [" + ", ".join(bases) + "]\n")
                cmd = [args.tessera, "train", wrapper, "--progress", "plain",
                       "--set", f"trainer.seed={seed}", "--set", f"trainer.output_dir={run_dir}"]
                if args.threads is not None:
                    cmd += ["--set", f"trainer.threads={args.threads}"]
                if fold is not None:
                    for p in ("train", "val", "test"):
                        cmd += ["--set", f"data.{p}.dataset.run={fold}"]
                for s in split_sets + args.sets + extra_sets.get(name, []):
                    cmd += ["--set", s]
                tag = f"[{name}" + (f" fold {fold}" if fold is not None else "") + f" seed {seed}]"
                jobs.append((name, fold, seed, run_dir, cmd, tag))

    print_lock = threading.Lock()

    def run_one(job):
        name, fold, seed, run_dir, cmd, tag = job
        with print_lock:
            print(f"{tag} {' '.join(cmd)}", flush=True)
        t0 = time.time()
        with open(os.path.join(run_dir, "stdout.txt"), "w") as log:
            rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
        if rc != 0:
            with print_lock:
                print(f"{tag} failed (exit {rc}); see {run_dir}/stdout.txt", file=sys.stderr, flush=True)
            return None
        m = last_test_metrics(run_dir)
        m["gate_shift"], m["gate_spread"] = gate_movement(run_dir)
        m["val_loss"], m["val_accuracy"] = best_validation(run_dir)
        m.update(variant=name, fold=fold, seed=seed, seconds=round(time.time() - t0, 1))
        with print_lock:
            print(f"{tag} test " + "  ".join(f"{k} {m.get(k, float('nan')):.4f}" for k in METRICS[:2]) +
                  f"  ({m['seconds']} s)", flush=True)
        return m

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        per_run = [m for m in pool.map(run_one, jobs) if m is not None]  # in job order

    with replace_atomically(os.path.join(out, "runs.csv"), newline="") as f:
        w = csv.writer(f)
        w.writerow(["variant", "fold", "seed", "seconds"] + METRICS)
        for m in per_run:
            w.writerow([m["variant"], "" if m["fold"] is None else m["fold"], m["seed"], m["seconds"]] +
                       [m.get(k, "") for k in METRICS])

    def values(runs, k):
        return [float(x[k]) for x in runs if x.get(k) is not None and not math.isnan(float(x[k]))]

    rows, fold_rows = [], []
    for name in variants:
        runs = [m for m in per_run if m["variant"] == name]
        if not runs:
            continue
        r = {"variant": name, "n": len(runs)}
        if folded:
            # Per fold: mean over seeds; the summary is mean +- std over those fold values.
            per_fold = []
            for fold in folds:
                fr = [m for m in runs if m["fold"] == fold]
                if not fr:
                    continue
                fv = {"variant": name, "fold": fold, "n": len(fr)}
                for k in METRICS:
                    fv[k] = mean_std(values(fr, k))[0] if values(fr, k) else float("nan")
                per_fold.append(fv)
            fold_rows += per_fold
            r["n"] = len(per_fold)
            for k in METRICS:
                r[k + "_mean"], r[k + "_std"] = mean_std([fv[k] for fv in per_fold])
        else:
            for k in METRICS:
                r[k + "_mean"], r[k + "_std"] = mean_std(values(runs, k))
        rows.append(r)
    over = "folds" if folded else "seeds"
    with replace_atomically(os.path.join(out, "results.csv"), newline="") as f:
        w = csv.writer(f)
        w.writerow(["variant", "n"] + [f"{k}_{s}" for k in METRICS for s in ("mean", "std")])
        for r in rows:
            w.writerow([r["variant"], r["n"]] + [f'{r[f"{k}_{s}"]:.6f}' for k in METRICS for s in ("mean", "std")])
    with replace_atomically(os.path.join(out, "results.md")) as f:
        f.write(f"# HAG / GR suite `{args.suite}` ({args.budget} budget), seeds {args.seeds}" +
                (f", folds {folds}" if folded else "") + "\n\n")
        f.write(f"Test metrics of the checkpoint with minimum validation loss; mean +- std over {over}" +
                (" (each fold: mean over seeds)" if folded else "") + "; n = number of " + over + ".\n\n")
        f.write("| variant | n | " + " | ".join(METRICS) + " |\n|" + "---|" * (len(METRICS) + 2) + "\n")
        for r in rows:
            f.write(f"| {r['variant']} | {r['n']} | " +
                    " | ".join(f"{r[k + '_mean']:.4f} +- {r[k + '_std']:.4f}" for k in METRICS) + " |\n")
        if folded:
            f.write("\n## Per fold\n\n| variant | fold | seeds | " + " | ".join(METRICS) + " |\n|" +
                    "---|" * (len(METRICS) + 3) + "\n")
            for fv in fold_rows:
                f.write(f"| {fv['variant']} | {fv['fold']} | {fv['n']} | " +
                        " | ".join(f"{fv[k]:.4f}" for k in METRICS) + " |\n")
    if folded:
        with replace_atomically(os.path.join(out, "folds.csv"), newline="") as f:
            w = csv.writer(f)
            w.writerow(["variant", "fold", "seeds"] + METRICS)
            for fv in fold_rows:
                w.writerow([fv["variant"], fv["fold"], fv["n"]] + [f"{fv[k]:.6f}" for k in METRICS])
    plots = plot(rows, out, METRICS[:2], over) if rows else []
    print(f"results: {out}/results.md, {out}/results.csv" + (f", plots: {', '.join(plots)}" if plots else ""))
    return 0 if len(per_run) == len(variants) * len(args.seeds) * len(folds) else 1


if __name__ == "__main__":
    sys.exit(main())
