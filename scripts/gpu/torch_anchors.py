#!/usr/bin/env python3
"""PyTorch's times for the roofline cases that PyTorch can run as they are.

Prints one JSON object {"kernel | size": milliseconds} whose keys are bench/roofline.cpp's, so
`roofline --anchors` shows both side by side. Run on the GPU machine (tests/gpu/run.sh does when
torch imports there); device time from CUDA events, best of 5 after a warm-up, like roofline.
Each anchor is what PyTorch itself runs for the same computation: a fused ATen kernel where it
has one (softmax, the norms, SDPA, embedding), else the composite that a PyTorch model writes
(SwiGLU, Hugging Face's rotary, the gated cross-attention and LoRA as EMRRG's PyTorch code has
them, mamba's causal_conv1d_ref). The selective scan has no PyTorch operator (mamba_ssm's is an
extension) and no anchor. A case that fails is left out and named under "errors" and on stderr;
the others still run. docs/KERNELS.md lists every kernel's roofline rows and anchor.
"""
import json
import sys

import torch
import torch.nn.functional as F

DEV = "cuda"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
SHORT = {"float32": "f32", "bfloat16": "bf16"}


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


def rnd(shape, dtype, lo=-1.0, hi=1.0, grad=False):
    x = (torch.rand(shape, device=DEV, dtype=torch.float32) * (hi - lo) + lo).to(DTYPES[dtype])
    return x.requires_grad_() if grad else x


def ids(shape, bound):
    return torch.randint(0, bound, shape, device=DEV, dtype=torch.int64)


def grad_of(out, inputs, g):
    """The backward alone: the forward's graph is kept and only autograd.grad is timed."""
    return lambda: torch.autograd.grad(out, inputs, g, retain_graph=True)


