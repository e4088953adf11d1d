"""Checks an ONNX file exported by `tessera export --format onnx`, with Debian packages only
(python3-onnx, python3-torch, python3-h5py), so `make test` can run it:
  - onnx.checker.check_model(full_check=True): every node against its opset-17 schema, and shape
    inference over the whole graph;
  - the graph evaluated node by node with torch functional ops (the small interpreter below, written
    from the ONNX operator specification for the operators Tessera emits) on IO.h5's `input` gives
    IO.h5's `logits` (Tessera's) to 1e-4.
ONNX Runtime itself runs exported files in `make check-interop` (PyPI, not in make test).

With --onnxruntime (the venv of `make check-interop`, where PyPI's protobuf may not suit Debian's
onnx) the graph runs in ONNX Runtime instead, against the same logits.

usage: check_onnx_model.py [--onnxruntime] MODEL.onnx IO.h5
Exit status 0 when the checks pass."""
import math
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F


def _slice(x, starts, ends, axes=None, steps=None):
    axes = list(range(len(starts))) if axes is None else [int(a) % x.dim() for a in axes]
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * x.dim()
    for s, e, a, st in zip(starts, ends, axes, steps):
        assert int(st) == 1, "Slice: only step 1 is interpreted"
        n = x.shape[a]
        s, e = int(s), int(e)
        s = max(0, min(n, s + n if s < 0 else s))
        e = max(0, min(n, e + n if e < 0 else e))
        index[a] = slice(s, e)
    return x[tuple(index)]


def _reshape(x, shape):
    shape = [x.shape[i] if int(d) == 0 else int(d) for i, d in enumerate(shape)]
    return x.reshape(shape)


def _unsqueezed(shape, axes):
    out = list(shape)
    for ax in sorted(int(d) % (len(shape) + len(axes)) for d in axes):
        out.insert(ax, 1)
    return out


def _gather(x, idx, axis):
    if idx.dim() == 0:
        return x.select(axis, int(idx))
    return torch.index_select(x, axis, idx.flatten()).reshape(x.shape[:axis] + idx.shape + x.shape[axis + 1:])


def _conv(i, a):
    pads = list(a.get("pads", [0, 0, 0, 0]))
    assert pads[:2] == pads[2:], "Conv: only symmetric pads are interpreted"
    return F.conv2d(i[0], i[1], i[2] if len(i) > 2 else None, list(a.get("strides", [1, 1])), pads[:2],
                    list(a.get("dilations", [1, 1])), a.get("group", 1))


def _max_pool(i, a):
    pads = list(a.get("pads", [0, 0, 0, 0]))
    assert pads[:2] == pads[2:], "MaxPool: only symmetric pads are interpreted"
    return F.max_pool2d(i[0], list(a["kernel_shape"]), list(a.get("strides", a["kernel_shape"])), pads[:2])


def _avg_pool(i, a):
    assert not any(a.get("pads", [])), "AveragePool: only unpadded pooling is interpreted"
    return F.avg_pool2d(i[0], list(a["kernel_shape"]), list(a.get("strides", a["kernel_shape"])), 0,
                        ceil_mode=bool(a.get("ceil_mode", 0)), count_include_pad=bool(a.get("count_include_pad", 0)))


def _resize(i, a):
    # Only what Tessera emits: bilinear with half-pixel centres (PyTorch's align_corners=False) to
    # explicit sizes over the two trailing axes of a 4-D tensor.
    assert a.get("mode") == b"linear" and a.get("coordinate_transformation_mode") == b"half_pixel", a
    assert not a.get("antialias", 0) and i[3] is not None and i[0].dim() == 4
    sizes = [int(s) for s in i[3]]
    assert sizes[:2] == list(i[0].shape[:2]), "Resize: only the trailing axes are interpreted"
    return F.interpolate(i[0], size=sizes[2:], mode="bilinear", align_corners=False)


def _div(i, a):
    if i[0].dtype.is_floating_point:
        return i[0] / i[1]
    return torch.div(i[0], i[1], rounding_mode="trunc")  # integer Div truncates


def _shape(i, a):
    dims = list(i[0].shape)
    return torch.tensor(dims[a.get("start", 0):a["end"]] if "end" in a else dims[a.get("start", 0):], dtype=torch.int64)


def _gemm(i, a):
    A = i[0].t() if a.get("transA", 0) else i[0]
    B = i[1].t() if a.get("transB", 0) else i[1]
    y = a.get("alpha", 1.0) * (A @ B)
    return y + a.get("beta", 1.0) * i[2] if len(i) > 2 else y


def _layer_norm(i, a):
    x = i[0]
    axis = a.get("axis", -1) % x.dim()
    return F.layer_norm(x, x.shape[axis:], i[1], i[2] if len(i) > 2 else None, a.get("epsilon", 1e-5))


