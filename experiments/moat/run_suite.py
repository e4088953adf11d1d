#!/usr/bin/env python3
"""The MOAT experiment suite in one command: CIFAR-10 (tiny-MOAT-0 CIFAR variant vs ViT-T/4 and
ResNet-18 at one budget and lr schedule, plus the no-position-bias, swapped-order and CoAtNet-style
ablations) and the Kvasir-SEG size proxy with a tiny-MOAT-0 backbone. Each suite is run by the shared
suite runner (experiments/hag_gr/run_suite.py: suites moat_cifar10 and moat_kvasir) into
<out>/<suite>/ with its runs.csv, results.csv, results.md and plots.

  python3 experiments/moat/run_suite.py --budget reduced --seeds 0 1 2
  python3 experiments/moat/run_suite.py --suites moat_cifar10 --jobs 18 --set trainer.threads=1
  python3 experiments/moat/run_suite.py --budget full --seeds 0

Any other option (--jobs, --set, --variants, --ablations, --aggregate, --tessera) goes to the runner
for every suite. Run from the repository root (the configs read ../shared/data/).
"""
import argparse, importlib.util, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
SUITES = ["moat_cifar10", "moat_kvasir"]


def load_runner():
    spec = importlib.util.spec_from_file_location("suite_runner", os.path.join(HERE, "..", "hag_gr", "run_suite.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", choices=["reduced", "full"], default="reduced")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--suites", nargs="+", choices=SUITES, default=SUITES)
    ap.add_argument("--out", default=None, help="output folder (default runs/moat_<budget>); one subfolder per suite")
    args, rest = ap.parse_known_args(argv)
    out = os.path.abspath(args.out or f"runs/moat_{args.budget}")
    runner = load_runner()
    rc = 0
    for suite in args.suites:
        print(f"== suite {suite}", flush=True)
        rc |= runner.main(["--suite", suite, "--budget", args.budget, "--seeds", *map(str, args.seeds),
                           "--out", os.path.join(out, suite), *rest])
    return rc


if __name__ == "__main__":
    sys.exit(main())
