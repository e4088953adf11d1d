#!/usr/bin/env python3
"""The Grassmann experiment suites in one command (experiments/grassmann/README.md):

  lm    WikiText-2 language modelling, 6 layers, L = 128, byte-level BPE: the post-LN tied Transformer
        baseline vs the Grassmann LM under both window schedules (every offset of {1,2,4,8,12,16} in every
        layer; one offset per layer); best validation perplexity, mean +- std over seeds, and the gap
        (Grassmann - Transformer) / Transformer in %.
  glue  MRPC, STS-B and SST-2 from scratch with the Grassmann-Pluecker head and a Transformer head.

  python3 experiments/grassmann/run_suite.py --budget reduced --seeds 0 1 2 --jobs 15
  python3 experiments/grassmann/run_suite.py --suites lm --budget full --seeds 0 --set trainer.threads=16
  python3 experiments/grassmann/run_suite.py --aggregate --out results_dir        # tables from run folders

Each run is `tessera train` on a wrapper config whose `base:` lists the variant's files (and, for the
reduced budget, the reduced overlays) under configs/grassmann/. Run from the repository root (the
configs read ../shared/data/ and the committed tokenizer files). Writes <out>/<suite>/runs.csv (one
row per run), results.csv and results.md (mean +- std per variant).
"""
import argparse, csv, json, math, os, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = os.path.normpath(os.path.join(HERE, "..", "..", "configs", "grassmann"))

LM_VARIANTS = {  # name -> (config, reduced overlays)
    "transformer": ("wikitext2/transformer.yaml", ["wikitext2/reduced.yaml", "wikitext2/reduced_transformer.yaml"]),
    "grassmann_all": ("wikitext2/grassmann_all.yaml", ["wikitext2/reduced.yaml", "wikitext2/reduced_grassmann.yaml"]),
    "grassmann_per_layer": ("wikitext2/grassmann_per_layer.yaml",
                            ["wikitext2/reduced.yaml", "wikitext2/reduced_grassmann.yaml"]),
}
LM_REDUCED_STEPS, LM_EVAL_EVERY = 220, 55
# GLUE: task -> (config, metric reported, reduced-budget steps); both heads get the same steps.
GLUE_TASKS = {"mrpc": ("glue/mrpc.yaml", "f1", 360), "stsb": ("glue/stsb.yaml", "pearson", 360),
              "sst2": ("glue/sst2.yaml", "accuracy", 720)}
GLUE_HEADS = {"grassmann": "glue/grassmann_head.yaml", "transformer": "glue/transformer_head.yaml"}
PAPER = "paper (6L, L=128, WordPiece 30522): Transformer 248.4, Grassmann 275.7 (+11.0%); second schedule 253.6 vs 282.3 (+11.3%)"
REPRO = "independent reproduction (GPT-2 BPE, pre-LN, 20 epochs): Transformer 181.7, Grassmann 253.8 (+39.7%)"


def runs_of(suite, budget):
    """[(name, [config files], [--set overrides])] of a suite."""
    out = []
    if suite == "lm":
        for v, (cfg, red) in LM_VARIANTS.items():
            files = [cfg] + (red if budget == "reduced" else [])
            sets = [f"trainer.max_steps={LM_REDUCED_STEPS}", f"trainer.eval_every_steps={LM_EVAL_EVERY}"] if budget == "reduced" else []
            out.append((v, files, sets))
    else:
        for t, (cfg, _, steps) in GLUE_TASKS.items():
            for h, head in GLUE_HEADS.items():
                files = [cfg, head] + (["glue/reduced.yaml"] if budget == "reduced" else [])
                sets = [f"trainer.max_steps={steps}", f"trainer.eval_every_steps={steps // 2}"] if budget == "reduced" else []
                out.append((f"{t}_{h}", files, sets))
    return out


def val_records(run_dir):
    recs = []
    path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.exists(path):
        return recs
    with open(path) as f:
        for line in f:
            j = json.loads(line)
            if j.get("split") == "val":
                recs.append(j)
    return recs


def params_of(run_dir):
    try:
        with open(os.path.join(run_dir, "stdout.txt")) as f:
            for line in f:
                if line.startswith("run folder:") and "parameters" in line:
                    return int(line.split("(")[1].split()[0])
    except OSError:
        pass
    return 0


