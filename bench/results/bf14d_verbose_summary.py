#!/usr/bin/env python3
"""Condenses ONEDNN_VERBOSE output (oneDNN 2.x CSV lines on stdin) into what answers "which
implementation runs, on which descriptors, how often and how fast":
  - the info lines (ISA, runtime, threads),
  - primitive creations per (primitive, implementation) (ONEDNN_VERBOSE=2 prints them),
  - executions summed per (primitive, implementation),
  - the TOP costliest (primitive, implementation, descriptors, problem) groups with calls, total ms,
    mean ms and, for matmuls, GFLOP/s.
Usage: ONEDNN_VERBOSE=2 tessera bench ... 2>&1 | python3 bf14d_verbose_summary.py [TOP]
"""
import collections
import re
import sys


def matmul_flops(problem):
    # "4160x192:192x576:4160x576" or batched "64x65x65:64x65x64:64x65x64" (src:wei:dst)
    parts = problem.split(":")
    if len(parts) < 3:
        return 0.0
    try:
        src = [int(v) for v in parts[0].split("x")]
        dst = [int(v) for v in parts[2].split("x")]
    except ValueError:
        return 0.0
    k = src[-1]
    n = 1
    for v in dst:
        n *= v
    return 2.0 * n * k


def main():
    top = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    info, creates = [], collections.Counter()
    groups = collections.defaultdict(lambda: [0, 0.0])
    per_impl = collections.defaultdict(lambda: [0, 0.0])
    other = 0
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line.startswith(("onednn_verbose,", "dnnl_verbose,")):
            if line.strip():
                other += 1
            continue
        f = line.split(",")
        if len(f) < 3:
            continue
        if f[1] == "info":
            info.append(",".join(f[2:]))
            continue
        if f[1].startswith("create") and len(f) > 4:
            creates[(f[1], f[3], f[4])] += 1
            continue
        if f[1] != "exec" or len(f) < 11:
            continue
        prim, impl, prop, mds, problem = f[3], f[4], f[5], f[6], f[9]
        try:
            ms = float(f[-1])
        except ValueError:
            continue
        g = groups[(prim, impl, prop, mds, problem)]
        g[0] += 1
        g[1] += ms
        p = per_impl[(prim, impl)]
        p[0] += 1
        p[1] += ms
    print("== info")
    for i in info:
        print("  " + i)
    print("== creations (primitive, implementation): count")
    for (kind, prim, impl), n in sorted(creates.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:22s} {prim:14s} {impl:32s} {n}")
    print("== executions per (primitive, implementation): calls, total ms")
    for (prim, impl), (n, ms) in sorted(per_impl.items(), key=lambda kv: -kv[1][1]):
        print(f"  {prim:14s} {impl:32s} {n:6d} {ms:10.2f}")
    print(f"== top {top} groups by total ms: calls total_ms mean_ms [GFLOP/s] primitive impl prop | descriptors | problem")
    for (prim, impl, prop, mds, problem), (n, ms) in sorted(groups.items(), key=lambda kv: -kv[1][1])[:top]:
        gf = ""
        if prim == "matmul" and ms > 0:
            gf = f"{matmul_flops(problem) * n / (ms * 1e6):8.1f}"
        mds_short = re.sub(r"::blocked", "", mds)
        print(f"  {n:5d} {ms:9.2f} {ms / n:8.3f} {gf:>8s} {prim} {impl} {prop} | {mds_short} | {problem}")
    print(f"== {other} non-verbose lines (the workload's own output) not shown")


if __name__ == "__main__":
    main()
