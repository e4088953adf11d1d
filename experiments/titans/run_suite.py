#!/usr/bin/env python3
"""The Titans experiment suites in one command each (run from the repository root: the configs read
../shared/data/):

  ablation  the paper's ablation table as language models on bytes (tiny-shakespeare, bits per byte
            and perplexity) or words (WikiText-2, perplexity): Titans MAC/MAG/MAL, the LMM alone, the
            LMM with a linear memory / without momentum / without weight decay, MAC without persistent
            memory, Transformer++ (full attention and with the 64-token window). Trained by the shared
            suite runner (experiments/hag_gr/run_suite.py, suites titans_shakespeare / titans_wikitext)
            into <out>/titans_<corpus>/ with runs.csv, results.csv, results.md (mean +- std over seeds).
  needle    single-needle retrieval: each model (MAC, MAG, MAL, Transformer++ with the same window) is
            trained on needles of a short prompt length (configs/titans/needle/), then
            `tessera eval-needle` scores exact-match accuracy at --lengths; writes <out>/needle/needle.csv,
            needle.md (mean +- std over seeds per length) and needle_accuracy.png when gnuplot exists.

  python3 experiments/titans/run_suite.py --suite ablation --corpus shakespeare --seeds 0 1 2 --jobs 8
  python3 experiments/titans/run_suite.py --suite needle --lengths 1024 2048 4096 --samples 20 --jobs 4 --threads 4
  python3 experiments/titans/run_suite.py --suite ablation --budget full --seeds 0
  python3 experiments/titans/run_suite.py --suite needle --budget short --lengths 256 1024 2048 4096 --samples 20

Other options of the ablation suite (--variants, --set, --aggregate, --tessera) go to the shared runner.
"""
import argparse, csv, importlib.util, json, os, re, shutil, subprocess, sys, threading, time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CONFIGS = os.path.join(ROOT, "configs")
NEEDLE_MODELS = ["titans_mac", "titans_mag", "titans_mal", "transformer_pp"]


