#!/usr/bin/env python3
"""`make check-interop`: Tessera's exports loaded by the tools users have, on real images.

usage: check_interop.py BUILD_DIR [DATA_ROOT]
  BUILD_DIR  holds the `tessera` binary; work files go to BUILD_DIR/interop/
  DATA_ROOT  an ImageFolder of real images (default ../shared/data/cifar10-jpg/test)

For a ResNet-18 and a ViT (timm names), each: a Tessera run config over DATA_ROOT (2 images per
class, ToTensor + Normalize), two training steps (so BatchNorm statistics and weights are not the
initial ones), `tessera export --format safetensors`, `tessera eval --save-logits logits.h5`. Then:
  - safetensors.torch.load_file -> torchvision.models.resnet18(num_classes=10) /
    timm.create_model("vit_tiny_patch16_224", img_size=32, patch_size=4, depth=2, num_classes=10),
    load_state_dict(strict=True);
  - the same images through torchvision.datasets.ImageFolder with the same transforms;
  - PyTorch's logits equal Tessera's to 1e-4 (max abs difference printed);
  - both runs exported as ONNX run in ONNX Runtime with the same logits (1e-4), and so do a
    tiny-MOAT-0 (one block per stage) and a gated ViT (hag_vit) trained the same way;
  - a byte-level Transformer LM trained for 6 steps on tiny-shakespeare (the repository's README.md
    when absent), exported as ONNX, in ONNX Runtime on the token blocks `tessera eval` saw (1e-4);
  - the ResNet run's TensorBoard event file (trainer.loggers: [jsonl, tensorboard]) read by
    tensorboard's EventAccumulator holds every metrics.jsonl number, the config text and the
    hyper-parameters (hparams plugin).
Exit status 0 when every check passes, 1 otherwise."""
import os
import subprocess
import sys

import h5py
import torch


def run(cmd):
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


MEAN, STD = [0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]


def config(model_yaml, data_root, out_dir):
    ds = f"{{name: image_folder_balanced, root: {data_root}, per_class: 2}}"
    norm = f"[{{name: normalize, mean: {MEAN}, std: {STD}}}]"
    return f"""model: {model_yaml}
optimizer: {{name: adamw, lr: 0.001}}
loss: {{name: cross_entropy}}
data:
  batch_size: 10
  train: {{dataset: {ds}, transforms: {norm}}}
  test: {{dataset: {ds}, transforms: {norm}}}
trainer: {{max_steps: 2, log_every: 1, output_dir: {out_dir}, threads: 2, plot: false, progress: plain,
           loggers: [jsonl, tensorboard]}}
"""


def torch_inputs(data_root):
    import torchvision
    from torchvision import transforms as T

    ds = torchvision.datasets.ImageFolder(data_root, transform=T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)]))
    seen, xs = {}, []
    for i, (_, label) in enumerate(ds.samples):  # the first 2 files of every class, as image_folder_balanced
        if seen.get(label, 0) < 2:
            seen[label] = seen.get(label, 0) + 1
            xs.append(ds[i][0])
    return torch.stack(xs)


def train_and_eval(name, tessera, work, data_root, model_yaml):
    """Two training steps of MODEL_YAML on DATA_ROOT, then `tessera eval --save-logits logits.h5`."""
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    cfg = os.path.join(d, "run.yaml")
    with open(cfg, "w") as f:
        f.write(config(model_yaml, data_root, os.path.join(d, "run")))
    ckpt = os.path.join(d, "run", "checkpoints", "last.h5")
    run([tessera, "train", cfg])
    run([tessera, "eval", cfg, "--checkpoint", ckpt, "--split", "test", "--save-logits", os.path.join(d, "logits.h5")])
    return d, ckpt


