"""PyTorch transcriptions of mamba_ssm's selective_scan_ref and causal-conv1d's causal_conv1d_ref,
from their public source (state-spaces/mamba, mamba_ssm/ops/selective_scan_interface.py;
Dao-AILab/causal-conv1d, causal_conv1d/causal_conv1d_interface.py), for the golden fixture and
the PyTorch benchmark. One change: the scan's `.float()` casts are casts to `compute` (float32
by default, as in the original), so the golden script can compute in float64.
"""
import torch
import torch.nn.functional as F


def selective_scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                       compute=torch.float32):
    """u, delta, z: (batch, dim, L); A: (dim, N); B, C: (batch, N, L) or (batch, G, N, L);
    D, delta_bias: (dim,). Returns out (batch, dim, L) in u's dtype and last_state (batch, dim, N)."""
    dtype_in = u.dtype
    u = u.to(compute)
    delta = delta.to(compute)
    if delta_bias is not None:
        delta = delta + delta_bias[..., None].to(compute)
    if delta_softplus:
        delta = F.softplus(delta)
    batch, dim, dstate = u.shape[0], A.shape[0], A.shape[1]
    B = B.to(compute)
    C = C.to(compute)
    x = A.new_zeros((batch, dim, dstate))
    ys = []
    deltaA = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
    if B.dim() == 3:
        deltaB_u = torch.einsum("bdl,bnl,bdl->bdln", delta, B, u)
    else:
        B = B.repeat_interleave(dim // B.shape[1], dim=1)
        deltaB_u = torch.einsum("bdl,bdnl,bdl->bdln", delta, B, u)
    if C.dim() == 4:
        C = C.repeat_interleave(dim // C.shape[1], dim=1)
    last_state = None
    for i in range(u.shape[2]):
        x = deltaA[:, :, i] * x + deltaB_u[:, :, i]
        if C.dim() == 3:
            y = torch.einsum("bdn,bn->bd", x, C[:, :, i])
        else:
            y = torch.einsum("bdn,bdn->bd", x, C[:, :, :, i])
        if i == u.shape[2] - 1:
            last_state = x
        ys.append(y)
    y = torch.stack(ys, dim=2)
    out = y if D is None else y + u * D[:, None]
    if z is not None:
        out = out * F.silu(z)
    return out.to(dtype=dtype_in), last_state


def causal_conv1d_ref(x, weight, bias=None, activation=None):
    """x: (batch, dim, L); weight: (dim, width); bias: (dim,)."""
    dtype_in = x.dtype
    x = x.to(weight.dtype)
    seqlen = x.shape[-1]
    dim, width = weight.shape
    out = F.conv1d(x, weight.unsqueeze(1), bias, padding=width - 1, groups=dim)[..., :seqlen]
    return (out if activation is None else F.silu(out)).to(dtype=dtype_in)
