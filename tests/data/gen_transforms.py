# Golden values for tests/data/test_transforms.cpp: torchvision 0.14 tensor functional transforms
# and PIL image decoding on fixed inputs. Run: /usr/bin/python3 tests/data/gen_transforms.py
import io
import os

import h5py
import numpy as np
import torch
import torch.nn.functional as Fnn
import torchvision.transforms.functional as F
from PIL import Image

torch.manual_seed(0)
here = os.path.dirname(os.path.abspath(__file__))
out = h5py.File(os.path.join(here, "golden", "transforms.h5"), "w")


def put(name, t):
    a = t.numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    out.create_dataset(name, data=a)


img = torch.rand(3, 13, 17, dtype=torch.float32)
put("input", img)
b = img.unsqueeze(0)

# resize: torch interpolate semantics (what torchvision's tensor resize calls)
put("resize_bilinear_aa_7x9", Fnn.interpolate(b, size=(7, 9), mode="bilinear", align_corners=False, antialias=True)[0])
put("resize_bilinear_7x9", Fnn.interpolate(b, size=(7, 9), mode="bilinear", align_corners=False)[0])
put("resize_bilinear_aa_20x25", Fnn.interpolate(b, size=(20, 25), mode="bilinear", align_corners=False, antialias=True)[0])
put("resize_bilinear_20x25", F.resize(img, [20, 25], interpolation=F.InterpolationMode.BILINEAR))
put("resize_nearest_7x9", F.resize(img, [7, 9], interpolation=F.InterpolationMode.NEAREST))
put("resize_nearest_20x25", F.resize(img, [20, 25], interpolation=F.InterpolationMode.NEAREST))
put("resize_bilinear_aa_5x30", Fnn.interpolate(b, size=(5, 30), mode="bilinear", align_corners=False, antialias=True)[0])
put("resize_int10_shape", np.array(F.resize(img, 10).shape, dtype=np.int64))
put("resize_int10_max12_shape", np.array(F.resize(img, 10, max_size=12).shape, dtype=np.int64))

put("center_crop_8x8", F.center_crop(img, [8, 8]))
put("center_crop_16x20", F.center_crop(img, [16, 20]))
put("center_crop_6x11", F.center_crop(img, [6, 11]))
put("pad_constant", F.pad(img, [1, 2, 3, 4], fill=0.5, padding_mode="constant"))
put("pad_edge", F.pad(img, [1, 2, 3, 4], padding_mode="edge"))
put("pad_reflect", F.pad(img, [1, 2, 3, 4], padding_mode="reflect"))
put("hflip", F.hflip(img))
put("vflip", F.vflip(img))
put("rotate_30_bilinear_fill", F.rotate(img, 30.0, interpolation=F.InterpolationMode.BILINEAR, fill=[0.1, 0.2, 0.3]))
put("rotate_m45_nearest", F.rotate(img, -45.0, interpolation=F.InterpolationMode.NEAREST, fill=0.0))
put("rotate_90_bilinear", F.rotate(img, 90.0, interpolation=F.InterpolationMode.BILINEAR, fill=0.0))
put("rotate_12_bilinear_nofill", F.rotate(img, 12.5, interpolation=F.InterpolationMode.BILINEAR))
put("gray", F.rgb_to_grayscale(img))
put("brightness_1.3", F.adjust_brightness(img, 1.3))
put("contrast_0.6", F.adjust_contrast(img, 0.6))
put("contrast_1.8", F.adjust_contrast(img, 1.8))
put("saturation_1.7", F.adjust_saturation(img, 1.7))
put("saturation_0.2", F.adjust_saturation(img, 0.2))
put("hue_0.2", F.adjust_hue(img, 0.2))
put("hue_m0.35", F.adjust_hue(img, -0.35))
# a few grey pixels (max == min) to exercise the hue special case
grey = img.clone()
grey[:, 0, :] = grey[0, 0, :]
put("input_grey_rows", grey)
put("hue_grey_0.1", F.adjust_hue(grey, 0.1))
put("normalize", F.normalize(img, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]))

# PIL decoding parity: a JPEG and a PNG written by PIL, and PIL's decoded pixels.
rng = np.random.default_rng(0)
base = (np.stack(np.meshgrid(np.arange(24), np.arange(20)), -1).sum(-1) * 5 % 256).astype(np.uint8)
rgb = np.stack([base, 255 - base, rng.integers(0, 256, base.shape, dtype=np.uint8)], -1)
for fmt, kw in (("jpeg", {"quality": 85}), ("png", {})):
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=fmt.upper(), **kw)
    data = buf.getvalue()
    put(f"{fmt}_bytes", np.frombuffer(data, dtype=np.uint8))
    im = Image.open(io.BytesIO(data))
    put(f"{fmt}_rgb", np.asarray(im.convert("RGB")))
    put(f"{fmt}_L", np.asarray(im.convert("L")))
out.close()

# CIFAR python-batch pickles as Python 3 writes them (protocol 2: bytes via _codecs.encode;
# protocol 4: BINBYTES, SHORT_BINUNICODE, MEMOIZE, FRAME, STACK_GLOBAL), for the pickle reader.
import pickle

out = h5py.File(os.path.join(here, "golden", "transforms.h5"), "a")
data = (np.arange(3 * 3072) % 251).astype(np.uint8).reshape(3, 3072)
batch = {b"batch_label": b"testing batch 1 of 1", b"labels": [3, 0, 9], b"data": data,
         b"filenames": [b"a.png", b"b.png", b"c.png"]}
for proto in (2, 4):
    put(f"cifar10_pickle_p{proto}", np.frombuffer(pickle.dumps(batch, protocol=proto), dtype=np.uint8))
put("cifar10_pickle_data", data)
out.close()