def check(name, tessera, work, data_root, model_yaml, make_model):
    from safetensors.torch import load_file

    d, ckpt = train_and_eval(name, tessera, work, data_root, model_yaml)
    weights, logits_file = os.path.join(d, "weights.safetensors"), os.path.join(d, "logits.h5")
    run([tessera, "export", ckpt, "--format", "safetensors", "--out", weights])
    model = make_model()
    result = model.load_state_dict(load_file(weights), strict=True)
    print(f"{name}: safetensors -> {type(model).__module__}.{type(model).__name__} strict=True: {result}")
    model.eval()
    with torch.no_grad():
        got = model(torch_inputs(data_root))
    with h5py.File(logits_file, "r") as f:
        ref = torch.from_numpy(f["logits"][()])
    err = (got - ref).abs().max().item()
    ok = got.shape == ref.shape and torch.allclose(got, ref, rtol=1e-4, atol=1e-4)
    print(f"{name}: logits {tuple(ref.shape)}, max abs difference {err:.3g} -> {'ok' if ok else 'MISMATCH'}", flush=True)
    return ok


def check_onnx(name, tessera, work, data_root):
    """A run exported as ONNX (opset 17) and run in ONNX Runtime on the same images: logits equal
    Tessera's to 1e-4. (onnx.checker runs in make test, with Debian's python3-onnx.)"""
    import numpy as np
    import onnxruntime as ort

    d = os.path.join(work, name)
    path = os.path.join(d, "model.onnx")
    run([tessera, "export", os.path.join(d, "run", "checkpoints", "last.h5"), "--format", "onnx", "--out", path])
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(["logits"], {"input": torch_inputs(data_root).numpy()})[0]
    with h5py.File(os.path.join(d, "logits.h5"), "r") as f:
        ref = f["logits"][()]
    err = float(np.abs(got - ref).max())
    ok = got.shape == ref.shape and np.allclose(got, ref, rtol=1e-4, atol=1e-4)
    print(f"{name}: ONNX Runtime {ort.__version__} logits {got.shape}, max abs difference {err:.3g} -> "
          f"{'ok' if ok else 'MISMATCH'}", flush=True)
    return ok