def load_runner():
    spec = importlib.util.spec_from_file_location("suite_runner", os.path.join(HERE, "..", "hag_gr", "run_suite.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def needle_suite(args, runner):
    out = os.path.join(os.path.abspath(args.out or f"runs/titans_{args.budget}"), "needle")
    os.makedirs(out, exist_ok=True)
    lock = threading.Lock()

    def say(*a):
        with lock:
            print(*a, flush=True)

    def parse(model, seed, text, train_s=float("nan"), eval_s=float("nan")):
        return [dict(model=model, seed=seed, length=int(m.group(1)), samples=int(m.group(2)), correct=int(m.group(3)),
                     accuracy=float(m.group(4)), train_s=train_s, eval_s=eval_s)
                for m in re.finditer(r"needle length=(\d+) samples=(\d+) correct=(\d+) accuracy=([\d.]+)", text)]

    def run_one(model, seed):
        run_dir = os.path.join(out, model, f"seed{seed}")
        if args.aggregate:  # tabulate the needle.txt files already there (e.g. runs made on another machine)
            path = os.path.join(run_dir, "needle.txt")
            if not os.path.exists(path):
                say(f"[{model} seed {seed}] no needle.txt: skipped")
                return []
            return parse(model, seed, open(path).read())
        os.makedirs(run_dir, exist_ok=True)
        bases = [os.path.join(CONFIGS, "titans", "needle", f"{model}.yaml")]
        if args.budget == "short":  # trained at 256 bytes with a 320-token window (configs/titans/needle/short.yaml)
            bases = [os.path.join(CONFIGS, "titans", "needle", "short", f"{model}.yaml")]
        elif args.budget == "reduced":
            bases.append(os.path.join(CONFIGS, "titans", "needle", "reduced.yaml"))
        wrapper = os.path.join(run_dir, "suite_config.yaml")
        with open(wrapper, "w") as f:
            f.write("base: [" + ", ".join(bases) + "]\n")
        sets = ["trainer.seed=%d" % seed, "trainer.output_dir=" + run_dir] + (
            ["trainer.threads=%d" % args.threads] if args.threads else []) + args.sets
        cmd = [args.tessera, "train", wrapper, "--progress", "plain"] + [x for s in sets for x in ("--set", s)]
        t0 = time.time()
        with open(os.path.join(run_dir, "stdout.txt"), "w") as log:
            rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
        train_s = round(time.time() - t0, 1)
        text = open(os.path.join(run_dir, "stdout.txt")).read()
        ckpt = re.search(r"best checkpoint: (\S+)", text) or re.search(r"last checkpoint: (\S+)", text)
        if rc != 0 or not ckpt:
            say(f"[{model} seed {seed}] training failed (exit {rc}); see {run_dir}/stdout.txt")
            return []
        ecmd = [args.tessera, "eval-needle", wrapper, "--checkpoint", ckpt.group(1), "--samples", str(args.samples),
                "--seed", str(1000 + seed), "--lengths", ",".join(map(str, args.lengths))] + \
               [x for s in sets for x in ("--set", s)]
        t0 = time.time()
        r = subprocess.run(ecmd, capture_output=True, text=True)
        eval_s = round(time.time() - t0, 1)
        with open(os.path.join(run_dir, "needle.txt"), "w") as f:
            f.write(" ".join(ecmd) + "\n" + r.stdout + r.stderr)
        rows = parse(model, seed, r.stdout, train_s, eval_s)
        say(f"[{model} seed {seed}] trained {train_s} s, needles {eval_s} s: " +
            " ".join(f"{x['length']}:{x['accuracy']:.2f}" for x in rows))
        return rows

    todo = [(m, s) for m in (args.variants or NEEDLE_MODELS) for s in args.seeds]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows = [r for rs in pool.map(lambda t: run_one(*t), todo) for r in rs]
    with runner.replace_atomically(os.path.join(out, "needle.csv"), newline="") as f:
        w = csv.DictWriter(f, fieldnames=["model", "seed", "length", "samples", "correct", "accuracy", "train_s", "eval_s"])
        w.writeheader()
        w.writerows(rows)
    models = [m for m in (args.variants or NEEDLE_MODELS) if any(r["model"] == m for r in rows)]
    with runner.replace_atomically(os.path.join(out, "needle.md")) as f:
        f.write(f"# Single-needle accuracy vs context length ({args.budget} budget), seeds {args.seeds}, "
                f"{args.samples} needles per length\n\nExact match of the 7 greedy-generated digits; mean +- std over seeds.\n\n")
        f.write("| model | " + " | ".join(f"{L} bytes" for L in args.lengths) + " |\n|---|" + "---|" * len(args.lengths) + "\n")
        for m in models:
            cells = []
            for L in args.lengths:
                mean, std = runner.mean_std([r["accuracy"] for r in rows if r["model"] == m and r["length"] == L])
                cells.append(f"{mean:.3f} +- {std:.3f}")
            f.write(f"| {m} | " + " | ".join(cells) + " |\n")
    if shutil.which("gnuplot") and rows:
        dat = os.path.join(out, "needle.dat")
        with open(dat, "w") as f:
            for m in models:
                f.write(f'"{m}"\n')
                for L in args.lengths:
                    f.write(f"{L} {runner.mean_std([r['accuracy'] for r in rows if r['model'] == m and r['length'] == L])[0]}\n")
                f.write("\n\n")
        script = (f"set terminal png size 800,500\nset output '{out}/needle_accuracy.png'\nset termoption noenhanced\n"
                  "set logscale x 2\nset yrange [0:1]\nset xlabel 'context (bytes)'\nset ylabel 'exact match'\n"
                  f"set key outside\nplot for [i=0:{len(models) - 1}] '{dat}' index i using 1:2 with linespoints title columnheader(1)\n")
        subprocess.run(["gnuplot"], input=script, text=True)
    print(f"results: {out}/needle.md, {out}/needle.csv")
    return 0 if len(rows) == len(todo) * len(args.lengths) else 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", choices=["ablation", "needle"], required=True)
    ap.add_argument("--corpus", choices=["shakespeare", "wikitext"], default="shakespeare", help="ablation suite's text")
    ap.add_argument("--budget", choices=["reduced", "full", "short"], default="reduced",
                    help="short: needle suite only, trained at 256 bytes with a 320-token window")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", default=None, help="output folder (default runs/titans_<budget>)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--lengths", type=int, nargs="+", default=[1024, 2048, 4096], help="needle prompt lengths (bytes)")
    ap.add_argument("--samples", type=int, default=20, help="needles per length")
    ap.add_argument("--variants", nargs="*", default=None)
    ap.add_argument("--set", dest="sets", action="append", default=[])
    ap.add_argument("--tessera", default=os.path.join(ROOT, "build", "tessera"))
    ap.add_argument("--aggregate", action="store_true", help="train nothing: tabulate the run folders under --out")
    args, rest = ap.parse_known_args(argv)
    runner = load_runner()
    if args.aggregate:
        rest = rest + ["--aggregate"]
    if args.suite == "needle":
        if args.aggregate:
            rest.remove("--aggregate")
        if rest:
            ap.error(f"unknown options for the needle suite: {rest}")
        return needle_suite(args, runner)
    if args.budget == "short":
        ap.error("--budget short is a needle setup (--suite needle)")
    out = os.path.abspath(args.out or f"runs/titans_{args.budget}")
    fwd = ["--suite", f"titans_{args.corpus}", "--budget", args.budget, "--seeds", *map(str, args.seeds),
           "--out", os.path.join(out, f"titans_{args.corpus}"), "--jobs", str(args.jobs), "--tessera", args.tessera]
    if args.threads:
        fwd += ["--threads", str(args.threads)]
    if args.variants:
        fwd += ["--variants", *args.variants]
    for s in args.sets:
        fwd += ["--set", s]
    return runner.main(fwd + rest)


if __name__ == "__main__":
    sys.exit(main())