OPS = {
    "Conv": _conv,
    "BatchNormalization": lambda i, a: F.batch_norm(i[0], i[3], i[4], i[1], i[2], False, 0.0, a.get("epsilon", 1e-5)),
    "Relu": lambda i, a: F.relu(i[0]),
    "Sigmoid": lambda i, a: torch.sigmoid(i[0]),
    "Tanh": lambda i, a: torch.tanh(i[0]),
    "Erf": lambda i, a: torch.erf(i[0]),
    "MaxPool": _max_pool,
    "GlobalAveragePool": lambda i, a: i[0].mean(dim=tuple(range(2, i[0].dim())), keepdim=True),
    "Flatten": lambda i, a: i[0].reshape(math.prod(i[0].shape[:a.get("axis", 1)]), -1),
    "Gemm": _gemm,
    "MatMul": lambda i, a: torch.matmul(i[0], i[1]),
    "Add": lambda i, a: i[0] + i[1],
    "Sub": lambda i, a: i[0] - i[1],
    "Mul": lambda i, a: i[0] * i[1],
    "Div": _div,
    "Mod": lambda i, a: torch.remainder(i[0], i[1]) if not a.get("fmod", 0) else torch.fmod(i[0], i[1]),
    "Range": lambda i, a: torch.arange(i[0].item(), i[1].item(), i[2].item(), dtype=i[0].dtype),
    "Squeeze": lambda i, a: i[0].squeeze() if len(i) < 2 else i[0].squeeze(tuple(int(d) for d in i[1])),
    "Unsqueeze": lambda i, a: i[0].reshape(_unsqueezed(i[0].shape, i[1].tolist())),
    "AveragePool": _avg_pool,
    "Resize": _resize,
    "Transpose": lambda i, a: i[0].permute(*a.get("perm", list(reversed(range(i[0].dim()))))),
    "Reshape": lambda i, a: _reshape(i[0], i[1].tolist()),
    "Gather": lambda i, a: _gather(i[0], i[1], a.get("axis", 0) % i[0].dim()),
    "Softmax": lambda i, a: F.softmax(i[0], dim=a.get("axis", -1)),
    "LayerNormalization": _layer_norm,
    "Shape": _shape,
    "Slice": lambda i, a: _slice(i[0], *[t.tolist() for t in i[1:]]),
    "Concat": lambda i, a: torch.cat(i, dim=a["axis"]),
    "Expand": lambda i, a: i[0].expand(torch.broadcast_shapes(i[0].shape, tuple(i[1].tolist()))),
    "ReduceMean": lambda i, a: i[0].mean(dim=tuple(a["axes"]), keepdim=bool(a.get("keepdims", 1))),
    "Identity": lambda i, a: i[0],
    "GreaterOrEqual": lambda i, a: i[0] >= i[1],
    "Where": lambda i, a: torch.where(i[0], i[1], i[2]),
}


def evaluate(model, feeds):
    from onnx import helper, numpy_helper

    env = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
    env.update(feeds)
    for n in model.graph.node:
        a = {x.name: helper.get_attribute_value(x) for x in n.attribute}
        if n.op_type == "Constant":
            y = torch.from_numpy(numpy_helper.to_array(a["value"]).copy())
        elif n.op_type in OPS:
            y = OPS[n.op_type]([env[k] if k else None for k in n.input], a)
        else:
            raise SystemExit(f"check_onnx_model: node {n.name}: operator {n.op_type} is not interpreted here")
        env[n.output[0]] = y
    return {o.name: env[o.name] for o in model.graph.output}


def main():
    args = sys.argv[1:]
    use_ort = args[0] == "--onnxruntime"
    path, io = args[1:] if use_ort else args
    with h5py.File(io, "r") as f:
        feeds = {k: f[k][()] for k in f.keys() if k != "logits"}
        ref = f["logits"][()]
    if use_ort:
        import onnxruntime as ort

        got = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(["logits"], feeds)[0]
        what = f"ONNX Runtime {ort.__version__}"
    else:
        import onnx

        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        print(f"{path}: onnx {onnx.__version__} checker (full_check) accepts it: {len(model.graph.node)} nodes, "
              f"{len(model.graph.initializer)} initializers, opset {model.opset_import[0].version}")
        with torch.no_grad():
            got = evaluate(model, {k: torch.from_numpy(v) for k, v in feeds.items()})["logits"].numpy()
        what = "interpreted"
    err = float(np.abs(got - ref).max()) if got.shape == ref.shape else float("inf")
    ok = got.shape == ref.shape and np.allclose(got, ref, rtol=1e-4, atol=1e-4)
    print(f"{path}: {what} logits {got.shape} vs Tessera's {ref.shape}: max abs difference {err:.3g} -> "
          f"{'ok' if ok else 'MISMATCH'}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
