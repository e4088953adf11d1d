#!/usr/bin/env python3
"""Suite runner (HAG / gradient routing, MOAT, Titans language models): trains every variant of a suite over several seeds
with the `tessera` CLI and writes results.csv, results.md (mean +- std per metric) and plots
(gnuplot PNGs).

  python3 experiments/hag_gr/run_suite.py --suite cifar10 --budget reduced --seeds 0 1 2
  python3 experiments/hag_gr/run_suite.py --suite moat_cifar10 --jobs 18 --set trainer.threads=1
  python3 experiments/hag_gr/run_suite.py --suite moat_cifar10 --aggregate --out results/x   # tables only
  python3 experiments/hag_gr/run_suite.py --suite kvasir --from-csv a/runs.csv b/runs.csv --out results/x  # tables of runs.csv rows
  python3 experiments/hag_gr/run_suite.py --suite kvasir --budget full --out runs/hag_kvasir_full
  python3 experiments/hag_gr/run_suite.py --suite polyp --split /data/split_6fold.csv --folds 0 1 2 3 4 5 \
      --seeds 0 --set data.train.dataset.real_colon_path=/data/real-colon ...

The polyp suite (REAL-Colon / SUN size regression, the paper's k-fold protocol) runs every variant
on every fold-run (test fold k, validation fold k+1 mod 6) and reports each fold (mean over seeds)
and the mean +- std over folds.

Run it from a directory where ../shared/data/ holds the datasets (the configs use that relative
path), e.g. the repository root of the main checkout. Extra --set overrides go to every run.
--jobs N trains N runs at once (give each few threads: --set trainer.threads=1); --aggregate only
tabulates the run folders already under --out (e.g. runs made on another machine); --from-csv tabulates
the rows of runs.csv files (runs made in several calls whose folders were not kept), restricted to
--variants (in that order) when given.
"""
import argparse, contextlib, csv, json, math, os, re, shutil, subprocess, sys, threading, time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = os.path.normpath(os.path.join(HERE, "..", "..", "configs"))

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
    "cifar10": _suite("hag/cifar10", ("resnet18", "vit_t4"), VARIANTS, lambda m: f"reduced_{m}.yaml",
                      lambda m: f"reduced_gate_lr_{m}.yaml"),
    "kvasir": _suite("hag/kvasir", ("resnet18_rgb", "multistream_rgb_mask"), VARIANTS,
                     lambda m: "reduced.yaml" if m == "resnet18_rgb" else "reduced_multistream.yaml",
                     lambda m: f"reduced_gate_lr_{m}.yaml"),
    # multistream_loc_dpt is the official R18 HAG model (needs depth maps); rgb_loc is a departure.
    "polyp": _suite("hag/polyp", ("multistream_loc_dpt", "multistream_rgb_loc", "vit_t"), ("baseline", "hag", "hag_gr"),
                    lambda m: {"multistream_loc_dpt": "reduced_loc_dpt.yaml", "multistream_rgb_loc": "reduced_multistream.yaml",
                               "vit_t": "reduced_vit.yaml"}[m]),
    # MOAT (experiments/moat/): the slowest variants first, so parallel runs finish together.
    "moat_cifar10": {m: (f"moat/cifar10/{m}.yaml", ["moat/cifar10/reduced.yaml"])
                     for m in ("resnet18", "vit_t4", "tiny_moat0", "tiny_moat0_no_pe", "tiny_moat0_swapped",
                               "tiny_moat0_coatnet")},
    "moat_kvasir": {"tiny_moat0_rgb": ("moat/kvasir/tiny_moat0_rgb.yaml", ["moat/kvasir/reduced.yaml"])},
    # Titans (experiments/titans/): the paper's ablation table on bytes and on words, slowest first.
    **{f"titans_{corpus}": {m: (f"titans/{corpus}/{m}.yaml", [f"titans/{corpus}/reduced.yaml"])
                           for m in ("titans_mal", "titans_mac", "titans_mac_no_persistent", "titans_mag", "lmm",
                                     "lmm_linear_memory", "lmm_no_momentum", "lmm_no_weight_decay", "transformer_pp",
                                     "transformer_pp_swa")}
       for corpus in ("shakespeare", "wikitext")},
}
# --ablations: variants outside a suite's default set.
ABLATIONS = {"moat_cifar10": {"tiny_moat0_hag_gr": ("moat/cifar10/tiny_moat0_hag_gr.yaml", ["moat/cifar10/reduced.yaml"])}}
CLASSIFICATION_METRICS = ["accuracy", "f1_weighted", "f1_macro", "precision_weighted", "recall_weighted", "loss",
                          "gate_shift", "gate_spread", "val_loss", "val_accuracy"]
