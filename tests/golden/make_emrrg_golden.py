"""Writes tests/fixtures/emrrg_golden.safetensors, the reference of tests/cpu/test_emrrg_model.cpp:
a tiny EMRRG written here from the paper (§3.3-3.5) and NOTES §7-8.

  encoder   a tiny ARM / MambaXray-VL backbone with LoRA_p(X) and conventional LoRA on in_proj
            (tests/golden/vision_mamba_reference.py), run per view; token-wise mean over views
  projector llama_proj Linear(D_vis, hidden), then layer_norm LayerNorm(hidden)
  LLM       a tiny Llama (RMSNorm, rotate-half RoPE, grouped-query attention, SwiGLU; no biases,
            untied lm_head) with hybrid layers at [0, 2]: the visual tokens normalised by the layer's
            input RMSNorm, keys/values from cross_attn_kv_proj (no RoPE), the self-attention queries
            after RoPE attending to them non-causally; o_proj(self + (cross * tanh(gate_proj(self)))
            * tanh(warm_up_gate)); or, for the LoRA case, no hybrid layers and LoRA on q_proj, v_proj
  input     [BOS] prompt-before [visual tokens when the prefix is on] prompt-after report, the
            prompt and report given as ids (no tokenizer), reports right-padded with id 0
  loss      mean NLL of the report tokens (padding ignored)

Cases, for a batch of two two-view studies (<case>.loss and <case>.grad.<name> for every trainable
parameter; the warm-up gate's value in <case>.warm_up_gate):
  prefix_gate0    prefix on, hybrid layers, warm-up gate 0 (the initialisation)
  prefix_gate     prefix on, hybrid layers, warm-up gate 0.7
  noprefix_gate0  prefix off, hybrid layers, gate 0
  noprefix_gate   prefix off, hybrid layers, gate 0.7
  prefix_lora     prefix on, no hybrid layers, LoRA on the LLM (Table 5's L2+LoRA)
Every parameter (param.<name>) is random so that each one matters; weights are drawn in float32, the
references computed in float64 and stored as float32.

Development only; run from the repository root: python3 tests/golden/make_emrrg_golden.py
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
from vision_mamba_reference import AdaptedLinear, VisionMamba, randomise_vision_mamba  # noqa: E402

torch.manual_seed(10)

VOCAB, HIDDEN, HEADS, KV_HEADS, INTER, LAYERS = 32, 16, 4, 2, 24, 3
HEAD_DIM = HIDDEN // HEADS
HYBRID = [0, 2]
LORA_RANK, LORA_SCALE = 2, 0.5
BOS, BEFORE, AFTER = 1, [5, 6, 7], [8, 9, 10, 11]
EPS = 1e-5


class RMSNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * self.weight


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat([-b, a], dim=-1)


def rope(x, positions):
    inv_freq = 1.0 / (10000.0 ** (torch.arange(0, HEAD_DIM, 2, dtype=torch.float64) / HEAD_DIM))
    angles = positions[:, None].double() * inv_freq[None]
    emb = torch.cat([angles, angles], dim=-1)
    return x * emb.cos() + rotate_half(x) * emb.sin()


def attend(q, k, v, mask):
    """q [B, H, L, D], k/v [B, Hkv, Lk, D]; mask [B, 1, L, Lk] bool (True = attend) or None."""
    group = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
    s = q @ k.transpose(-1, -2) / math.sqrt(HEAD_DIM)
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    return torch.softmax(s, dim=-1) @ v


def heads(x, n):
    return x.reshape(x.shape[0], x.shape[1], n, HEAD_DIM).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, hybrid, lora):
        super().__init__()
        self.q_proj = AdaptedLinear(HIDDEN, HEADS * HEAD_DIM)
        self.k_proj = AdaptedLinear(HIDDEN, KV_HEADS * HEAD_DIM)
        self.v_proj = AdaptedLinear(HIDDEN, KV_HEADS * HEAD_DIM)
        self.o_proj = AdaptedLinear(HEADS * HEAD_DIM, HIDDEN)
        if lora:
            for proj in (self.q_proj, self.v_proj):
                proj.attach("lora", 0, proj.weight.shape[0], LORA_RANK, LORA_SCALE)
        self.hybrid = hybrid
        if hybrid:
            self.cross_attn_kv_proj = nn.Linear(HIDDEN, 2 * KV_HEADS * HEAD_DIM)
            self.cross_attn_gate_proj = nn.Linear(HEADS * HEAD_DIM, 1)
            self.cross_attn_warm_up_gate = nn.Parameter(torch.zeros(1))

    def forward(self, x, positions, mask, visual):
        B, L, _ = x.shape
        q = rope(heads(self.q_proj(x), HEADS), positions)
        k = rope(heads(self.k_proj(x), KV_HEADS), positions)
        v = heads(self.v_proj(x), KV_HEADS)
        out = attend(q, k, v, mask)  # [B, H, L, D]
        if self.hybrid:
            kc, vc = self.cross_attn_kv_proj(visual).split(KV_HEADS * HEAD_DIM, dim=-1)
            cross = attend(q, heads(kc, KV_HEADS), heads(vc, KV_HEADS), None)
            merged = out.transpose(1, 2).reshape(B, L, -1)
            g_d = torch.tanh(self.cross_attn_gate_proj(merged))  # [B, L, 1]
            g_s = torch.tanh(self.cross_attn_warm_up_gate)
            out = out + (cross * g_d.reshape(B, 1, L, 1)) * g_s
        return self.o_proj(out.transpose(1, 2).reshape(B, L, -1))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate_proj = nn.Linear(HIDDEN, INTER, bias=False)
        self.up_proj = nn.Linear(HIDDEN, INTER, bias=False)
        self.down_proj = nn.Linear(INTER, HIDDEN, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, hybrid, lora):
        super().__init__()
        self.self_attn = Attention(hybrid, lora)
        self.mlp = MLP()
        self.input_layernorm = RMSNorm(HIDDEN)
        self.post_attention_layernorm = RMSNorm(HIDDEN)

    def forward(self, x, positions, mask, visual):
        normed_visual = self.input_layernorm(visual) if self.self_attn.hybrid else None
        h = x + self.self_attn(self.input_layernorm(x), positions, mask, normed_visual)
        return h + self.mlp(self.post_attention_layernorm(h))


class LlamaModel(nn.Module):
    def __init__(self, hybrid_layers, lora):
        super().__init__()
        self.embed_tokens = nn.Embedding(VOCAB, HIDDEN)
        self.layers = nn.ModuleList([DecoderLayer(i in hybrid_layers, lora) for i in range(LAYERS)])
        self.norm = RMSNorm(HIDDEN)


class Llama(nn.Module):
    def __init__(self, hybrid_layers, lora):
        super().__init__()
        self.model = LlamaModel(hybrid_layers, lora)
        self.lm_head = nn.Linear(HIDDEN, VOCAB, bias=False)

    def forward(self, embeds, key_mask, visual):
        B, L, _ = embeds.shape
        positions = torch.arange(L)
        causal = torch.tril(torch.ones(L, L, dtype=torch.bool))
        mask = causal[None, None] & key_mask[:, None, None, :].bool()
        h = embeds
        for layer in self.model.layers:
            h = layer(h, positions, mask, visual)
        return self.lm_head(self.model.norm(h))


class Emrrg(nn.Module):
    def __init__(self, prefix, hybrid_layers, lora):
        super().__init__()
        self.prefix = prefix
        self.visual_encoder = VisionMamba("arm", image=16, patch=8, dim=16, depth=1, d_state=4, expand=1,
                                          rank=2, scale=0.5)
        self.llama_proj = nn.Linear(16, HIDDEN)
        self.layer_norm = nn.LayerNorm(HIDDEN)
        self.llm = Llama(hybrid_layers, lora)

    def forward(self, images, report_ids, report_mask):
        B, V = images.shape[:2]
        tokens = self.visual_encoder(images.reshape(B * V, *images.shape[2:]))
        visual = tokens.reshape(B, V, *tokens.shape[1:]).mean(1)
        visual = self.layer_norm(self.llama_proj(visual))
        embed = self.llm.model.embed_tokens
        before = embed(torch.tensor([BOS] + BEFORE)).expand(B, -1, -1)
        after = embed(torch.tensor(AFTER)).expand(B, -1, -1)
        parts = [before] + ([visual] if self.prefix else []) + [after]
        prefix_len = sum(p.shape[1] for p in parts)
        embeds = torch.cat(parts + [embed(report_ids)], dim=1)
        key_mask = torch.cat([torch.ones(B, prefix_len), report_mask], dim=1)
        logits = self.llm(embeds, key_mask, visual)
        T = report_ids.shape[1]
        labels = report_ids.masked_fill(report_mask == 0, -100)
        return F.cross_entropy(logits[:, prefix_len - 1:prefix_len - 1 + T].reshape(-1, VOCAB), labels.reshape(-1),
                               ignore_index=-100)


def trainable(name, hybrid, lora):
    if name.startswith("visual_encoder."):
        return ".lora" in name
    if name.startswith(("llama_proj.", "layer_norm.")):
        return True
    return (hybrid and ".cross_attn_" in name) or (lora and ".lora." in name)


# The full parameter set: hybrid layers and LoRA both present, so that every case takes its subset.
reference = Emrrg(True, HYBRID, True)
randomise_vision_mamba(reference.visual_encoder)
with torch.no_grad():
    for name, p in reference.named_parameters():
        if name.startswith("visual_encoder."):
            continue
        if "norm" in name and name.endswith("weight"):
            p.copy_(1 + 0.2 * torch.randn_like(p))
        else:
            p.copy_(torch.randn_like(p) / math.sqrt(max(p.shape[-1], 4)))
params = {n: p.detach().clone() for n, p in reference.named_parameters()}

images = torch.randn(2, 2, 3, 16, 16)
report_ids = torch.tensor([[12, 13, 14, 15, 16, 2], [17, 18, 19, 2, 0, 0]])
report_mask = (torch.arange(6)[None] < torch.tensor([[6], [4]])).float()

out = {"images": images, "report_ids": report_ids, "report_mask": report_mask,
       "prompt": torch.tensor([BOS] + BEFORE + [-1] + AFTER)}
for n, p in params.items():
    out["param." + n] = p

CASES = {
    "prefix_gate0": (True, True, False, 0.0),
    "prefix_gate": (True, True, False, 0.7),
    "noprefix_gate0": (False, True, False, 0.0),
    "noprefix_gate": (False, True, False, 0.7),
    "prefix_lora": (True, False, True, 0.0),
}
for case, (prefix, hybrid, lora, gate) in CASES.items():
    model = Emrrg(prefix, HYBRID if hybrid else [], lora)
    state = {n: params[n] for n, _ in model.named_parameters()}
    for i in HYBRID if hybrid else []:
        state[f"llm.model.layers.{i}.self_attn.cross_attn_warm_up_gate"] = torch.tensor([gate])
    model.load_state_dict(state, strict=True)
    model = model.double()
    for n, p in model.named_parameters():
        p.requires_grad_(trainable(n, hybrid, lora))
    loss = model(images.double(), report_ids, report_mask.double())
    loss.backward()
    out[case + ".loss"] = loss.detach().reshape(1)
    out[case + ".warm_up_gate"] = torch.tensor([gate])
    for n, p in model.named_parameters():
        if p.requires_grad:
            out[case + ".grad." + n] = p.grad.detach().clone()
    print(case, "loss", loss.item(), "trainable tensors", sum(p.requires_grad for p in model.parameters()))

out = {k: (v.float() if v.is_floating_point() else v.long()).contiguous() for k, v in out.items()}
path = "tests/fixtures/emrrg_golden.safetensors"
save_file(out, path)
print(path, os.path.getsize(path), "bytes")