def check_tensorboard(run_dir):
    """The run's event file read by tensorboard's EventAccumulator: every metrics.jsonl number is a
    scalar with the same step and value (float32), and the resolved config is a text summary."""
    import json

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(os.path.join(run_dir, "tensorboard"), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    scalars = {(tag, ev.step): ev.value for tag in acc.Tags()["scalars"] for ev in acc.Scalars(tag)}
    ok, n = True, 0
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        for line in f:
            j = json.loads(line)
            for k, v in j.items():
                if k in ("split", "step", "epoch") or not isinstance(v, (int, float)):
                    continue
                got = scalars.get((f"{j['split']}/{k}", j["step"]))
                if got is None or abs(got - v) > 1e-6 * max(1.0, abs(v)):
                    print(f"tensorboard: {j['split']}/{k} at step {j['step']}: {got} != {v}")
                    ok = False
                n += 1
    config = acc.Tensors("config")[0].tensor_proto.string_val[0].decode() if "config" in acc.Tags()["tensors"] else ""
    # Hyper-parameters as the HParams dashboard reads them (its plugin_data proto).
    from tensorboard.plugins.hparams import plugin_data_pb2

    hparams = {}
    for content in acc.PluginTagToContent("hparams").values():
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
        if data.HasField("session_start_info"):
            hparams = {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind"))
                       for k, v in data.session_start_info.hparams.items()}
    hp_ok = hparams.get("optimizer.lr") == 0.001 and hparams.get("model.name") == "resnet18" and \
        hparams.get("trainer.plot") is False
    ok = ok and n > 0 and "loggers" in config and hp_ok
    print(f"tensorboard: EventAccumulator read {len(scalars)} scalars, {n} match metrics.jsonl; config text "
          f"{len(config)} chars; {len(hparams)} hparams (optimizer.lr {hparams.get('optimizer.lr')}, model.name "
          f"{hparams.get('model.name')}) -> {'ok' if ok else 'MISMATCH'}", flush=True)
    return ok


def check_lm(tessera, work, text):
    """A byte-level Transformer LM trained for a few steps on TEXT (tiny-shakespeare when present),
    exported as ONNX and run in ONNX Runtime on the token blocks `tessera eval --save-logits` fed it
    (the .h5 holds them as `input`): logits [N, T, 256] equal Tessera's to 1e-4."""
    import numpy as np
    import onnxruntime as ort

    d = os.path.join(work, "transformer_lm")
    os.makedirs(d, exist_ok=True)
    ds = f"{{name: char_text, path: {text}, tokenizer: bytes, block_len: 32"
    cfg = os.path.join(d, "run.yaml")
    with open(cfg, "w") as f:
        f.write(f"""model: {{name: transformer_lm, vocab_size: 256, d_model: 32, n_layers: 2, n_heads: 4, max_len: 32}}
task: {{name: language_modeling}}
optimizer: {{name: adamw, lr: 0.003}}
loss: {{name: cross_entropy}}
metrics: [perplexity]
data:
  batch_size: 8
  train: {{dataset: {ds}, split: train}}, drop_last: true}}
  test: {{dataset: {ds}, split: val, end: 6}}}}
trainer: {{max_steps: 6, log_every: 2, output_dir: {os.path.join(d, "run")}, threads: 2, plot: false, progress: plain}}
""")
    ckpt, path, logits_file = os.path.join(d, "run", "checkpoints", "last.h5"), os.path.join(d, "model.onnx"), os.path.join(d, "logits.h5")
    run([tessera, "train", cfg])
    run([tessera, "export", ckpt, "--format", "onnx", "--out", path])
    run([tessera, "eval", cfg, "--checkpoint", ckpt, "--split", "test", "--save-logits", logits_file])
    with h5py.File(logits_file, "r") as f:
        tokens, ref = f["input"][()], f["logits"][()]
    got = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(["logits"], {"tokens": tokens})[0]
    err = float(np.abs(got - ref).max()) if got.shape == ref.shape else float("inf")
    ok = got.shape == ref.shape and np.allclose(got, ref, rtol=1e-4, atol=1e-4)
    print(f"transformer_lm (trained 6 steps on {text}): ONNX Runtime {ort.__version__} logits {got.shape}, "
          f"max abs difference {err:.3g} -> {'ok' if ok else 'MISMATCH'}", flush=True)
    return ok


def main():
    build = os.path.abspath(sys.argv[1])
    here = os.path.dirname(os.path.abspath(__file__))
    data_root = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "..", "..", "shared", "data", "cifar10-jpg", "test"))
    if not os.path.isdir(data_root):
        print(f"check-interop needs an ImageFolder of real images: {data_root} is not there (pass DATA_ROOT)")
        return 1
    tessera, work = os.path.join(build, "tessera"), os.path.join(build, "interop")
    import timm
    import torchvision

    ok = check("resnet18", tessera, work, data_root, "{name: resnet18, num_classes: 10}",
               lambda: torchvision.models.resnet18(num_classes=10))
    ok &= check("vit", tessera, work, data_root,
                "{name: vit, preset: vit_tiny_patch4_32, depth: 2, num_classes: 10}",
                lambda: timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=4, depth=2,
                                          num_classes=10))
    ok &= check_tensorboard(os.path.join(work, "resnet18", "run"))
    ok &= check_onnx("resnet18", tessera, work, data_root)
    ok &= check_onnx("vit", tessera, work, data_root)
    # Models with no PyTorch zoo twin: trained the same way, checked as ONNX only. MOAT's tables
    # (P = 14 and 7) are resized in the graph to the 4x4 and 2x2 maps of 32x32 inputs.
    train_and_eval("moat", tessera, work, data_root,
                   "{name: tiny_moat_0, stem_stride: 1, depths: [1, 1, 1, 1], num_classes: 10}")
    ok &= check_onnx("moat", tessera, work, data_root)
    train_and_eval("hag_vit", tessera, work, data_root,
                   "{name: hag_vit, preset: vit_tiny_patch4_32, depth: 2, num_classes: 10}")
    ok &= check_onnx("hag_vit", tessera, work, data_root)
    text = os.path.join(here, "..", "..", "..", "shared", "data", "tiny-shakespeare", "input.txt")
    ok &= check_lm(tessera, work, os.path.abspath(text if os.path.isfile(text) else os.path.join(here, "..", "..", "README.md")))
    print("check-interop: OK" if ok else "check-interop: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