SIZE_METRICS = ["binary_f1_weighted", "triclass_f1_weighted", "binary_f1_macro", "triclass_f1_macro",
                "binary_precision_weighted", "binary_recall_weighted", "triclass_precision_weighted",
                "triclass_recall_weighted", "binary_accuracy", "triclass_accuracy", "mae_mm", "loss",
                "gate_shift", "gate_spread", "val_loss"]
LM_METRICS = ["bits_per_byte", "perplexity", "token_nll", "loss", "val_loss"]
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


def plot(rows, out_dir, metrics, over="seeds", yrange="[0:1]"):
    if not shutil.which("gnuplot"):
        print("gnuplot not found: no plots", file=sys.stderr)
        return []
    files = []
    for metric in metrics:
        if all(math.isnan(r[metric + "_mean"]) for r in rows):
            continue  # a metric this suite does not report (bits per byte of a word-level corpus)
        dat = os.path.join(out_dir, f"{metric}.dat")
        with open(dat, "w") as f:
            for i, r in enumerate(rows):
                f.write(f'{i} "{r["variant"]}" {r[metric + "_mean"]} {r[metric + "_std"]}\n')
        png = os.path.join(out_dir, f"{metric}.png")
        script = f"""set terminal pngcairo size 900,500
set output '{png}'
set termoption noenhanced
set title 'test {metric} (mean +- std over {over})'
set style fill solid 0.6
set boxwidth 0.6
set yrange {yrange}
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


def parameter_count(run_dir):
    """The trainer's 'run folder: ... (N parameters' line of stdout.txt, or None."""
    try:
        with open(os.path.join(run_dir, "stdout.txt")) as f:
            m = re.search(r"\((\d+) parameters", f.read())
        return int(m.group(1)) if m else None
    except OSError:
        return None


def main(argv=None):
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
    ap.add_argument("--out", default=None, help="output folder (default runs/hag_<suite>_<budget>, runs/<moat suite>_<budget>)")
    ap.add_argument("--ablations", action="store_true", help="also run the suite's extra variants (moat_cifar10: HAG + GR)")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="extra key=value override for every run")
    ap.add_argument("--folds", type=int, nargs="+", default=None,
                    help="fold-runs of the k-fold suites (polyp; default 0..5)")
    ap.add_argument("--split", default=None, help="k-fold split CSV for the polyp suite (sets data.*.dataset.split)")
    ap.add_argument("--aggregate", action="store_true",
                    help="train nothing: tabulate the run folders already under --out")
    ap.add_argument("--from-csv", nargs="+", default=None, metavar="RUNS_CSV",
                    help="train nothing: tabulate the rows of these runs.csv files (a run listed twice is an error)")
    args = ap.parse_args(argv)
    global METRICS
    folded = args.suite in FOLDED
    lm = args.suite.startswith("titans")
    METRICS = SIZE_METRICS if folded else LM_METRICS if lm else CLASSIFICATION_METRICS
    folds = (args.folds if args.folds is not None else list(range(6))) if folded else [None]
    if not folded and (args.folds is not None or args.split):
        ap.error("--folds and --split apply to the k-fold suites only: " + ", ".join(sorted(FOLDED)))
    split_sets = [f"data.{p}.dataset.split={os.path.abspath(args.split)}" for p in ("train", "val", "test")] if args.split else []

    if args.from_csv:
        if args.aggregate:
            ap.error("--from-csv and --aggregate are two ways to tabulate: give one")
        return tabulate_csv(args, folded, folds)
    variants = dict(SUITES[args.suite])
    if args.ablations:
        variants.update(ABLATIONS.get(args.suite, {}))
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
    if args.budget == "reduced" and not args.aggregate:
        missing = sorted({o for _, reduced in variants.values() for o in reduced if not os.path.exists(os.path.join(CONFIGS, o))})
        if missing:
            ap.error(f"missing overlay(s) {missing} under {CONFIGS}; the reduced_gate_lr_<model>.yaml files are written "
                     "by experiments/hag_gr/select_gate_lr.py from a --gate-lrs sweep")
    prefix = "" if args.suite.startswith(("moat", "titans")) else "hag_"
    out = os.path.abspath(args.out or f"runs/{prefix}{args.suite}_{args.budget}")
    os.makedirs(out, exist_ok=True)
    print_lock = threading.Lock()

    def say(*a, **k):
        with print_lock:
            print(*a, flush=True, **k)

    def run_one(name, cfg, reduced, fold, seed):
        """Trains one run (unless --aggregate); returns its test metrics or None."""
        run_dir = os.path.join(out, name, *([f"fold{fold}"] if fold is not None else []), f"seed{seed}")
        tag = f"[{name}" + (f" fold {fold}" if fold is not None else "") + f" seed {seed}]"
        info_path = os.path.join(run_dir, "suite_run.json")
        if args.aggregate:
            if not os.path.exists(os.path.join(run_dir, "metrics.jsonl")):
                say(f"{tag} no run folder with metrics: skipped", file=sys.stderr)
                return None
            seconds = json.load(open(info_path))["seconds"] if os.path.exists(info_path) else float("nan")
        else:
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
            for s_ in split_sets + args.sets + extra_sets.get(name, []):
                cmd += ["--set", s_]
            say(f"{tag} {' '.join(cmd)}")
            t0 = time.time()
            with open(os.path.join(run_dir, "stdout.txt"), "w") as log:
                rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
            seconds = round(time.time() - t0, 1)
            with open(info_path, "w") as f:
                json.dump({"seconds": seconds, "exit": rc, "command": cmd}, f)
            if rc != 0:
                say(f"{tag} failed (exit {rc}); see {run_dir}/stdout.txt", file=sys.stderr)
                return None
        m = last_test_metrics(run_dir)
        m["gate_shift"], m["gate_spread"] = gate_movement(run_dir)
        m["val_loss"], m["val_accuracy"] = best_validation(run_dir)
        m.update(variant=name, fold=fold, seed=seed, seconds=seconds, params=parameter_count(run_dir))
        say(f"{tag} test " + "  ".join(f"{k} {m.get(k, float('nan')):.4f}" for k in METRICS[:2]) +
            f"  ({m['seconds']} s)")
        return m

    todo = [(name, cfg, reduced, fold, seed) for name, (cfg, reduced) in variants.items()
            for fold in folds for seed in args.seeds]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        per_run = [m for m in pool.map(lambda t: run_one(*t), todo) if m is not None]  # in job order

    write_tables(args, out, variants, per_run, folded, folds, lm)
    return 0 if len(per_run) == len(variants) * len(args.seeds) * len(folds) else 1


