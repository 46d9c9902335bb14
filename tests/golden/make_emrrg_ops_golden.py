"""Writes tests/fixtures/emrrg_ops_golden.safetensors: EMRRG's gated cross-attention and the
LoRA linear composed from PyTorch ops, forward values and the gradients of sum(w * output).

- gated cross-attention (paper 3.4, NOTES section 7): cross = F.scaled_dot_product_attention of
  the text queries over the visual keys/values (enable_gqa, non-causal, visual key padding as a
  boolean mask), out = self_out + (cross * tanh(gate_logit)) * tanh(warm_up); once with the
  warm-up gate at 0.4 and once at 0 (then k, v and gate_logit get zero gradients);
- LoRA linear: F.linear(x, W, bias) with s * F.linear(F.linear(x, A), B) added into the output
  rows [row0, row0 + rows) the way MambaPEFT adds LoRA_p(X) into in_proj's output (xz[..., rows]
  = xz[..., rows] + s * lora(x)); W frozen, x, A, B and bias trained.

Development only (pip install torch safetensors); the fixture is committed and CI never runs
Python. Run from the repository root: python3 tests/golden/make_emrrg_ops_golden.py
"""
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(0)
t = {}


def with_grads(name, fn, inputs):
    """Stores fn(*inputs) and the gradients of sum(w * fn) for a random w."""
    leaves = [x.detach().clone().requires_grad_(True) for x in inputs]
    for i, x in enumerate(inputs):
        t[f"{name}_in{i}"] = x.detach().clone()
    out = fn(*leaves)
    w = torch.randn(out.shape, dtype=torch.float32)
    (out * w).sum().backward()
    t[name + "_out"] = out.detach()
    t[name + "_w"] = w
    for i, leaf in enumerate(leaves):
        t[f"{name}_grad{i}"] = leaf.grad


# -- gated cross-attention: q, self_out [B, Hq, Lt, hd]; k, v [B, Hk, Lv, hd]; gate [B, Lt, 1] or
# [B, Lt]; warm_up [1]


def gated_case(name, b, hq, hk, lt, lv, hd, padded, gate_3d, warm_up):
    q = torch.randn(b, hq, lt, hd)
    k = torch.randn(b, hk, lv, hd)
    v = torch.randn(b, hk, lv, hd)
    self_out = torch.randn(b, hq, lt, hd)
    gate = torch.randn(b, lt, 1) * 2 if gate_3d else torch.randn(b, lt) * 2
    w = torch.tensor([warm_up])
    keep = torch.ones(b, lv, dtype=torch.bool)
    if padded:
        for i in range(b):
            keep[i, lv - 5 * i - 3:] = False  # right padding, batch i hides its last 5i + 3 keys
    t[name + "_keep"] = keep.to(torch.uint8)

    def fn(q_, k_, v_, self_, gate_, w_):
        cross = F.scaled_dot_product_attention(q_, k_, v_, attn_mask=keep[:, None, None, :], enable_gqa=True)
        g_d = torch.tanh(gate_ if gate_3d else gate_[..., None])[:, None]  # [B, 1, Lt, 1]
        return self_ + (cross * g_d) * torch.tanh(w_)

    with_grads(name, fn, [q, k, v, self_out, gate, w])


gated_case("gxa_gqa_padded", 2, 4, 2, 37, 70, 16, True, True, 0.4)
gated_case("gxa_warm_up_zero", 2, 2, 1, 9, 20, 8, False, False, 0.0)
assert t["gxa_warm_up_zero_grad1"].abs().max() == 0 and t["gxa_warm_up_zero_grad4"].abs().max() == 0

# -- LoRA linear


def lora_case(name, x_shape, out, r, rows, row0, scale):
    n_in = x_shape[-1]
    x = torch.randn(*x_shape)
    weight = torch.randn(out, n_in) / n_in ** 0.5
    bias = torch.randn(out)
    a = torch.randn(r, n_in) / n_in ** 0.5
    b = torch.randn(rows, r)
    t[name + "_weight"] = weight
    t[name + "_row0"] = torch.tensor([row0], dtype=torch.int64)
    t[name + "_scale"] = torch.tensor([scale], dtype=torch.float64)
    leaves = {k: v.clone().requires_grad_(True) for k, v in (("x", x), ("a", a), ("b", b), ("bias", bias))}
    y = F.linear(leaves["x"], weight, leaves["bias"])
    y[..., row0:row0 + rows] = y[..., row0:row0 + rows] + scale * F.linear(F.linear(leaves["x"], leaves["a"]), leaves["b"])
    w = torch.randn(y.shape)
    (y * w).sum().backward()
    t[name + "_y"] = y.detach()
    t[name + "_w"] = w
    for k, leaf in leaves.items():
        t[name + "_" + k] = leaf.detach()
        t[name + "_grad_" + k] = leaf.grad


lora_case("lora_full", (2, 9, 40), 48, 8, 48, 0, 0.5)
lora_case("lora_partial", (17, 40), 48, 4, 16, 16, 2.0)

save_file({k: v.contiguous() for k, v in t.items()}, "tests/fixtures/emrrg_ops_golden.safetensors")
print("wrote", len(t), "tensors")
