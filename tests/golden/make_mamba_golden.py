"""Writes tests/fixtures/mamba_{hf,vim,arm}_golden.safetensors, the references of
tests/cpu/test_mamba_models.cpp:

hf.*   a 2-layer Mamba v1 as Hugging Face transformers' MambaModel computes it (its pure-PyTorch
       path: no CUDA kernels, use_mambapy False): token ids, the last hidden state, and the gradient
       of every parameter for the loss sum(hidden * loss_weight).
vim.*  a tiny Vim (bimamba "v2", middle class token, Add -> RMSNorm -> Mixer, NOTES §3) and
arm.*  a tiny ARM / MambaXray-VL backbone (bimamba "v3": row- and column-major scans, LayerNorm,
       SwiGLU MLP, NOTES §4), both written here from the reference code (hustvl/Vim, OliverRensu/ARM
       Finetuning/, mamba_ssm's selective_scan_ref), with LoRA_p(X) and conventional LoRA on in_proj
       (non-zero up weights, dropout 0): images, all output tokens, and every parameter's gradient
       for sum(tokens * loss_weight).

Every parameter is random (not the reference init) so that each one matters. Weights are drawn in
float32 and the references computed in float64, then stored as float32. Parameter names are the checkpoints' names.

Development only; run from the repository root: python3 tests/golden/make_mamba_golden.py
"""
import torch
from safetensors.torch import save_file
from transformers import MambaConfig, MambaModel

from vision_mamba_reference import VisionMamba, randomise_vision_mamba

torch.manual_seed(8)
out = {}


def randomise(module, scale=0.3):
    """Replaces every parameter by float32 noise around its current value (norm weights near 1)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(p.float() + scale * torch.randn_like(p.float()))


def record(prefix, model, inputs, tokens, loss_weight):
    out[prefix + "input"] = inputs
    out[prefix + "output"] = tokens.detach()
    out[prefix + "loss_weight"] = loss_weight
    for name, p in model.named_parameters():
        out[prefix + "param." + name] = p.detach().clone()
        out[prefix + "grad." + name] = p.grad.detach().clone()


# ---------------------------------------------------------------------------------------------
# (b) Hugging Face MambaModel, slow path.
hf_config = MambaConfig(vocab_size=40, hidden_size=32, state_size=8, num_hidden_layers=2, expand=2,
                        conv_kernel=4, use_bias=False, use_conv_bias=True, use_mambapy=False,
                        residual_in_fp32=True, layer_norm_epsilon=1e-5)
hf = MambaModel(hf_config)
randomise(hf)
hf = hf.double()
ids = torch.randint(0, 40, (2, 11))
hidden = hf(input_ids=ids, use_cache=False).last_hidden_state
hf_weight = torch.randn(hidden.shape, dtype=torch.float64)
(hidden * hf_weight).sum().backward()
record("hf.", hf, ids, hidden, hf_weight)


# ---------------------------------------------------------------------------------------------
# (c) Vim and ARM, from the reference code (vision_mamba_reference.py).
for kind, dim, expand in (("vim", 16, 2), ("arm", 24, 1)):
    model = VisionMamba(kind, image=32, patch=8, dim=dim, depth=2, d_state=8, expand=expand, rank=4, scale=0.5)
    randomise_vision_mamba(model)
    model = model.double()
    images = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    tokens = model(images)
    weight = torch.randn(tokens.shape, dtype=torch.float64)
    (tokens * weight).sum().backward()
    record(kind + ".", model, images, tokens, weight)

for prefix in ("hf", "vim", "arm"):
    part = {k[len(prefix) + 1:]: v.contiguous() for k, v in out.items() if k.startswith(prefix + ".")}
    part = {k: v.float() if v.is_floating_point() else v for k, v in part.items()}
    save_file(part, f"tests/fixtures/mamba_{prefix}_golden.safetensors")
    print("wrote", len(part), "tensors for", prefix)
