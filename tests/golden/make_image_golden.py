#!/usr/bin/env python3
"""Development-only: writes the image-preprocessing fixtures the data tests compare against.

Run from the repository root with Pillow and numpy installed (pip install pillow numpy):
    python3 tests/golden/make_image_golden.py
It writes tests/fixtures/images/: input images, Pillow's Image.resize(..., BICUBIC) of each
(what torchvision's Resize does to a PIL image), and resize_golden.json describing the cases,
plus the float32 values of ToTensor+Normalize for every byte value. Nothing at build or test
time runs Python; the outputs are committed.
"""
import json
import os

import numpy as np
from PIL import Image

OUT = os.path.join("tests", "fixtures", "images")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(20240601)


def smooth_noise(h, w, channels):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = 128 + 90 * np.sin(x / 7.0) * np.cos(y / 11.0) + 0.3 * (x - y)
    out = []
    for c in range(channels):
        layer = base + 25 * c + rng.normal(0, 18, size=(h, w))
        # A few hard edges so clipping and ringing are exercised.
        layer[h // 3 : h // 2, w // 4 : w // 2] = 255 if c % 2 == 0 else 0
        out.append(layer)
    arr = np.clip(np.stack(out, axis=-1), 0, 255).astype(np.uint8)
    return arr[..., 0] if channels == 1 else arr


MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
cases = []


def add_case(name, w, h, channels, out_w, out_h):
    arr = smooth_noise(h, w, channels)
    img = Image.fromarray(arr, MODES[channels])
    src = f"{name}_in.png"
    img.save(os.path.join(OUT, src))
    # R2Gen: Image.open(path).convert("RGB"), then transforms.Resize((224, 224)).
    ref = Image.open(os.path.join(OUT, src)).convert("RGB").resize((out_w, out_h), Image.BICUBIC)
    dst = f"{name}_pil.png"
    ref.save(os.path.join(OUT, dst))
    cases.append({"input": src, "expected_rgb": dst, "width": out_w, "height": out_h})


add_case("grey_shrink", 300, 260, 1, 224, 224)
add_case("rgb_enlarge", 61, 43, 3, 100, 90)
add_case("rgba_mixed", 97, 131, 4, 40, 200)
add_case("la_tiny", 13, 7, 2, 5, 3)
add_case("grey_column", 1, 50, 1, 3, 17)
add_case("rgb_width_only", 80, 24, 3, 33, 24)

# A JPEG: stb_image's decoder and libjpeg differ slightly, so this one has a tolerance.
arr = smooth_noise(100, 120, 1)
Image.fromarray(arr, "L").save(os.path.join(OUT, "grey_jpeg_in.jpg"), quality=90)
ref = Image.open(os.path.join(OUT, "grey_jpeg_in.jpg")).convert("RGB").resize((64, 64), Image.BICUBIC)
ref.save(os.path.join(OUT, "grey_jpeg_pil.png"))
cases.append({"input": "grey_jpeg_in.jpg", "expected_rgb": "grey_jpeg_pil.png", "width": 64, "height": 64,
              "jpeg": True})

# ToTensor + Normalize (ImageNet) in float32, for every byte value and channel.
mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
std = np.array([0.229, 0.224, 0.225], dtype=np.float32)
v = np.arange(256, dtype=np.float32) / np.float32(255)
normalised = [((v - mean[c]) / std[c]).astype(np.float32) for c in range(3)]
with open(os.path.join(OUT, "resize_golden.json"), "w") as f:
    json.dump({"cases": cases,
               "normalise_imagenet": [[float(x) for x in ch] for ch in normalised]}, f, indent=1)
print("wrote", len(cases), "cases to", OUT)
