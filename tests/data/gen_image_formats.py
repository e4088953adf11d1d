# Fixtures and golden pixels for tests/data/test_image_formats.cpp: small images in every format
# torchvision's ImageFolder reads beyond JPEG/PNG (BMP, PPM/PGM, TIFF, WebP), written by PIL, and
# the pixels PIL decodes from them (what torchvision's loader, Image.open(f).convert("RGB"), gives).
# Run: /usr/bin/python3 tests/data/gen_image_formats.py
#
# Datasets in golden/image_formats.h5, per fixture file <name>.<ext> (key "<name>_<ext>"):
#   rgb    uint8 [H, W, 3]: Image.open(f).convert("RGB")
#   native uint8 [H, W, C]: the stored layout (L: 1, LA: 2, RGB: 3, RGBA: 4; palettes expand to RGB);
#          16-bit grey keeps its high byte (v >> 8): PIL's own convert("RGB") clips I;16 at 255
#          instead, which whitens every real 16-bit image, so Tessera scales (see README).
import os

import h5py
import numpy as np
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
fix = os.path.join(here, "golden", "image_formats")
os.makedirs(fix, exist_ok=True)
rng = np.random.default_rng(16)
H, W = 9, 7
rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
rgba = rng.integers(0, 256, (H, W, 4), dtype=np.uint8)
gray = rng.integers(0, 256, (H, W), dtype=np.uint8)
gray16 = rng.integers(0, 65536, (H, W), dtype=np.uint16)
pal = Image.fromarray(rgb).quantize(colors=16)  # mode P, 16-entry palette

# name -> (image, format, save options). strip_size (bytes per strip) below the image size makes
# PIL write several strips, the layout large scanned TIFFs have.
files = {
    "rgb.bmp": (Image.fromarray(rgb), "BMP", {}),
    "gray.bmp": (Image.fromarray(gray), "BMP", {}),
    "pal.bmp": (pal, "BMP", {}),
    "rgba.bmp": (Image.fromarray(rgba), "BMP", {}),
    "rgb.ppm": (Image.fromarray(rgb), "PPM", {}),
    "gray.pgm": (Image.fromarray(gray), "PPM", {}),
    "rgb.tif": (Image.fromarray(rgb), "TIFF", {}),
    "rgb_strips.tif": (Image.fromarray(rgb), "TIFF", {"strip_size": 2 * W * 3}),
    "rgb_lzw_strips.tif": (Image.fromarray(rgb), "TIFF", {"compression": "tiff_lzw", "strip_size": 3 * W * 3}),
    "gray_deflate.tiff": (Image.fromarray(gray), "TIFF", {"compression": "tiff_adobe_deflate"}),
    "gray16_strips.tif": (Image.fromarray(gray16), "TIFF", {"strip_size": 2 * W * 2}),
    "pal.tif": (pal, "TIFF", {}),
    "rgba.tif": (Image.fromarray(rgba), "TIFF", {}),
    "la.tif": (Image.fromarray(rgba[..., :2].copy(), mode="LA"), "TIFF", {}),
    "rgb_lossless.webp": (Image.fromarray(rgb), "WEBP", {"lossless": True}),
    "rgb_lossy.webp": (Image.fromarray(rgb), "WEBP", {"quality": 80}),
    "rgba_lossless.webp": (Image.fromarray(rgba), "WEBP", {"lossless": True}),
}
for name, (im, fmt, opts) in files.items():
    im.save(os.path.join(fix, name), fmt, **opts)

# 16-bit PGM (maxval 65535, big-endian samples): PIL writes no 16-bit PNM, so it is written here
# (PIL reads it, for the golden).
with open(os.path.join(fix, "gray16.pgm"), "wb") as f:
    f.write(b"P5\n%d %d\n65535\n" % (W, H))
    f.write(gray16.astype(">u2").tobytes())
files["gray16.pgm"] = None


def native(im):
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        return (np.asarray(im).astype(np.uint32) >> 8).astype(np.uint8)[..., None]
    if im.mode == "P":
        return np.asarray(im.convert("RGB"))
    a = np.asarray(im)
    return a[..., None] if a.ndim == 2 else a


with h5py.File(os.path.join(here, "golden", "image_formats.h5"), "w") as out:
    for name in sorted(files):
        im = Image.open(os.path.join(fix, name))
        key = name.replace(".", "_")
        out.create_dataset(key + "/native", data=native(im))
        rgb_out = np.asarray(im.convert("RGB")) if not im.mode.startswith("I") else np.repeat(native(im), 3, axis=2)
        out.create_dataset(key + "/rgb", data=rgb_out)
        print(name, im.mode, out[key + "/native"].shape)
