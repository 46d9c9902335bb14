"""Tiny Vim (bimamba "v2") and ARM / MambaXray-VL (bimamba "v3") encoders written from the
reference code (hustvl/Vim, OliverRensu/ARM Finetuning/, mamba_ssm's selective_scan_ref; NOTES
§3-4), with LoRA_p(X) and conventional LoRA on in_proj. Shared by the golden scripts beside it
(make_mamba_golden.py, make_encode_golden.py). Parameter names are the checkpoints' names.

Development only.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def selective_scan_ref(u, delta, A, B, C, D, z, delta_bias):
    """mamba_ssm's selective_scan_ref with delta_softplus: u, delta, z (b, d, l); B, C (b, n, l)."""
    delta = F.softplus(delta + delta_bias[..., None])
    delta_a = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
    delta_b_u = torch.einsum("bdl,bnl,bdl->bdln", delta, B, u)
    x = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    for i in range(u.shape[2]):
        x = delta_a[:, :, i] * x + delta_b_u[:, :, i]
        ys.append(torch.einsum("bdn,bn->bd", x, C[:, :, i]))
    y = torch.stack(ys, dim=2) + u * D[:, None]
    return y * F.silu(z)


class LoRA(nn.Module):
    def __init__(self, n_in, n_out, rank):
        super().__init__()
        self.down = nn.Linear(n_in, rank, bias=False)
        self.up = nn.Linear(rank, n_out, bias=False)  # zero in a fresh adapter; random here


class AdaptedLinear(nn.Module):
    """A Linear whose adapters (name -> first output row) add s * up(down(x)) into their rows."""

    def __init__(self, n_in, n_out, bias=False):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_out, n_in))
        self.bias = nn.Parameter(torch.empty(n_out)) if bias else None
        self.adapters = []
        self.scale = 1.0

    def attach(self, name, begin, end, rank, scale):
        setattr(self, name, LoRA(self.weight.shape[1], end - begin, rank))
        self.adapters.append((name, begin, end))
        self.scale = scale

    def forward(self, x, with_bias=True):
        y = F.linear(x, self.weight, self.bias if with_bias else None)
        for name, begin, end in self.adapters:
            lora = getattr(self, name)
            d = self.scale * lora.up(lora.down(x))
            y = torch.cat([y[..., :begin], y[..., begin:end] + d, y[..., end:]], dim=-1)
        return y


