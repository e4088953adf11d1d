#!/usr/bin/env python3
"""Data-parallel measurements of README's "Data-parallel training" section (issue 12).

1. Training throughput on this machine: 2 ranks x 1 thread (mpirun, and Gloo) vs 1 process x 2
   threads, for the bench's vit_t (ViT-Tiny patch 4, 32 px, 100 classes) and resnet18 (CIFAR stem,
   100 classes), global batch 64 on synthetic 32x32 images: a short `tessera train` each, images/s
   from metrics.jsonl's elapsed_s over the steps after the first two (warm-up).
2. Sum all-reduce bandwidth of float32 buffers for both backends with 2 ranks (build/tests/dp_worker).
3. The predicted per-step gradient traffic per worker for 8 and 64 workers: ring all-reduce sends
   (and receives) 2 (N - 1) / N x the gradient bytes.

Usage (hold the CPU lock: it measures):  flock /tmp/tessera-cpu.lock python3 experiments/tools/dp_throughput.py [BUILD]
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
TESSERA = os.path.join(BUILD, "tessera")
WORKER = os.path.join(BUILD, "tests", "dp_worker")
MPI_ENV = {
    "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMPI_MCA_btl": "self,vader",
    "OMPI_MCA_btl_vader_single_copy_mechanism": "none", "OMPI_MCA_rmaps_base_oversubscribe": "1",
    "OMPI_MCA_oob_tcp_if_include": "lo", "OMPI_MCA_pml": "ob1",
}
MODELS = {
    "vit_t": "{name: vit, preset: vit_tiny_patch4_32, num_classes: 100}",
    "resnet18": "{name: resnet18, cifar_stem: true, num_classes: 100}",
}
STEPS, BATCH = 8, 64


def config(tmp, name, model, threads, dist):
    out = os.path.join(tmp, name)
    text = f"""model: {model}
data:
  batch_size: {BATCH}
  train: {{dataset: {{name: synthetic_classification, num_samples: {BATCH * STEPS}, num_classes: 100, shape: [3, 32, 32]}}}}
optimizer: {{name: adamw, lr: 0.001}}
loss: {{name: cross_entropy}}
trainer: {{max_steps: {STEPS}, threads: {threads}, log_every: 1, plot: false, progress: none, output_dir: {out}{dist}}}
"""
    path = os.path.join(tmp, name + ".yaml")
    with open(path, "w") as f:
        f.write(text)
    return path, out


def images_per_s(out):
    el = [json.loads(l)["elapsed_s"] for l in open(os.path.join(out, "metrics.jsonl")) if '"train"' in l]
    extra = {}
    for l in open(os.path.join(out, "metrics.jsonl")):
        j = json.loads(l)
        if j.get("split") == "train" and "comm_overlap" in j and j["step"] > 2:
            for k in ("comm_s", "comm_wait_s", "comm_overlap"):
                extra.setdefault(k, []).append(j[k])
    ips = BATCH * (len(el) - 2) / (el[-1] - el[1])
    return ips, {k: sum(v) / len(v) for k, v in extra.items()}


def run(cmd, env=None):
    e = dict(os.environ, OMP_NUM_THREADS="1", **(env or {}))
    subprocess.run(cmd, check=True, env=e, stdout=subprocess.DEVNULL)


def gloo(n, cmd, store):
    shutil.rmtree(store, ignore_errors=True)
    procs = [subprocess.Popen(cmd, env=dict(os.environ, RANK=str(r), WORLD_SIZE=str(n), TESSERA_GLOO_STORE=store,
                                            OMP_NUM_THREADS="1"), stdout=subprocess.PIPE, text=True)
             for r in range(n)]
    outs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit(f"gloo run failed: {cmd}")
    return outs[0]


def main():
    tmp = tempfile.mkdtemp(prefix="tessera_dp_bench_")
    print("| model | 1 process x 2 threads (img/s) | 2 ranks x 1 thread, MPI (img/s) | 2 ranks x 1 thread, Gloo (img/s) "
          "| comm per step MPI / Gloo (s) | overlap with backward MPI / Gloo |")
    print("|---|---|---|---|---|---|")
    for name, model in MODELS.items():
        c1, o1 = config(tmp, name + "_1x2", model, 2, "")
        run([TESSERA, "train", c1])
        c2, o2 = config(tmp, name + "_mpi", model, 1, ", distributed: {backend: mpi}")
        run(["mpirun", "-np", "2", TESSERA, "train", c2], MPI_ENV)
        c3, o3 = config(tmp, name + "_gloo", model, 1, ", distributed: {backend: gloo}")
        gloo(2, [TESSERA, "train", c3], os.path.join(tmp, "store_" + name))
        a, _ = images_per_s(o1)
        b, sb = images_per_s(o2)
        g, sg = images_per_s(o3)
        print(f"| {name} | {a:.1f} | {b:.1f} ({b / a:.2f}x) | {g:.1f} ({g / a:.2f}x) "
              f"| {sb['comm_s']:.3f} / {sg['comm_s']:.3f} | {sb['comm_overlap']:.0%} / {sg['comm_overlap']:.0%} |")
    print()
    print("All-reduce (sum, float32, 2 ranks on this host; bus bandwidth = size / time x 2 (N-1)/N):")
    sizes = ["0.25", "1", "4", "16", "64"]
    print("```")
    sys.stdout.flush()
    out = subprocess.run(["mpirun", "-np", "2", WORKER, "bandwidth", "mpi"] + sizes, check=True, text=True,
                         capture_output=True, env=dict(os.environ, **MPI_ENV)).stdout
    print(out.strip())
    print(gloo(2, [WORKER, "bandwidth", "gloo"] + sizes, os.path.join(tmp, "store_bw")).strip())
    print("```")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
