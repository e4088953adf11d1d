#!/usr/bin/env python3
"""Compares two runs' metrics.jsonl line by line (the refactoring proof of issue 9).

    python3 experiments/tools/compare_metrics.py runs/before/metrics.jsonl runs/after/metrics.jsonl

Wall-clock fields (elapsed_s, samples_per_s) are ignored. Every key the two lines share must be
equal (exactly: the JSON text of a double round-trips); keys only one side has are listed. Exit
status 0 when the shared values are identical and the line counts agree, 1 otherwise.
"""
import json
import sys

TIMING = {"elapsed_s", "samples_per_s"}


def main(a_path, b_path):
    a = [json.loads(l) for l in open(a_path)]
    b = [json.loads(l) for l in open(b_path)]
    print(f"{a_path}: {len(a)} lines; {b_path}: {len(b)} lines")
    differing, only_a, only_b = 0, set(), set()
    for i, (x, y) in enumerate(zip(a, b)):
        only_a |= set(x) - set(y) - TIMING
        only_b |= set(y) - set(x) - TIMING
        shared = (set(x) & set(y)) - TIMING
        bad = {k: (x[k], y[k]) for k in sorted(shared) if x[k] != y[k]}
        if bad:
            differing += 1
            if differing <= 5:
                print(f"line {i + 1}: {bad}")
    if only_a:
        print("keys only in the first log:", ", ".join(sorted(only_a)))
    if only_b:
        print("keys only in the second log:", ", ".join(sorted(only_b)))
    same = differing == 0 and len(a) == len(b)
    print("shared values identical (timing fields excluded)" if same else f"{differing} lines differ")
    return 0 if same else 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
