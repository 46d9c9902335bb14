#!/usr/bin/env python3
"""PyTorch's times for the roofline cases that have an anchor (softmax, norms, attention, GEMM).

Prints one JSON object {"kernel | size": milliseconds} whose keys are bench/roofline.cpp's, so
`roofline --anchors` shows both side by side. Run on the GPU machine (tests/gpu/run.sh does when
torch imports there); device time from CUDA events, best of 5 after a warm-up, like roofline.
"""
import json
import sys

import torch
import torch.nn.functional as F

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def best_ms(fn, repeats=5):
    fn()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    best = float("inf")
    for _ in range(repeats):
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        best = min(best, start.elapsed_time(stop))
    return best


def dims(shape, dtype):
    return "[" + ", ".join(str(d) for d in shape) + "] " + dtype


def main():
    dev = "cuda"
    out = {}
    with torch.no_grad():
        for shape, dtype in [((4096, 4096), "float32"), ((4096, 32000), "bfloat16")]:
            x = torch.rand(shape, device=dev, dtype=DTYPES[dtype]) * 2 - 1
            out["softmax | " + dims(shape, dtype)] = best_ms(lambda: torch.softmax(x, -1))
        for shape, dtype in [((4096, 1024), "float32"), ((16384, 4096), "bfloat16")]:
            x = torch.rand(shape, device=dev, dtype=DTYPES[dtype]) * 2 - 1
            w = torch.rand(shape[1], device=dev, dtype=DTYPES[dtype])
            b = torch.rand(shape[1], device=dev, dtype=DTYPES[dtype])
            out["layer_norm | " + dims(shape, dtype)] = best_ms(lambda: F.layer_norm(x, (shape[1],), w, b, 1e-5))
            out["rms_norm | " + dims(shape, dtype)] = best_ms(lambda: F.rms_norm(x, (shape[1],), w, 1e-5))
        for b_, h, lq, lk in [(8, 32, 1024, 1024), (2, 32, 4096, 4096), (8, 32, 1, 4096)]:
            key = f"b{b_} h{h} {lq}x{lk} d128 causal bf16"
            q = torch.rand(b_, h, lq, 128, device=dev, dtype=torch.bfloat16) * 2 - 1
            k = torch.rand(b_, h, lk, 128, device=dev, dtype=torch.bfloat16) * 2 - 1
            # One query at the end of the cache sees every key: end-aligned causal = no mask.
            causal = lq == lk
            out["attention | " + key] = best_ms(lambda: F.scaled_dot_product_attention(q, k, k, is_causal=causal))
    for b_, h, l in [(8, 32, 1024), (2, 32, 4096)]:
        key = f"b{b_} h{h} {l}x{l} d128 causal bf16"
        q = (torch.rand(b_, h, l, 128, device=dev, dtype=torch.bfloat16) * 2 - 1).requires_grad_()
        o = F.scaled_dot_product_attention(q, q, q, is_causal=True)
        g = torch.rand_like(o)
        out["attention_backward | " + key] = best_ms(
            lambda: torch.autograd.grad(o, q, g, retain_graph=True))
    with torch.no_grad():
        for m, n, k, dtype in [(4096, 11008, 4096, "bfloat16"), (8192, 8192, 8192, "bfloat16"),
                               (4096, 4096, 4096, "float32")]:
            a = torch.rand(m, k, device=dev, dtype=DTYPES[dtype])
            b = torch.rand(k, n, device=dev, dtype=DTYPES[dtype])
            out[f"matmul (cuBLAS) | {m}x{n}x{k} {dtype}"] = best_ms(lambda: a @ b)
    json.dump({"torch": torch.__version__, "device": torch.cuda.get_device_name(), **out}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
