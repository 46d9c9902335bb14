"""Writes tests/fixtures/llama_ops_golden.safetensors: rotary, attention and swiglu as the
references compute them, forward values and the gradients of sum(w * output).

- rotary, rotate_half pairing: transformers' LlamaRotaryEmbedding + apply_rotary_pos_emb;
- rotary, interleaved pairing: Meta's llama reference (precompute_freqs_cis, apply_rotary_emb:
  float32 complex products of pairs (2i, 2i+1)), which llama2.c computes the same way;
- attention: torch.nn.functional.scaled_dot_product_attention with enable_gqa, an explicit mask
  where causal is aligned at the end (Lq != Lk) or keys are padded; lse from the scores in float64;
- swiglu: F.silu(gate) * up, as LlamaMLP computes it.

Development only (pip install torch transformers safetensors); the fixture is committed and CI
never runs Python. Run from the repository root: python3 tests/golden/make_llama_ops_golden.py
"""
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from transformers import LlamaConfig
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb

torch.manual_seed(0)
t = {}


def with_grads(name, fn, inputs):
    """Stores fn(*inputs) and the gradients of sum(w * fn) for a random w."""
    leaves = [x.detach().clone().requires_grad_(True) for x in inputs]
    for i, x in enumerate(inputs):
        t[f"{name}_in{i}"] = x.detach().clone()
    out = fn(*leaves)
    w = torch.randn(out.shape, dtype=torch.float32).to(out.dtype)
    (out * w).sum().backward()
    t[name + "_out"] = out.detach()
    t[name + "_w"] = w
    for i, leaf in enumerate(leaves):
        t[f"{name}_grad{i}"] = leaf.grad


# -- rotary: x [B, H, L, D], positions [B, L] (a left-padded batch starts later)
B, H, L, D = 2, 3, 5, 8
positions = torch.tensor([[0, 1, 2, 3, 4], [7, 8, 9, 10, 11]], dtype=torch.int64)
t["rope_positions"] = positions
x = torch.randn(B, H, L, D)


def hf_rope(theta):
    config = LlamaConfig(hidden_size=H * D, num_attention_heads=H, rope_theta=theta)
    rope = LlamaRotaryEmbedding(config)

    def fn(q):
        cos, sin = rope(q, positions)
        return apply_rotary_pos_emb(q, q, cos, sin)[0]

    return fn


with_grads("rope_half", hf_rope(10000.0), [x])
with_grads("rope_half_bf16", hf_rope(1e6), [x.to(torch.bfloat16)])


def meta_rope(q):
    # precompute_freqs_cis + apply_rotary_emb of Meta's llama/model.py, for [B, H, L, D] and
    # per-batch positions: pairs (2i, 2i + 1) as complex numbers.
    freqs = 1.0 / (10000.0 ** (torch.arange(0, D, 2)[: D // 2].float() / D))
    angles = positions[..., None].float() * freqs  # [B, L, D/2]
    freqs_cis = torch.polar(torch.ones_like(angles), angles)[:, None]  # [B, 1, L, D/2]
    qc = torch.view_as_complex(q.float().reshape(*q.shape[:-1], -1, 2))
    return torch.view_as_real(qc * freqs_cis).flatten(3).type_as(q)


with_grads("rope_interleaved", meta_rope, [x])

# -- attention: q [B, Hq, Lq, hd], k, v [B, Hk, Lk, hd]


def attention_case(name, b, hq, hk, lq, lk, hd, causal, padded, scale, dtype=torch.float32):
    q = torch.randn(b, hq, lq, hd)
    k = torch.randn(b, hk, lk, hd)
    v = torch.randn(b, hk, lk, hd)
    keep = torch.ones(b, lk, dtype=torch.bool)
    if padded:
        for i in range(b):
            keep[i, : 3 * i + 1] = False  # left padding, batch i hides its first 3i + 1 keys
    allowed = keep[:, None, None, :].expand(b, 1, lq, lk).clone()
    if causal:
        i = torch.arange(lq)[:, None]
        j = torch.arange(lk)[None, :]
        allowed &= j <= i + (lk - lq)
    assert allowed.any(-1).all(), "every row must see a key (SDPA gives NaN otherwise)"
    t[name + "_keep"] = keep.to(torch.uint8)

    def fn(q_, k_, v_):
        return F.scaled_dot_product_attention(q_, k_, v_, attn_mask=allowed, scale=scale, enable_gqa=True)

    inputs = [x.to(dtype) for x in (q, k, v)]
    if dtype == torch.float32:
        with_grads(name, fn, inputs)
    else:
        for i, x in enumerate(inputs):
            t[f"{name}_in{i}"] = x.detach().clone()
        t[name + "_out"] = fn(*inputs)
    group = hq // hk
    kr = inputs[1].double().repeat_interleave(group, dim=1)
    s = inputs[0].double() @ kr.transpose(-1, -2) * (scale if scale else hd ** -0.5)
    t[name + "_lse"] = s.masked_fill(~allowed, float("-inf")).logsumexp(-1).float()


attention_case("attn_causal_gqa", 2, 4, 2, 40, 40, 16, True, False, None)
attention_case("attn_cache_padded", 2, 2, 1, 20, 70, 8, True, True, 0.3)
attention_case("attn_padded_bf16", 2, 4, 4, 33, 33, 16, False, True, None, torch.bfloat16)

# -- swiglu
gate = torch.randn(3, 40) * 3
up = torch.randn(3, 40)
with_grads("swiglu", lambda g, u: F.silu(g) * u, [gate, up])
t["swiglu_bf16_in0"] = gate.to(torch.bfloat16)
t["swiglu_bf16_in1"] = up.to(torch.bfloat16)
t["swiglu_bf16_out"] = F.silu(t["swiglu_bf16_in0"]) * t["swiglu_bf16_in1"]

save_file({k: v.contiguous() for k, v in t.items()}, "tests/fixtures/llama_ops_golden.safetensors")
print("wrote", len(t), "tensors")