def mean_std(xs):
    xs = [x for x in xs if x == x]
    if not xs:
        return float("nan"), float("nan")
    m = sum(xs) / len(xs)
    s = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, s


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suites", nargs="+", choices=["lm", "glue"], default=["lm", "glue"])
    ap.add_argument("--budget", choices=["reduced", "full"], default="reduced")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--glue-seeds", type=int, nargs="+", default=None, help="seeds of the glue suite (default: --seeds)")
    ap.add_argument("--jobs", type=int, default=1, help="runs at once (give each few threads)")
    ap.add_argument("--threads", type=int, default=None, help="trainer.threads of every run")
    ap.add_argument("--timeout", type=float, default=None, help="seconds after which a run is stopped")
    ap.add_argument("--tessera", default=os.environ.get("TESSERA", "build/tessera"))
    ap.add_argument("--out", default=None, help="output folder (default runs/grassmann_<budget>)")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="override for every run (repeatable)")
    ap.add_argument("--aggregate", action="store_true", help="only tabulate the run folders under --out")
    args = ap.parse_args(argv)
    out = os.path.abspath(args.out or f"runs/grassmann_{args.budget}")

    jobs = []
    for suite in args.suites:
        seeds = args.glue_seeds if (suite == "glue" and args.glue_seeds) else args.seeds
        for name, files, sets in runs_of(suite, args.budget):
            for seed in seeds:
                jobs.append((suite, name, files, sets, seed))

    def run_one(job):
        suite, name, files, sets, seed = job
        run_dir = os.path.join(out, suite, name, f"seed{seed}")
        if args.aggregate:
            return job, run_dir
        os.makedirs(run_dir, exist_ok=True)
        wrapper = os.path.join(run_dir, "suite_config.yaml")
        with open(wrapper, "w") as f:
            f.write("base: [" + ", ".join(os.path.join(CONFIGS, c) for c in files) + "]\n")
        cmd = [args.tessera, "train", wrapper, "--progress", "plain", "--set", f"trainer.seed={seed}",
               "--set", f"trainer.output_dir={run_dir}"]
        if args.threads is not None:
            cmd += ["--set", f"trainer.threads={args.threads}"]
        for s in sets + args.sets:
            cmd += ["--set", s]
        print(f"[{suite}/{name} seed {seed}] {' '.join(cmd)}", flush=True)
        t0 = time.time()
        with open(os.path.join(run_dir, "stdout.txt"), "w") as log:
            try:
                rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=args.timeout).returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
        with open(os.path.join(run_dir, "suite_run.json"), "w") as f:
            json.dump({"seconds": round(time.time() - t0, 1), "exit": rc, "command": cmd}, f)
        print(f"[{suite}/{name} seed {seed}] exit {rc} after {time.time() - t0:.0f} s", flush=True)
        return job, run_dir

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        done = list(ex.map(run_one, jobs))

    for suite in args.suites:
        rows = []
        for (s, name, _, _, seed), run_dir in done:
            if s != suite:
                continue
            recs = val_records(run_dir)
            info = {}
            if os.path.exists(os.path.join(run_dir, "suite_run.json")):
                info = json.load(open(os.path.join(run_dir, "suite_run.json")))
            row = {"variant": name, "seed": seed, "params": params_of(run_dir), "seconds": info.get("seconds", float("nan")),
                   "steps": max((r.get("step", 0) for r in recs), default=0)}
            if suite == "lm":
                row["best_val_ppl"] = min((r["perplexity"] for r in recs), default=float("nan"))
                row["last_val_ppl"] = recs[-1]["perplexity"] if recs else float("nan")
            else:
                task = name.split("_")[0]
                metric = GLUE_TASKS[task][1]
                row["metric"] = metric
                row["best_val"] = max((r[metric] for r in recs if metric in r), default=float("nan"))
                row["last_val"] = recs[-1].get(metric, float("nan")) if recs else float("nan")
                if task == "mrpc":
                    row["best_val_accuracy"] = max((r.get("accuracy", float("nan")) for r in recs), default=float("nan"))
                if task == "stsb":
                    row["best_val_spearman"] = max((r.get("spearman", float("nan")) for r in recs), default=float("nan"))
            rows.append(row)
        os.makedirs(os.path.join(out, suite), exist_ok=True)
        keys = sorted({k for r in rows for k in r}, key=lambda k: (k not in ("variant", "seed"), k))
        with open(os.path.join(out, suite, "runs.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(rows)
        write_tables(suite, rows, os.path.join(out, suite))
    return 0


def write_tables(suite, rows, folder):
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    res = []
    for v in variants:
        rs = [r for r in rows if r["variant"] == v]
        key = "best_val_ppl" if suite == "lm" else "best_val"
        m, s = mean_std([r[key] for r in rs])
        res.append({"variant": v, "metric": "val_perplexity" if suite == "lm" else rs[0]["metric"], "mean": m, "std": s,
                    "n": sum(1 for r in rs if r[key] == r[key]), "params": rs[0]["params"],
                    "steps": max(r["steps"] for r in rs)})
    with open(os.path.join(folder, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["variant", "metric", "mean", "std", "n", "params", "steps"])
        w.writeheader()
        w.writerows(res)
    lines = []
    if suite == "lm":
        base = next((r for r in res if r["variant"] == "transformer"), None)
        lines += ["| model | params | steps | best val ppl (mean +- std) | seeds | gap vs Transformer |", "|---|---|---|---|---|---|"]
        for r in res:
            gap = "" if base is None or r is base else f"{100 * (r['mean'] - base['mean']) / base['mean']:+.1f}%"
            lines.append(f"| {r['variant']} | {r['params'] / 1e6:.2f}M | {r['steps']} | {r['mean']:.1f} +- {r['std']:.1f} | {r['n']} | {gap} |")
        lines += ["", f"Reference: {PAPER}; {REPRO}."]
    else:
        lines += ["| task | head | params | steps | metric | best val (mean +- std) | seeds |", "|---|---|---|---|---|---|---|"]
        for r in res:
            task, head = r["variant"].split("_", 1)
            lines.append(f"| {task} | {head} | {r['params'] / 1e6:.2f}M | {r['steps']} | {r['metric']} | {r['mean']:.4f} +- {r['std']:.4f} | {r['n']} |")
    with open(os.path.join(folder, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
