"""Writes tests/fixtures/selective_scan_golden.safetensors: inputs, outputs, last states and the
gradients of every input for mamba_ssm's selective_scan_ref and causal-conv1d's causal_conv1d_ref
(transcribed in mamba_ref.py), computed in float64 from float32 inputs (the C++ test runs the ops
in float32 and in float64 against them). Gradients come from PyTorch autograd through the
references for a random dout.

Development only (pip install torch safetensors); the fixture is committed and CI never runs
Python. Run from the repository root: python3 tests/golden/make_selective_scan_golden.py
"""
import math

import torch
from safetensors.torch import save_file

from mamba_ref import causal_conv1d_ref, selective_scan_ref

torch.manual_seed(0)
tensors = {}
metadata = {}
BATCH, DIM, N = 2, 5, 4
SCAN_ARGS = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias"]


def scan_case(name, L, with_D, with_z, with_bias, softplus, groups_dim):
    """Random float32 inputs as Mamba makes them (A = -exp(A_log), delta_bias the inverse softplus
    of a log-uniform dt); the expected values from float64 copies of those inputs."""
    inputs = {"u": torch.randn(BATCH, DIM, L)}
    inputs["delta"] = torch.randn(BATCH, DIM, L) * 0.5 if softplus else torch.rand(BATCH, DIM, L) * 0.5 + 0.01
    inputs["A"] = -torch.exp(torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(DIM, 1)
                             + 0.1 * torch.randn(DIM, N))
    bc_shape = (BATCH, 1, N, L) if groups_dim else (BATCH, N, L)
    inputs["B"] = torch.randn(bc_shape)
    inputs["C"] = torch.randn(bc_shape)
    if with_D:
        inputs["D"] = torch.randn(DIM)
    if with_z:
        inputs["z"] = torch.randn(BATCH, DIM, L)
    if with_bias:
        dt = torch.exp(torch.rand(DIM) * (math.log(0.1) - math.log(0.001)) + math.log(0.001))
        inputs["delta_bias"] = dt + torch.log(-torch.expm1(-dt))
    dout = torch.randn(BATCH, DIM, L)

    leaves = {k: v.double().requires_grad_(True) for k, v in inputs.items()}
    out, last_state = selective_scan_ref(*[leaves.get(k) for k in SCAN_ARGS], delta_softplus=softplus,
                                         compute=torch.float64)
    out.backward(dout.double())
    # The float32 reference beside it, to show how far float32 arithmetic strays.
    out32, last32 = selective_scan_ref(*[inputs.get(k) for k in SCAN_ARGS], delta_softplus=softplus)
    print(f"{name}: float32 ref vs float64 ref: out {(out32 - out).abs().max().item():.2e} "
          f"(max |out| {out.abs().max().item():.2e}), last_state {(last32 - last_state).abs().max().item():.2e}")

    prefix = f"scan.{name}."
    for k, v in inputs.items():
        tensors[prefix + k] = v.contiguous()
        tensors[prefix + "grad." + k] = leaves[k].grad.detach().contiguous()
    tensors[prefix + "dout"] = dout
    tensors[prefix + "out"] = out.detach().contiguous()
    tensors[prefix + "last_state"] = last_state.detach().contiguous()
    metadata[prefix + "delta_softplus"] = "1" if softplus else "0"


def conv_case(name, L, W, with_bias, silu):
    x = torch.randn(BATCH, DIM, L)
    weight = torch.randn(DIM, W) * 0.5
    bias = torch.randn(DIM) if with_bias else None
    dout = torch.randn(BATCH, DIM, L)
    xl, wl = x.double().requires_grad_(True), weight.double().requires_grad_(True)
    bl = bias.double().requires_grad_(True) if with_bias else None
    out = causal_conv1d_ref(xl, wl, bl, "silu" if silu else None)
    out.backward(dout.double())
    prefix = f"conv.{name}."
    tensors[prefix + "x"], tensors[prefix + "weight"], tensors[prefix + "dout"] = x, weight, dout
    tensors[prefix + "out"] = out.detach().contiguous()
    tensors[prefix + "grad.x"], tensors[prefix + "grad.weight"] = xl.grad, wl.grad
    if with_bias:
        tensors[prefix + "bias"], tensors[prefix + "grad.bias"] = bias, bl.grad
    metadata[prefix + "silu"] = "1" if silu else "0"


scan_case("L1_full", 1, True, True, True, True, True)
scan_case("L7_full", 7, True, True, True, True, True)
scan_case("L7_D_only", 7, True, False, False, False, False)
scan_case("L197_full", 197, True, True, True, True, True)
scan_case("L197_plain", 197, False, False, False, False, False)
conv_case("W4_bias_silu", 197, 4, True, True)
conv_case("W3_plain", 7, 3, False, False)
conv_case("W2_bias", 7, 2, True, False)

save_file(tensors, "tests/fixtures/selective_scan_golden.safetensors", metadata=metadata)
print(f"wrote {len(tensors)} tensors")
