"""Times selective_scan_ref (tests/golden/mamba_ref.py, mamba_ssm's pure-PyTorch scan) in PyTorch
eager on the CPU at the shapes of bench/bench_mamba.cpp: 8 images of 197 tokens, d_inner 384 and
1536, d_state 16, with D, z, delta_bias and softplus, float32; forward, and forward + backward
through autograd. Prints the best and median of several runs in ms, and state updates per second.

Development only: python3 bench/pytorch/bench_selective_scan.py [--threads 2] [--repeats 7]
[--backward-repeats 3] (0 skips forward+backward)
"""
import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden"))
from mamba_ref import selective_scan_ref  # noqa: E402

BATCH, L, N = 8, 197, 16


def make_inputs(d_inner, requires_grad):
    g = torch.Generator().manual_seed(1)

    def uniform(shape, lo, hi):
        return (torch.rand(shape, generator=g) * (hi - lo) + lo).requires_grad_(requires_grad)

    return dict(u=uniform((BATCH, d_inner, L), -1, 1), delta=uniform((BATCH, d_inner, L), -1, 1),
                A=uniform((d_inner, N), -16, -1), B=uniform((BATCH, 1, N, L), -1, 1),
                C=uniform((BATCH, 1, N, L), -1, 1), D=uniform((d_inner,), -1, 1),
                z=uniform((BATCH, d_inner, L), -1, 1), delta_bias=uniform((d_inner,), -4.5, -2.5))


def time_ms(fn, repeats, warm_up):
    if warm_up:
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return min(times), statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    # Autograd through the reference's per-step slices costs O(L^2) (each slice's backward
    # materialises the whole deltaA gradient): a run takes a minute or more, so no warm-up.
    parser.add_argument("--backward-repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for d_inner in (384, 1536):
        updates = BATCH * d_inner * L * N
        x = make_inputs(d_inner, False)

        def forward():
            with torch.no_grad():
                selective_scan_ref(**x, delta_softplus=True)

        xg = make_inputs(d_inner, True)
        dout = torch.rand(BATCH, d_inner, L)

        def forward_backward():
            for t in xg.values():
                t.grad = None
            out, _ = selective_scan_ref(**xg, delta_softplus=True)
            out.backward(dout)

        for name, fn, repeats, warm_up in (("forward", forward, args.repeats, True),
                                           ("forward+backward", forward_backward, args.backward_repeats, False)):
            if repeats == 0:
                continue
            best, median = time_ms(fn, repeats, warm_up)
            print(f"selective_scan_ref {name:17s} d_inner {d_inner:5d}: best {best:8.1f} ms, median {median:8.1f} ms,"
                  f" {updates / best / 1e3:7.1f} M state updates/s (best)", flush=True)


if __name__ == "__main__":
    main()