def load_runs_csv(paths, names=None):
    """The rows of runs.csv files as the per-run dicts that write_tables takes, in file order (or in
    the order of names, keeping only those variants). A (variant, fold, seed) listed twice is an error."""
    rows, seen = [], {}
    for path in paths:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            lacking = [c for c in ("variant", "seed", "seconds") if c not in (reader.fieldnames or [])]
            if lacking:
                sys.exit(f"{path}: not a runs.csv of this runner: no column(s) {', '.join(lacking)}")
            for line, r in enumerate(reader, start=2):
                if names is not None and r["variant"] not in names:
                    continue
                key = (r["variant"], r.get("fold", ""), r["seed"])
                if key in seen:
                    sys.exit(f"{path}:{line}: run {r['variant']} seed {r['seed']} is also in {seen[key]}")
                seen[key] = f"{path}:{line}"
                try:
                    m = {"variant": r["variant"], "fold": int(r["fold"]) if r.get("fold") else None, "seed": int(r["seed"]),
                         "seconds": float(r["seconds"]), "params": int(r["params"]) if r.get("params") else None}
                    for k in METRICS:
                        m[k] = float(r[k]) if r.get(k) not in (None, "") else None
                except (TypeError, ValueError) as e:
                    sys.exit(f"{path}:{line}: expected numbers in seed/fold/seconds/params and the metric columns ({e})")
                rows.append(m)
    order = names or list(dict.fromkeys(m["variant"] for m in rows))
    missing = [v for v in order if not any(m["variant"] == v for m in rows)]
    if missing:
        sys.exit(f"no rows for {missing} in {', '.join(paths)}")
    return sorted(rows, key=lambda m: order.index(m["variant"])), order


