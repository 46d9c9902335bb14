"""Writes tests/fixtures/encode/, the golden of `emrrg encode` (tests/cpu/test_encode.cpp):

- phantom_a.png (grey, 48x40) and phantom_b.png (RGB, 26x30): small chest-X-ray-like phantoms
  (body, two lungs, spine, ribs, noise), one shrunk and one enlarged by the preprocessing.
- vim_tiny.pth, arm_tiny.pth: the tiny Vim and ARM encoders of make_mamba_golden.py (same sizes,
  LoRA_p(X) + in_proj LoRA with non-zero up weights, other random values), saved by torch.save
  the way released checkpoints are: Vim as {"model": state dict (with a classifier head the
  encoder leaves out), "args": argparse.Namespace}; ARM as {"state_dict": "module."-prefixed
  state dict, "args", "epoch"}. Several tensors are stored as float16, bfloat16 or float64 (the
  model computes with those rounded values), two tensors share one storage, two are transposed
  (non-contiguous) views.
- vim_tiny.toml, arm_tiny.toml: their [vision] tables.
- vim_features.safetensors, arm_features.safetensors: `features` [2, 17, width] float32, computed
  in float64 from the images preprocessed as NOTES §9 (PIL convert("RGB"), resize((32, 32),
  BICUBIC), /255, ImageNet mean/std in float32).

Development only; run from the repository root (needs Pillow):
  /work/pyenv/bin/python tests/golden/make_encode_golden.py
"""
import argparse
import collections
import pathlib
import zipfile

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

from vision_mamba_reference import VisionMamba, randomise_vision_mamba

OUT = pathlib.Path("tests/fixtures/encode")
OUT.mkdir(parents=True, exist_ok=True)
torch.manual_seed(9)
rng = np.random.default_rng(9)
IMAGE, PATCH, DEPTH, D_STATE, RANK, SCALE = 32, 8, 2, 8, 4, 0.5


def phantom(w, h):
    """Grey levels of a frontal chest phantom: bright body, dark lungs, bright spine and ribs."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = (x + 0.5) / w * 2 - 1, (y + 0.5) / h * 2 - 1
    img = np.full((h, w), 20.0)
    img[(u / 0.9) ** 2 + (v / 1.05) ** 2 < 1] = 170
    for cx in (-0.42, 0.42):
        lung = ((u - cx) / 0.3) ** 2 + ((v + 0.05) / 0.7) ** 2 < 1
        img[lung] = 60
        ribs = lung & (np.abs(np.sin((v + 0.3 * np.abs(u - cx)) * 14)) < 0.25)
        img[ribs] = 115
    img[np.abs(u) < 0.09] = 210
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


grey = phantom(48, 40)
Image.fromarray(grey, "L").save(OUT / "phantom_a.png")
tint = phantom(26, 30).astype(np.float64)
rgb = np.stack([tint, tint * 0.93 + 8, tint * 0.88 + 15], axis=-1)
Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB").save(OUT / "phantom_b.png")
image_files = ["phantom_a.png", "phantom_b.png"]


def preprocess(path):
    img = Image.open(path).convert("RGB").resize((IMAGE, IMAGE), Image.BICUBIC)
    t = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float().div(255)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    return t.sub(mean).div(std)


images = torch.stack([preprocess(OUT / f) for f in image_files]).double()


def toml_table(kind, dim, expand):
    return (f'# The tiny {kind} encoder of tests/golden/make_encode_golden.py.\n[vision]\nkind = "{kind}"\n'
            f"image_size = {IMAGE}\npatch_size = {PATCH}\nd_model = {dim}\ndepth = {DEPTH}\nd_state = {D_STATE}\n"
            f"expand = {expand}\n\n[vision.peft]\nlora_p_x = true\nlora_in_proj = true\nrank = {RANK}\n"
            f"scale = {SCALE}\ndropout = 0.0\n")


def state_dict_for_saving(model, dtypes, shared, transposed):
    """The model's parameters as torch.save should see them: `dtypes` name -> storage dtype (the
    model keeps the rounded value), `shared` two names stored as views of one storage,
    `transposed` names stored as transposed views of a contiguous transpose."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in dtypes:
                p.copy_(p.to(dtypes[name]).float())
    params = dict(model.named_parameters())
    sd = collections.OrderedDict()
    for name, p in params.items():
        t = p.detach().to(dtypes.get(name, torch.float32))
        sd[name] = t.t().contiguous().t() if name in transposed else t.clone()
    a, b = shared
    flat = torch.cat([sd[a].flatten(), sd[b].flatten()])
    sd[a] = flat[: sd[a].numel()].view(sd[a].shape)
    sd[b] = flat[sd[a].numel():].view(sd[b].shape)
    for name in transposed:
        assert not sd[name].is_contiguous()
    return sd


def storage_records(path):
    return sum(1 for n in zipfile.ZipFile(path).namelist() if "/data/" in n and not n.endswith("serialization_id"))


cases = {
    "vim": dict(
        dim=16, expand=2,
        dtypes={"patch_embed.proj.weight": torch.float16, "pos_embed": torch.bfloat16, "cls_token": torch.float64,
                "layers.1.mixer.A_log": torch.float64, "norm_f.weight": torch.bfloat16,
                "layers.0.mixer.in_proj.lora_x.up.weight": torch.float16},
        shared=("layers.0.mixer.D", "layers.0.mixer.D_b"),
        transposed=["layers.0.mixer.in_proj.weight", "layers.1.mixer.x_proj.weight"]),
    "arm": dict(
        dim=24, expand=1,
        dtypes={"layers.0.mlp.w1.weight": torch.bfloat16, "layers.0.norm1.weight": torch.float16,
                "layers.1.mixer.A_c_log": torch.float64, "pos_embed": torch.float16},
        shared=("layers.1.mixer.A_log", "layers.1.mixer.A_b_log"),
        transposed=["layers.0.mlp.w3.weight", "layers.1.mixer.out_proj.weight"]),
}

for kind, case in cases.items():
    model = VisionMamba(kind, image=IMAGE, patch=PATCH, dim=case["dim"], depth=DEPTH, d_state=D_STATE,
                        expand=case["expand"], rank=RANK, scale=SCALE)
    randomise_vision_mamba(model)
    sd = state_dict_for_saving(model, case["dtypes"], case["shared"], case["transposed"])
    args = argparse.Namespace(model=f"{kind}_tiny_golden", input_size=IMAGE, lr=1e-3, seed=9, finetune="")
    if kind == "vim":
        sd["head.weight"] = torch.randn(3, case["dim"])  # Vim's classifier; the encoder has none
        sd["head.bias"] = torch.zeros(3)
        checkpoint = {"model": sd, "args": args}
    else:
        checkpoint = {"state_dict": collections.OrderedDict(("module." + k, v) for k, v in sd.items()),
                      "args": args, "epoch": 3}
    path = OUT / f"{kind}_tiny.pth"
    torch.save(checkpoint, path)
    assert storage_records(path) == len(sd) - 1, "the shared storage was saved twice"
    (OUT / f"{kind}_tiny.toml").write_text(toml_table(kind, case["dim"], case["expand"]))
    with torch.no_grad():
        features = model.double()(images)
    save_file({"features": features.float().contiguous()}, OUT / f"{kind}_features.safetensors")
    print(kind, tuple(features.shape), "max |feature|", float(features.abs().max()))

for p in sorted(OUT.iterdir()):
    print(p, p.stat().st_size)
