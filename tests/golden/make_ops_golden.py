"""Writes tests/fixtures/ops_golden.safetensors: inputs and PyTorch outputs for the CPU ops.

Development only (pip install torch safetensors); the fixture is committed and CI never runs
Python. Run from the repository root: python3 tests/golden/make_ops_golden.py
"""
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(0)
t = {}
x = torch.randn(4, 7, dtype=torch.float32) * 3
x[0, 0] = 25.0  # above softplus' threshold
x[0, 1] = -30.0
t["x"] = x
t["gelu"] = F.gelu(x)
t["gelu_tanh"] = F.gelu(x, approximate="tanh")
t["silu"] = F.silu(x)
t["softplus"] = F.softplus(x)
t["softplus_beta2_thr5"] = F.softplus(x, beta=2.0, threshold=5.0)
t["sigmoid"] = torch.sigmoid(x)
t["softmax_dim0"] = torch.softmax(x, 0)
t["log_softmax_dim1"] = torch.log_softmax(x, 1)
t["var_dim1"] = x.var(1)
t["var_all_unbiased0"] = x.var(unbiased=False).reshape(())
target = torch.tensor([3, -100, 0, 6])
t["ce_target"] = target
t["cross_entropy"] = F.cross_entropy(x, target, ignore_index=-100).reshape(())
w = torch.randn(7)
b = torch.randn(7)
t["ln_weight"], t["ln_bias"] = w, b
t["layer_norm"] = F.layer_norm(x, (7,), w, b, 1e-5)


def hf_rms_norm(h, weight, eps):
    dtype = h.dtype
    h32 = h.to(torch.float32)
    var = h32.pow(2).mean(-1, keepdim=True)
    return weight * (h32 * torch.rsqrt(var + eps)).to(dtype)


t["rms_norm"] = hf_rms_norm(x, w, 1e-5)
xb = x.to(torch.bfloat16)
t["x_bf16"] = xb
t["rms_norm_bf16"] = hf_rms_norm(xb, w.to(torch.bfloat16), 1e-5)
img = torch.randn(2, 3, 9, 8)
cw = torch.randn(5, 3, 4, 4)
cb = torch.randn(5)
t["img"], t["conv_w"], t["conv_b"] = img, cw, cb
t["patch_conv2d"] = F.conv2d(img, cw, cb, stride=4)
a = torch.randn(2, 3, 5)
bm = torch.randn(5, 4)
t["mm_a"], t["mm_b"] = a, bm
t["matmul"] = a @ bm
vals = torch.tensor([1.00390625, 1.01171875, 1.0039, 1.004, -3.14159, 65504.0, 1e-8, 3e38], dtype=torch.float32)
t["round_src"] = vals
t["round_bf16"] = vals.to(torch.bfloat16)
t["round_f16"] = vals.to(torch.float16)
save_file({k: v.contiguous() for k, v in t.items()}, "tests/fixtures/ops_golden.safetensors")
print("wrote", len(t), "tensors")