class Mixer(nn.Module):
    def __init__(self, d_model, d_state, expand, bimamba, rank, scale):
        super().__init__()
        self.di, self.n, self.r = expand * d_model, d_state, math.ceil(d_model / 16)
        self.bimamba = bimamba
        self.suffixes = {"v2": ["", "_b"], "v3": ["", "_b", "_c", "_c_b"]}[bimamba]
        self.in_proj = AdaptedLinear(d_model, 2 * self.di)
        self.in_proj.attach("lora", 0, 2 * self.di, rank, scale)
        self.in_proj.attach("lora_x", 0, self.di, rank, scale)
        a_log = torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(self.di, 1)
        for s in self.suffixes:
            setattr(self, f"A{s}_log", nn.Parameter(a_log.clone()))
            setattr(self, f"D{s}", nn.Parameter(torch.ones(self.di)))
            setattr(self, f"conv1d{s}", nn.Conv1d(self.di, self.di, 4, groups=self.di, padding=3))
            setattr(self, f"x_proj{s}", AdaptedLinear(self.di, self.r + 2 * d_state))
            setattr(self, f"dt_proj{s}", AdaptedLinear(self.r, self.di, bias=True))
        self.out_proj = AdaptedLinear(self.di, d_model)

    def scan(self, s, xz):
        seqlen = xz.shape[-1]
        x, z = xz.chunk(2, dim=1)
        u = F.silu(getattr(self, f"conv1d{s}")(x)[..., :seqlen])
        x_dbl = getattr(self, f"x_proj{s}")(u.transpose(1, 2))
        dt_proj = getattr(self, f"dt_proj{s}")
        dt = dt_proj(x_dbl[..., :self.r], with_bias=False).transpose(1, 2)
        B = x_dbl[..., self.r:self.r + self.n].transpose(1, 2)
        C = x_dbl[..., self.r + self.n:].transpose(1, 2)
        A = -torch.exp(getattr(self, f"A{s}_log"))
        return selective_scan_ref(u, dt, A, B, C, getattr(self, f"D{s}"), z, dt_proj.bias)

    def forward(self, h):
        xz = self.in_proj(h).transpose(1, 2)
        out = self.scan("", xz) + self.scan("_b", xz.flip([-1])).flip([-1])
        if self.bimamba == "v2":
            return self.out_proj((out / 2).transpose(1, 2))
        # ARM's column-major scans, transcribed from its mamba_simple.py
        b, d, seqlen = xz.shape
        p, g = seqlen // 2, int(math.sqrt(seqlen))
        cls, xc = xz[:, :, p:p + 1], torch.cat([xz[:, :, :p], xz[:, :, p + 1:]], dim=-1)
        xc = xc.reshape(b, d, g, g).permute(0, 1, 3, 2).reshape(b, d, -1)
        xc = torch.cat((xc[:, :, :p], cls, xc[:, :, p:]), dim=-1)
        out_c = self.scan("_c", xc) + self.scan("_c_b", xc.flip([-1])).flip([-1])
        cls, out_c = out_c[:, :, p:p + 1], torch.cat([out_c[:, :, :p], out_c[:, :, p + 1:]], dim=-1)
        out_c = out_c.reshape(b, self.di, g, g).permute(0, 1, 3, 2).reshape(b, self.di, -1)
        out_c = torch.cat((out_c[:, :, :p], cls, out_c[:, :, p:]), dim=-1)
        return self.out_proj(((out + out_c) / 4).transpose(1, 2))


class RMSNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.weight


class PatchEmbed(nn.Module):
    def __init__(self, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class VimBlock(nn.Module):
    def __init__(self, dim, mixer):
        super().__init__()
        self.norm = RMSNorm(dim)
        self.mixer = mixer


class SwiGLU(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.w1, self.w2, self.w3 = nn.Linear(dim, hidden), nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.w3(F.silu(self.w1(x)) * self.w2(x))


class ArmBlock(nn.Module):
    def __init__(self, dim, mixer):
        super().__init__()
        self.mixer = mixer
        self.mlp = SwiGLU(dim, dim * 4 * 2 // 3)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)

    def forward(self, h):
        h = h + self.mixer(self.norm1(h))
        return h + self.mlp(self.norm2(h))


class VisionMamba(nn.Module):
    def __init__(self, kind, image, patch, dim, depth, d_state, expand, rank, scale):
        super().__init__()
        self.kind = kind
        m = (image // patch) ** 2
        self.patch_embed = PatchEmbed(dim, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, m + 1, dim))
        bimamba = "v2" if kind == "vim" else "v3"
        block = VimBlock if kind == "vim" else ArmBlock
        self.layers = nn.ModuleList(
            [block(dim, Mixer(dim, d_state, expand, bimamba, rank, scale)) for _ in range(depth)])
        self.norm_f = RMSNorm(dim) if kind == "vim" else nn.LayerNorm(dim)

    def forward(self, images):
        x = self.patch_embed(images)
        p = x.shape[1] // 2
        x = torch.cat((x[:, :p], self.cls_token.expand(x.shape[0], -1, -1), x[:, p:]), dim=1) + self.pos_embed
        if self.kind == "arm":
            for layer in self.layers:
                x = layer(x)
            return self.norm_f(x)
        # Vim's Add -> Norm -> Mixer with the residual carried separately
        residual, hidden = None, x
        for layer in self.layers:
            residual = hidden if residual is None else residual + hidden
            hidden = layer.mixer(layer.norm(residual))
        return self.norm_f(residual + hidden)


def randomise_vision_mamba(model):
    """Every parameter random (not the reference init) so that each one matters."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("_log") or ".D" in name:
                p.add_(0.2 * torch.randn_like(p))
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / math.sqrt(max(p.shape[-1], 4)))