def tabulate_csv(args, folded, folds):
    out = os.path.abspath(args.out or "runs/tables")
    os.makedirs(out, exist_ok=True)
    per_run, variants = load_runs_csv(args.from_csv, args.variants or None)
    args.seeds = sorted({m["seed"] for m in per_run})  # the tables' title names the seeds the rows hold
    write_tables(args, out, variants, per_run, folded, folds, args.suite.startswith("titans"))
    return 0


def write_tables(args, out, variants, per_run, folded, folds, lm):
    """runs.csv, results.csv, results.md (+ folds.csv) and the bar charts of per_run under out."""
    with replace_atomically(os.path.join(out, "runs.csv"), newline="") as f:
        w = csv.writer(f)
        w.writerow(["variant", "fold", "seed", "seconds", "params"] + METRICS)
        for m in per_run:
            w.writerow([m["variant"], "" if m["fold"] is None else m["fold"], m["seed"], m["seconds"],
                        m["params"] or ""] + [m.get(k, "") for k in METRICS])

    def values(runs, k):
        return [float(x[k]) for x in runs if x.get(k) is not None and not math.isnan(float(x[k]))]

    rows, fold_rows = [], []
    for name in variants:
        runs = [m for m in per_run if m["variant"] == name]
        if not runs:
            continue
        r = {"variant": name, "n": len(runs), "params": runs[0]["params"],
             "seconds": sum(m["seconds"] for m in runs) / len(runs)}
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
        w.writerow(["variant", "n", "params", "seconds"] + [f"{k}_{s}" for k in METRICS for s in ("mean", "std")])
        for r in rows:
            w.writerow([r["variant"], r["n"], r["params"] or "", f'{r["seconds"]:.1f}'] +
                       [f'{r[f"{k}_{s}"]:.6f}' for k in METRICS for s in ("mean", "std")])
    with replace_atomically(os.path.join(out, "results.md")) as f:
        f.write(f"# Suite `{args.suite}` ({args.budget} budget), seeds {args.seeds}" +
                (f", folds {folds}" if folded else "") + "\n\n")
        f.write(f"Test metrics of the checkpoint with minimum validation loss; mean +- std over {over}" +
                (" (each fold: mean over seeds)" if folded else "") + "; n = number of " + over +
                "; params = trainable parameters; s = mean wall seconds per run.\n\n")
        f.write("| variant | n | params | s | " + " | ".join(METRICS) + " |\n|" + "---|" * (len(METRICS) + 4) + "\n")
        for r in rows:
            f.write(f"| {r['variant']} | {r['n']} | {r['params'] or '?'} | {r['seconds']:.0f} | " +
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
    plots = plot(rows, out, METRICS[:2], over, "[*:*]" if lm else "[0:1]") if rows else []
    print(f"results: {out}/results.md, {out}/results.csv" + (f", plots: {', '.join(plots)}" if plots else ""))


if __name__ == "__main__":
    sys.exit(main())
