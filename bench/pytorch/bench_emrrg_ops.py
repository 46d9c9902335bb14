"""The PyTorch baselines of EMRRG's two fused ops, at the shapes of our benchmarks:
gated cross-attention composed from PyTorch ops (scaled_dot_product_attention, tanh, mul, add),
forward and forward + backward, and the unfused LoRA linear (x W^T + s (x A^T) B^T with F.linear,
W frozen) beside its base GEMM alone, forward and forward + backward (dx, dA, dB; never dW).
Prints the median of several runs in ms.

--device cuda: bf16 at bench/bench_cuda.cpp's shapes (18 studies, 32 heads of 128, 300 text
tokens over 197 visual tokens; LoRA at 4k-8k tokens, 4096 -> 4096 and 4096 -> 11008, rank 16-64).
--device cpu: float32 at bench/bench_cpu.cpp's shapes (one study; 512 tokens, 4096 -> 4096,
rank 32), with --threads torch threads (2, as bench_cpu's OpenBLAS on this project's machine).

Development only: python3 bench/pytorch/bench_emrrg_ops.py [--device cuda|cpu] [--repeats 20]
[--threads 2] [--small] (--small: tiny shapes, to check the script).
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

LORA_SCALE = 2.0


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


def uniform_maker(device, dtype):
    g = torch.Generator(device=device).manual_seed(1)

    def uniform(*shape, scale=1.0, grad=False):
        t = ((torch.rand(shape, generator=g, device=device) * 2 - 1) * scale).to(dtype)
        return t.requires_grad_(grad)

    return uniform


def gated_cross_attention(device, dtype, repeats, shape):
    batch, heads, lt, lv, hd = shape
    uniform = uniform_maker(device, dtype)
    q, k, v = uniform(batch, heads, lt, hd, grad=True), uniform(batch, heads, lv, hd, grad=True), \
        uniform(batch, heads, lv, hd, grad=True)
    self_out, dout = uniform(batch, heads, lt, hd, grad=True), uniform(batch, heads, lt, hd)
    gate = uniform(batch, lt, 1).float().detach().requires_grad_(True)
    warm_up = torch.full((1,), 0.5, device=device, requires_grad=True)

    def forward():
        cross = F.scaled_dot_product_attention(q, k, v)
        gd = torch.tanh(gate).to(dtype).unsqueeze(1)  # [b, 1, Lt, 1] over the heads
        return self_out + (cross * gd) * torch.tanh(warm_up).to(dtype)

    def forward_backward():
        forward().backward(dout)
        for t in (q, k, v, self_out, gate, warm_up):
            t.grad = None

    with torch.no_grad():
        fwd = timed(forward, device, repeats)
    print(f"gated_cross_attention {shape} forward: {fwd:.3f} ms")
    print(f"gated_cross_attention {shape} forward+backward: {timed(forward_backward, device, repeats):.3f} ms")


def lora_linear(device, dtype, repeats, shape):
    n, d_in, d_out, r = shape
    uniform = uniform_maker(device, dtype)
    x, w = uniform(n, d_in, grad=True), uniform(d_out, d_in, scale=0.02)
    a, b = uniform(r, d_in, scale=0.02, grad=True), uniform(d_out, r, scale=0.02, grad=True)
    dy = torch.full((n, d_out), 1e-3, device=device, dtype=dtype)

    def base():
        return F.linear(x, w)

    def unfused():
        return F.linear(x, w) + LORA_SCALE * F.linear(F.linear(x, a), b)

    def backward_of(fn):
        def run():
            fn().backward(dy)
            for t in (x, a, b):
                t.grad = None
        return run

    with torch.no_grad():
        base_ms, unfused_ms = timed(base, device, repeats), timed(unfused, device, repeats)
    print(f"lora_linear N{n} in{d_in} out{d_out} r{r} forward: base GEMM {base_ms:.3f} ms, "
          f"unfused LoRA {unfused_ms:.3f} ms")
    base_bwd, unfused_bwd = timed(backward_of(base), device, repeats), timed(backward_of(unfused), device, repeats)
    print(f"lora_linear N{n} in{d_in} out{d_out} r{r} forward+backward: base GEMM {base_bwd:.3f} ms, "
          f"unfused LoRA {unfused_bwd:.3f} ms")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2, help="torch threads on the CPU")
    parser.add_argument("--small", action="store_true", help="tiny shapes, to check the script")
    args = parser.parse_args()
    if args.device == "cpu":
        torch.set_num_threads(args.threads)
        dtype = torch.float32
        gca, lora = [(1, 32, 300, 197, 128)], [(512, 4096, 4096, 32)]
    else:
        dtype = torch.bfloat16
        gca = [(18, 32, 300, 197, 128)]
        lora = [(8192, 4096, 4096, 16), (8192, 4096, 4096, 64), (4096, 4096, 11008, 16), (8192, 4096, 11008, 64)]
    if args.small:
        gca, lora = [(2, 4, 30, 20, 64)], [(64, 128, 128, 16)]
    for shape in gca:
        gated_cross_attention(args.device, dtype, args.repeats, shape)
    for shape in lora:
        lora_linear(args.device, dtype, args.repeats, shape)


if __name__ == "__main__":
    main()