def elementwise(case):
    for n in (16 << 20, 128 << 20):
        case(f"unary exp | {dims((n,), 'float32')}", lambda: (lambda x: lambda: torch.exp(x))(rnd((n,), "float32")))
        case(f"unary silu | {dims((n,), 'bfloat16')}", lambda: (lambda x: lambda: F.silu(x))(rnd((n,), "bfloat16")))
        case(f"unary_backward gelu | {dims((n,), 'bfloat16')}",
             lambda: (lambda x: lambda: torch.ops.aten.gelu_backward(x, x))(rnd((n,), "bfloat16")))
        case(f"binary add | {dims((n,), 'float32')}", lambda: (lambda a: lambda: a + a)(rnd((n,), "float32")))
        # MulBackward's gradient for b before the broadcast reduction: g * a.
        case(f"binary_backward mul (broadcast b) | {dims((n // 4096, 4096), 'bfloat16')}",
             lambda: (lambda a: lambda: a * a)(rnd((n // 4096, 4096), "bfloat16")))
        case(f"dropout_scale | {dims((n,), 'bfloat16')}",
             lambda: (lambda x: lambda: torch.empty_like(x).bernoulli_(0.9).div_(0.9))(rnd((n,), "bfloat16")))

        def adamw(m=n // 4):
            p = torch.nn.Parameter(rnd((m,), "float32", 0.1, 1))
            p.grad = rnd((m,), "float32", 0.1, 1)
            opt = torch.optim.AdamW([p], lr=1e-3, weight_decay=1e-4, fused=True)
            opt.step()  # makes the moments
            return opt.step

        case(f"adamw_step | {dims((n // 4,), 'float32')}", adamw)
    for n in (4096, 16384):
        case(f"copy (transpose to contiguous) | {dims((n, n), 'float32')}",
             lambda: (lambda x: lambda: x.t().contiguous())(rnd((n, n), "float32")))
        case(f"add_into (accumulate) | {dims((n, n), 'float32')}",
             lambda: (lambda x, y: lambda: x.add_(y))(rnd((n, n), "float32"), rnd((n, n), "float32")))
        case(f"fill | {dims((n, n), 'bfloat16')}",
             lambda: (lambda x: lambda: x.fill_(0.5))(torch.empty((n, n), device=DEV, dtype=torch.bfloat16)))


def rows(case):
    for shape, dtype in [((4096, 4096), "float32"), ((4096, 32000), "bfloat16"), ((32768, 1024), "bfloat16")]:
        key = " | " + dims(shape, dtype)
        case("softmax" + key, lambda: (lambda x: lambda: torch.softmax(x, -1))(rnd(shape, dtype)))

        def softmax_backward():
            y, g = torch.softmax(rnd(shape, dtype), -1), rnd(shape, dtype)
            return lambda: torch._softmax_backward_data(g, y, -1, y.dtype)

        case("softmax_backward" + key, softmax_backward)
        case("sum_rows" + key, lambda: (lambda x: lambda: x.sum(-1))(rnd(shape, dtype)))
        case("var_rows" + key, lambda: (lambda x: lambda: torch.var(x, -1, correction=0))(rnd(shape, dtype)))
        case("argmax_rows" + key, lambda: (lambda x: lambda: x.argmax(-1))(rnd(shape, dtype)))
        case("cross_entropy" + key,
             lambda: (lambda x, t: lambda: F.cross_entropy(x, t))(rnd(shape, dtype), ids((shape[0],), shape[1])))

        def cross_entropy_backward():
            x = rnd(shape, dtype, grad=True)
            loss = F.cross_entropy(x, ids((shape[0],), shape[1]))
            return grad_of(loss, x, None)

        case("cross_entropy_backward" + key, cross_entropy_backward)
    for shape, dtype in [((4096, 1024), "float32"), ((16384, 4096), "bfloat16")]:
        key = " | " + dims(shape, dtype)
        d = shape[1]

        def layer_norm():
            x, w, b = rnd(shape, dtype), rnd((d,), dtype, 0, 1), rnd((d,), dtype, 0, 1)
            return lambda: F.layer_norm(x, (d,), w, b, 1e-5)

        def rms_norm():
            x, w = rnd(shape, dtype), rnd((d,), dtype, 0, 1)
            return lambda: F.rms_norm(x, (d,), w, 1e-5)

        def layer_norm_backward():
            x, w, b, g = rnd(shape, dtype), rnd((d,), dtype, 0, 1), rnd((d,), dtype, 0, 1), rnd(shape, dtype)
            _, mean, rstd = torch.ops.aten.native_layer_norm(x, [d], w, b, 1e-5)
            return lambda: torch.ops.aten.native_layer_norm_backward(g, x, [d], mean, rstd, w, b, [True, True, True])

        def rms_norm_backward():
            x, w, g = rnd(shape, dtype, grad=True), rnd((d,), dtype, 0, 1, grad=True), rnd(shape, dtype)
            return grad_of(F.rms_norm(x, (d,), w, 1e-5), (x, w), g)

        case("layer_norm" + key, layer_norm)
        case("rms_norm" + key, rms_norm)
        case("layer_norm_backward" + key, layer_norm_backward)
        case("rms_norm_backward" + key, rms_norm_backward)


def indexing(case):
    vocab, width = 32000, 4096
    for tokens in (2048, 16384):
        table = dims((vocab, width), "bfloat16")
        case(f"index_select (embedding) | {tokens} of {table}",
             lambda: (lambda w, i: lambda: F.embedding(i, w))(rnd((vocab, width), "bfloat16"), ids((tokens,), vocab)))
        # What PyTorch's embedding backward runs (sort-based, deterministic).
        case(f"index_add (embedding backward) | {tokens} into {table}",
             lambda: (lambda g, i: lambda: torch.ops.aten.embedding_dense_backward(g, i, vocab, -1, False))(
                 rnd((tokens, width), "bfloat16"), ids((tokens,), vocab)))
    for shape in ((4096, 32000), (16384, 32000)):
        key = " | " + dims(shape, "float32")
        case("gather (label logits)" + key,
             lambda: (lambda x, i: lambda: torch.gather(x, 1, i))(rnd(shape, "float32"), ids((shape[0], 1), shape[1])))
        case("gather_backward" + key,
             lambda: (lambda g, i: lambda: torch.zeros(shape, device=DEV).scatter_add_(1, i, g))(
                 rnd((shape[0], 1), "float32"), ids((shape[0], 1), shape[1])))


def llama_and_mamba(case):
    for (b, h, lq, lk), dtype in [((8, 32, 1024, 1024), "bfloat16"), ((2, 32, 4096, 4096), "bfloat16"),
                                  ((8, 32, 1, 4096), "bfloat16"), ((2, 32, 1024, 1024), "float32")]:
        key = f" | b{b} h{h} {lq}x{lk} d128 causal {SHORT[dtype]}"
        # One query at the end of the cache sees every key: end-aligned causal = no mask.
        causal = lq == lk
        case("attention" + key, lambda: (lambda q, k: lambda: F.scaled_dot_product_attention(q, k, k, is_causal=causal))(
            rnd((b, h, lq, 128), dtype), rnd((b, h, lk, 128), dtype)))
        if lq == 1:
            continue

        def attention_backward():
            q = rnd((b, h, lq, 128), dtype, grad=True)
            o = F.scaled_dot_product_attention(q, q, q, is_causal=True)
            return grad_of(o, q, torch.rand_like(o))

        case("attention_backward" + key, attention_backward)
    for length in (512, 4096):
        shape = (8, 32, length, 128)

        def rotary():
            # Hugging Face's Llama: cos and sin per position, x cos + rotate_half(x) sin.
            x = rnd(shape, "bfloat16")
            inv = 1.0 / (10000.0 ** (torch.arange(0, 128, 2, device=DEV, dtype=torch.float32) / 128))
            angles = torch.outer(torch.arange(length, device=DEV, dtype=torch.float32), inv)
            emb = torch.cat((angles, angles), -1)
            cos, sin = emb.cos().to(torch.bfloat16), emb.sin().to(torch.bfloat16)
            return lambda: x * cos + torch.cat((-x[..., 64:], x[..., :64]), -1) * sin

        case(f"rotary | {dims(shape, 'bfloat16')}", rotary)
    for tokens in (2048, 16384):
        shape = (tokens, 11008)
        case(f"swiglu | {dims(shape, 'bfloat16')}", lambda: (lambda g: lambda: F.silu(g) * g)(rnd(shape, "bfloat16")))

        def swiglu_backward():
            g, u = rnd(shape, "bfloat16", grad=True), rnd(shape, "bfloat16", grad=True)
            return grad_of(F.silu(g) * u, (g, u), rnd(shape, "bfloat16"))

        case(f"swiglu_backward | {dims(shape, 'bfloat16')}", swiglu_backward)
    for shape in ((8, 768, 197), (4, 5120, 2048)):
        key = f" | {dims(shape, 'bfloat16')} W4"
        d, length = shape[1], shape[2]

        def conv(x, w, b):  # mamba's causal_conv1d_ref with SiLU
            return F.silu(F.conv1d(x, w.unsqueeze(1), b, padding=3, groups=d)[..., :length])

        def causal_conv1d():
            x, w, b = rnd(shape, "bfloat16"), rnd((d, 4), "bfloat16"), rnd((d,), "bfloat16")
            return lambda: conv(x, w, b)

        def causal_conv1d_backward():
            x, w, b = rnd(shape, "bfloat16", grad=True), rnd((d, 4), "bfloat16", grad=True), rnd((d,), "bfloat16", grad=True)
            return grad_of(conv(x, w, b), (x, w, b), rnd(shape, "bfloat16"))

        case("causal_conv1d" + key, causal_conv1d)
        case("causal_conv1d_backward" + key, causal_conv1d_backward)


def emrrg(case):
    b, h, lt, lv = 18, 32, 300, 197
    for dtype in ("bfloat16", "float32"):
        key = f" | b{b} h{h} {lt}x{lv} d128 {SHORT[dtype]}"

        def gated(q, k, v, self_out, gate, warm):  # self_out + (cross * tanh(gate)) * tanh(warm)
            scale = (torch.tanh(gate) * torch.tanh(warm)).to(q.dtype)[:, None, :, None]
            return self_out + F.scaled_dot_product_attention(q, k, v) * scale

        def inputs(grad):
            return (rnd((b, h, lt, 128), dtype, grad=grad), rnd((b, h, lv, 128), dtype, grad=grad),
                    rnd((b, h, lv, 128), dtype, grad=grad), rnd((b, h, lt, 128), dtype),
                    rnd((b, lt), "float32", grad=grad), torch.full((1,), 0.5, device=DEV).requires_grad_(grad))

        def forward():
            x = inputs(False)
            return lambda: gated(*x)

        def backward():
            x = inputs(True)
            out = gated(*x)
            return grad_of(out, (x[0], x[1], x[2], x[4], x[5]), torch.rand_like(out))

        case("gated_cross_attention" + key, forward)
        case("gated_cross_attention_backward" + key, backward)
    for n, i, o, r_rows, r, dtype in [(7092, 768, 1536, 768, 32, "bfloat16"), (8192, 4096, 4096, 4096, 16, "bfloat16"),
                                      (7092, 768, 1536, 768, 32, "float32")]:
        key = f" | N{n} in{i} out{o} rows{r_rows} r{r} {dtype}"

        def lora(x, w, a, bb):  # nn::LoRA's composition: the adapter added into rows [0, r_rows)
            d = 2.0 * F.linear(F.linear(x, a), bb)
            y = F.linear(x, w)
            return y + d if r_rows == o else torch.cat((y[:, :r_rows] + d, y[:, r_rows:]), 1)

        def inputs(grad):
            return (rnd((n, i), dtype, grad=grad), rnd((o, i), dtype, -0.02, 0.02),
                    rnd((r, i), dtype, -0.02, 0.02, grad=grad), rnd((r_rows, r), dtype, -0.02, 0.02, grad=grad))

        def forward():
            x = inputs(False)
            return lambda: lora(*x)

        def backward():
            x = inputs(True)
            return grad_of(lora(*x), (x[0], x[2], x[3]), rnd((n, o), dtype))

        case("lora_linear" + key, forward)
        case("lora_linear_backward" + key, backward)


def gemm(case):
    for m, n, k, dtype in [(4096, 11008, 4096, "bfloat16"), (8192, 8192, 8192, "bfloat16"),
                           (4096, 4096, 4096, "float32")]:
        case(f"matmul (cuBLAS) | {m}x{n}x{k} {dtype}",
             lambda: (lambda a, b: lambda: a @ b)(rnd((m, k), dtype, 0, 1), rnd((k, n), dtype, 0, 1)))


def main():
    out, errors = {}, {}

    def case(key, setup):
        """setup() makes the inputs and returns the call to time; a failure costs this case only."""
        try:
            out[key] = best_ms(setup())
        except Exception as e:  # noqa: BLE001 - report and go on
            errors[key] = f"{type(e).__name__}: {e}"
            print(f"torch_anchors: {key}: {errors[key]}", file=sys.stderr)
        torch.cuda.empty_cache()

    for group in (elementwise, rows, indexing, llama_and_mamba, emrrg, gemm):
        group(case)
    result = {"torch": torch.__version__, "device": torch.cuda.get_device_name(), **out}
    if errors:
        result["errors"] = errors
    json.dump(result, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
