"""The PyTorch baselines of bench/bench_cuda.cpp's EMRRG benchmarks, on a CUDA GPU:
gated cross-attention composed from PyTorch ops (scaled_dot_product_attention, tanh, mul, add)
forward and forward + backward at the paper's shapes (18 studies, 32 heads of 128, 300 text
tokens over 197 visual tokens, bf16), and the unfused LoRA linear (x W^T + s (x A^T) B^T with
F.linear, bf16) at the shapes of BM_lora_linear. Prints the median of several runs in ms.

Development only: python3 bench/pytorch/bench_emrrg_cuda.py [--repeats 20] [--device cuda]
(--device cpu --small checks the script without a GPU).
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F


def timed(fn, device, repeats):
    fn()
    times = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def gated_cross_attention(device, dtype, repeats, shape):
    batch, heads, lt, lv, hd = shape
    g = torch.Generator(device=device).manual_seed(1)

    def uniform(*s, grad=True):
        t = (torch.rand(s, generator=g, device=device) * 2 - 1).to(dtype)
        return t.requires_grad_(grad)

    q, k, v = uniform(batch, heads, lt, hd), uniform(batch, heads, lv, hd), uniform(batch, heads, lv, hd)
    self_out, dout = uniform(batch, heads, lt, hd), uniform(batch, heads, lt, hd, grad=False)
    gate = uniform(batch, lt, 1).float().detach().requires_grad_(True)
    warm_up = torch.full((1,), 0.5, device=device, requires_grad=True)

    def forward():
        cross = F.scaled_dot_product_attention(q, k, v)
        gd = torch.tanh(gate).to(dtype).unsqueeze(1)  # [b, 1, Lt, 1] over the heads
        return self_out + (cross * gd) * torch.tanh(warm_up).to(dtype)

    def forward_backward():
        forward().backward(dout)

    with torch.no_grad():
        fwd = timed(forward, device, repeats)
    print(f"gated_cross_attention {shape} forward: {fwd:.3f} ms")
    print(f"gated_cross_attention {shape} forward+backward: {timed(forward_backward, device, repeats):.3f} ms")


def lora_linear(device, dtype, repeats, shape):
    n, d_in, d_out, r = shape
    g = torch.Generator(device=device).manual_seed(1)

    def uniform(*s, scale=1.0):
        return ((torch.rand(s, generator=g, device=device) * 2 - 1) * scale).to(dtype)

    x, w = uniform(n, d_in), uniform(d_out, d_in, scale=0.02)
    a, b = uniform(r, d_in, scale=0.02), uniform(d_out, r, scale=0.02)
    with torch.no_grad():
        base = timed(lambda: F.linear(x, w), device, repeats)
        unfused = timed(lambda: F.linear(x, w) + 2.0 * F.linear(F.linear(x, a), b), device, repeats)
    print(f"lora_linear N{n} in{d_in} out{d_out} r{r}: base GEMM {base:.3f} ms, unfused LoRA {unfused:.3f} ms")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--small", action="store_true", help="tiny shapes, to check the script")
    args = parser.parse_args()
    dtype = torch.bfloat16
    gca = [(2, 4, 30, 20, 64)] if args.small else [(18, 32, 300, 197, 128)]
    lora = [(64, 128, 128, 16)] if args.small else [
        (8192, 4096, 4096, 16), (8192, 4096, 4096, 64), (4096, 4096, 11008, 16), (8192, 4096, 11008, 64)]
    for shape in gca:
        gated_cross_attention(args.device, dtype, args.repeats, shape)
    for shape in lora:
        lora_linear(args.device, dtype, args.repeats, shape)


if __name__ == "__main__":
    main()
