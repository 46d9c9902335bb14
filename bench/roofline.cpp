// The kernel roofline table: every CUDA kernel of the project (each entry of DeviceKernels, the
// runtime's copy, accumulate and fill, cuBLAS GEMM; the SIMT and tensor-core variants of attention,
// gated cross-attention and the LoRA-fused linear; docs/KERNELS.md lists which row runs which
// __global__ kernel) at two or three representative sizes, with its device time,
// achieved GB/s and TFLOP/s, and the percentage of the ceiling that bounds it: the measured copy
// bandwidth for kernels below the ridge point (FLOPs per byte of the two ceilings), the measured
// cuBLAS bf16 GEMM rate above it. Both ceilings are measured at start. Bytes and FLOPs are the
// ideal ones (ops/op_cost.h): each operand read once, each result written once.
//
//   roofline [--anchors torch.json] [--json out.json] [--filter SUBSTRING]
//
// --anchors merges the times of the same cases measured by PyTorch on the same device
// (scripts/gpu/torch_anchors.py prints that JSON: {"kernel | size": milliseconds}); the table
// then shows the anchor's time and ours relative to it. Needs a GPU (built with EMRRG_CUDA=ON).
#include <cuda_runtime_api.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/device_ceilings.h"
#include "cuda/gemm.h"
#include "cuda/kernel_registration.h"
#include "ops/device_kernels.h"
#include "ops/op_cost.h"
#include "ops/ops.h"

namespace {

using namespace emrrg;

const Device kGpu = Device::cuda(0);
constexpr double kScale = 0.08838834764831845;  // attention's 1 / sqrt(head_dim 128)

struct Case {
  std::string kernel, size;
  double bytes = 0, flops = 0;
  std::function<void()> run;  // null: the kernel is not registered in this build
};

Tensor rand_on_gpu(const Shape& shape, DType dtype, uint64_t seed, double lo = -1, double hi = 1) {
  Generator gen(seed);
  return convert(to_device(rand_uniform(shape, lo, hi, gen), kGpu), dtype);
}

Tensor ids_on_gpu(const Shape& shape, int64_t bound, uint64_t seed) {
  Generator gen(seed);
  const Tensor u = rand_uniform(shape, 0, static_cast<double>(bound) - 0.5, gen);
  return to_device(convert(u, DType::Int64), kGpu);
}

std::string dims(const Shape& s, DType dtype) { return shape_str(s) + " " + dtype_name(dtype); }

double nbytes(std::initializer_list<const Tensor*> ts) {
  double b = 0;
  for (const Tensor* t : ts) b += op_cost::bytes(*t);
  return b;
}

// The registered entry, or null (then the case reports "not registered").
template <typename Fn> Fn entry(Fn DeviceKernels::*e) {
  const DeviceKernels* k = registered_device_kernels(DeviceType::CUDA);
  return k ? k->*e : nullptr;
}

// Cases are built lazily: each allocates its inputs only when it runs, so the table's peak
// memory is one case's.
using CaseFactory = std::function<Case()>;

void add_elementwise(std::vector<CaseFactory>& out) {
  for (int64_t n : {int64_t{16} << 20, int64_t{128} << 20}) {
    out.push_back([n] {
      auto f = entry(&DeviceKernels::unary);
      auto x = std::make_shared<Tensor>(rand_on_gpu({n}, DType::Float32, 1));
      return Case{"unary exp", dims({n}, DType::Float32), 2 * op_cost::bytes(*x), double(n),
                  f ? std::function<void()>([f, x] { f(UnaryOp::Exp, *x, 0, 0); }) : nullptr};
    });
    // float32 contiguous takes the float4 kernel (exp above), any other input the strided one.
    out.push_back([n] {
      auto f = entry(&DeviceKernels::unary);
      auto x = std::make_shared<Tensor>(rand_on_gpu({n}, DType::BFloat16, 7));
      return Case{"unary silu", dims({n}, DType::BFloat16), 2 * op_cost::bytes(*x), 4.0 * double(n),
                  f ? std::function<void()>([f, x] { f(UnaryOp::Silu, *x, 0, 0); }) : nullptr};
    });
    out.push_back([n] {
      auto f = entry(&DeviceKernels::unary_backward);
      auto x = std::make_shared<Tensor>(rand_on_gpu({n}, DType::BFloat16, 2));
      return Case{"unary_backward gelu", dims({n}, DType::BFloat16), 4 * op_cost::bytes(*x), 20.0 * double(n),
                  f ? std::function<void()>([f, x] { f(UnaryOp::Gelu, *x, *x, *x, 0, 0); }) : nullptr};
    });
    out.push_back([n] {
      auto f = entry(&DeviceKernels::binary);
      auto a = std::make_shared<Tensor>(rand_on_gpu({n}, DType::Float32, 3));
      return Case{"binary add", dims({n}, DType::Float32), 3 * op_cost::bytes(*a), double(n),
                  f ? std::function<void()>([f, a] { f(BinaryOp::Add, *a, *a); }) : nullptr};
    });
    out.push_back([n] {
      auto f = entry(&DeviceKernels::binary_backward);
      auto a = std::make_shared<Tensor>(rand_on_gpu({n / 4096, 4096}, DType::BFloat16, 4));
      auto b = std::make_shared<Tensor>(rand_on_gpu({4096}, DType::BFloat16, 5));
      return Case{"binary_backward mul (broadcast b)", dims(a->shape(), DType::BFloat16), 3 * op_cost::bytes(*a),
                  double(n), f ? std::function<void()>([f, a, b] { f(BinaryOp::Mul, true, *a, *b, *a, *a); }) : nullptr};
    });
    out.push_back([n] {
      auto f = entry(&DeviceKernels::dropout_scale);
      auto x = std::make_shared<Tensor>(rand_on_gpu({n}, DType::BFloat16, 6));
      return Case{"dropout_scale", dims({n}, DType::BFloat16), op_cost::bytes(*x), double(n),
                  f ? std::function<void()>([f, x] { f(*x, 0.9, 7, 0); }) : nullptr};
    });
    out.push_back([n] {
      auto f = entry(&DeviceKernels::adamw_step);
      auto p = std::make_shared<std::vector<Tensor>>();
      for (int i = 0; i < 4; ++i) p->push_back(rand_on_gpu({n / 4}, DType::Float32, 10 + i, 0.1, 1));
      const DeviceKernels::AdamWScalars s{0.9999f, 0.9f, 0.1f, 0.999f, 0.001f, 0.5f, 1e-8f, 1e-4f};
      return Case{"adamw_step", dims({n / 4}, DType::Float32), 7 * op_cost::bytes((*p)[0]), 12.0 * double(n / 4),
                  f ? std::function<void()>([f, p, s] { f((*p)[0], (*p)[1], (*p)[2], (*p)[3], s); }) : nullptr};
    });
  }
  // The runtime's kernels (runtime/device_kernels.h): strided copy (a transpose made
  // contiguous), accumulation (gradients summed in place) and fill.
  for (int64_t n : {int64_t{4096}, int64_t{16384}}) {
    out.push_back([n] {
      auto x = std::make_shared<Tensor>(rand_on_gpu({n, n}, DType::Float32, 20));
      return Case{"copy (transpose to contiguous)", dims({n, n}, DType::Float32), 2 * op_cost::bytes(*x), 0,
                  [x] { to_contiguous(transpose(*x, 0, 1)); }};
    });
    out.push_back([n] {
      auto x = std::make_shared<Tensor>(rand_on_gpu({n, n}, DType::Float32, 21));
      auto y = std::make_shared<Tensor>(rand_on_gpu({n, n}, DType::Float32, 22));
      return Case{"add_into (accumulate)", dims({n, n}, DType::Float32), 3 * op_cost::bytes(*x), double(n * n),
                  [x, y] { add_into(*x, *y); }};
    });
    out.push_back([n] {
      auto x = std::make_shared<Tensor>(empty({n, n}, DType::BFloat16, kGpu));
      return Case{"fill", dims({n, n}, DType::BFloat16), op_cost::bytes(*x), 0, [x] { fill(*x, 0.5); }};
    });
  }
}

void add_rows(std::vector<CaseFactory>& out) {
  // Rows of up to 1024 elements take a warp each (the kernels' kWarp variants), longer rows a block.
  const std::vector<std::pair<Shape, DType>> row_sizes = {
      {{4096, 4096}, DType::Float32}, {{4096, 32000}, DType::BFloat16}, {{32768, 1024}, DType::BFloat16}};
  for (const auto& [shape, dtype] : row_sizes) {
    out.push_back([shape, dtype] {
      auto f = entry(&DeviceKernels::softmax_rows);
      auto x = std::make_shared<Tensor>(rand_on_gpu(shape, dtype, 30));
      const profiler::Cost c = op_cost::softmax(*x);
      return Case{"softmax", dims(shape, dtype), c.bytes, c.flops,
                  f ? std::function<void()>([f, x] { f(*x, false); }) : nullptr};
    });
    out.push_back([shape, dtype] {
      auto f = entry(&DeviceKernels::softmax_rows_backward);
      auto x = std::make_shared<Tensor>(rand_on_gpu(shape, dtype, 31));
      return Case{"softmax_backward", dims(shape, dtype), 3 * op_cost::bytes(*x), 4 * double(x->numel()),
                  f ? std::function<void()>([f, x] { f(*x, *x, false); }) : nullptr};
    });
    out.push_back([shape, dtype] {
      auto f = entry(&DeviceKernels::sum_rows);
      auto x = std::make_shared<Tensor>(rand_on_gpu(shape, dtype, 32));
      return Case{"sum_rows", dims(shape, dtype), op_cost::bytes(*x), double(x->numel()),
                  f ? std::function<void()>([f, x] { f(*x); }) : nullptr};
    });
    out.push_back([shape, dtype] {
      auto f = entry(&DeviceKernels::var_rows);
      auto x = std::make_shared<Tensor>(rand_on_gpu(shape, dtype, 33));
      return Case{"var_rows", dims(shape, dtype), op_cost::bytes(*x), 3 * double(x->numel()),
                  f ? std::function<void()>([f, x] { f(*x, double(x->shape()[1])); }) : nullptr};
    });
    out.push_back([shape, dtype] {
      auto f = entry(&DeviceKernels::argmax_rows);
      auto x = std::make_shared<Tensor>(rand_on_gpu(shape, dtype, 34));
      return Case{"argmax_rows", dims(shape, dtype), op_cost::bytes(*x), double(x->numel()),
                  f ? std::function<void()>([f, x] { f(*x); }) : nullptr};
    });
    out.push_back([shape, dtype] {
      auto f = entry(&DeviceKernels::cross_entropy_rows);
      auto x = std::make_shared<Tensor>(rand_on_gpu(shape, dtype, 35));
      auto t = std::make_shared<Tensor>(ids_on_gpu({shape[0]}, shape[1], 36));
      return Case{"cross_entropy", dims(shape, dtype), op_cost::bytes(*x), 3 * double(x->numel()),
                  f ? std::function<void()>([f, x, t] { f(*x, *t, -100, x->shape()[0]); }) : nullptr};
    });
    out.push_back([shape, dtype] {
      auto fwd = entry(&DeviceKernels::cross_entropy_rows);
      auto f = entry(&DeviceKernels::cross_entropy_rows_backward);
      auto x = std::make_shared<Tensor>(rand_on_gpu(shape, dtype, 37));
      auto t = std::make_shared<Tensor>(ids_on_gpu({shape[0]}, shape[1], 38));
      auto saved = std::make_shared<std::vector<Tensor>>();
      if (fwd && f) *saved = fwd(*x, *t, -100, shape[0]);
      return Case{"cross_entropy_backward", dims(shape, dtype), 2 * op_cost::bytes(*x), 3 * double(x->numel()),
                  fwd && f ? std::function<void()>([f, x, t, saved] {
                    f(*x, *t, (*saved)[1], (*saved)[0], -100, x->shape()[0]);
                  })
                           : nullptr};
    });
  }
  const std::vector<std::pair<Shape, DType>> norm_sizes = {{{4096, 1024}, DType::Float32},
                                                           {{16384, 4096}, DType::BFloat16}};
  for (const auto& [shape, dtype] : norm_sizes)
    for (bool rms : {false, true}) {
      const std::string name = rms ? "rms_norm" : "layer_norm";
      out.push_back([shape, dtype, rms, name] {
        auto f = entry(&DeviceKernels::norm_rows);
        auto x = std::make_shared<Tensor>(rand_on_gpu(shape, dtype, 40));
        auto w = std::make_shared<Tensor>(rand_on_gpu({shape[1]}, dtype, 41));
        auto b = std::make_shared<Tensor>(rms ? Tensor() : rand_on_gpu({shape[1]}, dtype, 42));
        const profiler::Cost c = op_cost::norm(rms, *x, *w, *b);
        return Case{name, dims(shape, dtype), c.bytes, c.flops,
                    f ? std::function<void()>([f, rms, x, w, b] { f(rms, *x, *w, *b, 1e-5); }) : nullptr};
      });
      out.push_back([shape, dtype, rms, name] {
        auto fwd = entry(&DeviceKernels::norm_rows);
        auto f = entry(&DeviceKernels::norm_rows_backward);
        auto x = std::make_shared<Tensor>(rand_on_gpu(shape, dtype, 43));
        auto w = std::make_shared<Tensor>(rand_on_gpu({shape[1]}, dtype, 44));
        auto stats = std::make_shared<std::vector<Tensor>>();
        if (fwd && f) *stats = fwd(rms, *x, *w, Tensor(), 1e-5);
        return Case{name + "_backward", dims(shape, dtype), 3 * op_cost::bytes(*x), 8 * double(x->numel()),
                    fwd && f ? std::function<void()>([f, rms, x, w, stats] {
                      f(rms, *x, *w, *x, (*stats)[1], (*stats)[2], !rms);
                    })
                             : nullptr};
      });
    }
}

void add_indexing(std::vector<CaseFactory>& out) {
  // Embedding lookups of a Llama vocabulary: 32000 x 4096 bf16, 2048 or 16384 tokens.
  for (int64_t tokens : {int64_t{2048}, int64_t{16384}}) {
    const Shape table{32000, 4096};
    out.push_back([tokens, table] {
      auto f = entry(&DeviceKernels::index_select);
      auto w = std::make_shared<Tensor>(rand_on_gpu(table, DType::BFloat16, 50));
      auto ids = std::make_shared<Tensor>(ids_on_gpu({tokens}, table[0], 51));
      return Case{"index_select (embedding)", std::to_string(tokens) + " of " + dims(table, DType::BFloat16),
                  2.0 * double(tokens) * double(table[1]) * 2, 0,
                  f ? std::function<void()>([f, w, ids] { f(*w, 0, *ids); }) : nullptr};
    });
    out.push_back([tokens, table] {
      auto f = entry(&DeviceKernels::index_add);
      auto g = std::make_shared<Tensor>(rand_on_gpu({tokens, table[1]}, DType::BFloat16, 52));
      auto ids = std::make_shared<Tensor>(ids_on_gpu({tokens}, table[0], 53));
      return Case{"index_add (embedding backward)", std::to_string(tokens) + " into " + dims(table, DType::BFloat16),
                  op_cost::bytes(*g) + double(table[0]) * double(table[1]) * 2, double(g->numel()),
                  f ? std::function<void()>([f, g, ids, table] { f(*g, table, 0, *ids); }) : nullptr};
    });
  }
  for (const Shape& shape : {Shape{4096, 32000}, Shape{16384, 32000}}) {
    out.push_back([shape] {
      auto f = entry(&DeviceKernels::gather);
      auto x = std::make_shared<Tensor>(rand_on_gpu(shape, DType::Float32, 54));
      auto ids = std::make_shared<Tensor>(ids_on_gpu({shape[0], 1}, shape[1], 55));
      return Case{"gather (label logits)", dims(shape, DType::Float32), double(shape[0]) * (4 + 8 + 4), 0,
                  f ? std::function<void()>([f, x, ids] { f(*x, 1, *ids); }) : nullptr};
    });
    out.push_back([shape] {
      auto f = entry(&DeviceKernels::gather_backward);
      auto ids = std::make_shared<Tensor>(ids_on_gpu({shape[0], 1}, shape[1], 56));
      auto g = std::make_shared<Tensor>(rand_on_gpu({shape[0], 1}, DType::Float32, 57));
      return Case{"gather_backward", dims(shape, DType::Float32), double(shape[0]) * double(shape[1]) * 4, 0,
                  f ? std::function<void()>([f, g, shape, ids] { f(*g, shape, 1, *ids); }) : nullptr};
    });
  }
}

void add_llama_and_mamba(std::vector<CaseFactory>& out) {
  // {batch, heads, Lq, Lk}: prefill at two lengths (32 heads of 128, causal) and decoding (the
  // split-K decode kernels) in bf16, on the tensor cores; float32 runs the SIMT kernels (as any
  // head dim other than 64 and 128 does).
  struct AttentionSize {
    std::array<int64_t, 4> s;
    DType dtype;
  };
  const std::vector<AttentionSize> attn = {{{8, 32, 1024, 1024}, DType::BFloat16},
                                           {{2, 32, 4096, 4096}, DType::BFloat16},
                                           {{8, 32, 1, 4096}, DType::BFloat16},
                                           {{2, 32, 1024, 1024}, DType::Float32}};
  for (const auto& [s, dtype] : attn) {
    char size_text[96];
    std::snprintf(size_text, sizeof size_text, "b%lld h%lld %lldx%lld d128 causal %s", static_cast<long long>(s[0]),
                  static_cast<long long>(s[1]), static_cast<long long>(s[2]), static_cast<long long>(s[3]),
                  dtype == DType::BFloat16 ? "bf16" : "f32");
    const std::string size = size_text;
    out.push_back([s, dtype, size] {
      auto f = entry(&DeviceKernels::attention_forward);
      auto q = std::make_shared<Tensor>(rand_on_gpu({s[0], s[1], s[2], 128}, dtype, 60));
      auto k = std::make_shared<Tensor>(rand_on_gpu({s[0], s[1], s[3], 128}, dtype, 61));
      const profiler::Cost c = op_cost::attention(*q, *k, *k, true);
      return Case{"attention", size, c.bytes, c.flops,
                  f ? std::function<void()>([f, q, k] { f(*q, *k, *k, true, Tensor(), kScale); }) : nullptr};
    });
    if (s[2] == 1) continue;  // no backward while decoding
    out.push_back([s, dtype, size] {
      auto fwd = entry(&DeviceKernels::attention_forward);
      auto f = entry(&DeviceKernels::attention_backward);
      auto q = std::make_shared<Tensor>(rand_on_gpu({s[0], s[1], s[2], 128}, dtype, 62));
      auto saved = std::make_shared<std::vector<Tensor>>();
      if (fwd && f) *saved = fwd(*q, *q, *q, true, Tensor(), kScale);
      const profiler::Cost c = op_cost::attention(*q, *q, *q, true);
      // FlashAttention's count: the backward does 2.5 times the forward's products.
      return Case{"attention_backward", size, 2.5 * c.bytes, 2.5 * c.flops,
                  fwd && f ? std::function<void()>([f, q, saved] {
                    f(*q, *q, *q, (*saved)[0], (*saved)[1], *q, true, Tensor(), kScale);
                  })
                           : nullptr};
    });
  }
  for (int64_t L : {int64_t{512}, int64_t{4096}}) {
    const Shape x_shape{8, 32, L, 128};
    out.push_back([x_shape, L] {
      auto f = entry(&DeviceKernels::rotary);
      auto x = std::make_shared<Tensor>(rand_on_gpu(x_shape, DType::BFloat16, 70));
      auto pos = std::make_shared<Tensor>(ids_on_gpu({L}, L, 71));
      return Case{"rotary", dims(x_shape, DType::BFloat16), 2 * op_cost::bytes(*x), 6 * double(x->numel()),
                  f ? std::function<void()>([f, x, pos] { f(*x, *pos, 10000.0, RotaryPairing::HalfSplit, false); })
                    : nullptr};
    });
  }
  for (int64_t tokens : {int64_t{2048}, int64_t{16384}}) {
    const Shape h{tokens, 11008};
    out.push_back([h] {
      auto f = entry(&DeviceKernels::swiglu_forward);
      auto g = std::make_shared<Tensor>(rand_on_gpu(h, DType::BFloat16, 72));
      return Case{"swiglu", dims(h, DType::BFloat16), 3 * op_cost::bytes(*g), 5 * double(g->numel()),
                  f ? std::function<void()>([f, g] { f(*g, *g); }) : nullptr};
    });
    out.push_back([h] {
      auto f = entry(&DeviceKernels::swiglu_backward);
      auto g = std::make_shared<Tensor>(rand_on_gpu(h, DType::BFloat16, 73));
      return Case{"swiglu_backward", dims(h, DType::BFloat16), 5 * op_cost::bytes(*g), 10 * double(g->numel()),
                  f ? std::function<void()>([f, g] { f(*g, *g, *g); }) : nullptr};
    });
  }
  // Mamba at Vim-small and 2.8B-like widths: u [b, d, L], 16 states, conv width 4.
  const std::vector<std::array<int64_t, 3>> mamba = {{8, 768, 197}, {4, 5120, 2048}};
  for (const auto& s : mamba) {
    const Shape u_shape{s[0], s[1], s[2]};
    const std::string size = dims(u_shape, DType::BFloat16) + " N16";
    auto inputs = [u_shape] {
      auto in = std::make_shared<std::vector<Tensor>>();
      const int64_t b = u_shape[0], d = u_shape[1], L = u_shape[2];
      in->push_back(rand_on_gpu(u_shape, DType::BFloat16, 80));                      // u
      in->push_back(rand_on_gpu(u_shape, DType::BFloat16, 81, -3, 0));               // delta
      in->push_back(rand_on_gpu({d, 16}, DType::Float32, 82, -2, -0.1));            // A
      in->push_back(rand_on_gpu({b, 16, L}, DType::BFloat16, 83));                   // B
      in->push_back(rand_on_gpu({b, 16, L}, DType::BFloat16, 84));                   // C
      in->push_back(rand_on_gpu({d}, DType::Float32, 85));                           // D
      in->push_back(rand_on_gpu(u_shape, DType::BFloat16, 86));                      // z
      in->push_back(rand_on_gpu({d}, DType::Float32, 87));                           // delta_bias
      return in;
    };
    out.push_back([inputs, size] {
      auto f = entry(&DeviceKernels::selective_scan_forward);
      auto in = inputs();
      const auto& x = *in;
      const profiler::Cost c = op_cost::selective_scan(x[0], x[2], x[3], x[4]);
      return Case{"selective_scan", size, c.bytes, c.flops,
                  f ? std::function<void()>([f, in] {
                    const auto& x = *in;
                    f(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], true);
                  })
                    : nullptr};
    });
    out.push_back([inputs, size] {
      auto fwd = entry(&DeviceKernels::selective_scan_forward);
      auto f = entry(&DeviceKernels::selective_scan_backward);
      auto in = inputs();
      auto saved = std::make_shared<std::vector<Tensor>>();
      const auto& x = *in;
      if (fwd && f) *saved = fwd(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], true);
      const profiler::Cost c = op_cost::selective_scan(x[0], x[2], x[3], x[4]);
      return Case{"selective_scan_backward", size, 2.5 * c.bytes, 2.5 * c.flops,
                  fwd && f ? std::function<void()>([f, in, saved] {
                    const auto& x = *in;
                    f(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], true, (*saved)[2], (*saved)[0]);
                  })
                           : nullptr};
    });
    out.push_back([u_shape, size] {
      auto f = entry(&DeviceKernels::causal_conv1d_forward);
      auto x = std::make_shared<Tensor>(rand_on_gpu(u_shape, DType::BFloat16, 90));
      auto w = std::make_shared<Tensor>(rand_on_gpu({u_shape[1], 4}, DType::BFloat16, 91));
      auto b = std::make_shared<Tensor>(rand_on_gpu({u_shape[1]}, DType::BFloat16, 92));
      return Case{"causal_conv1d", dims(u_shape, DType::BFloat16) + " W4", 2 * op_cost::bytes(*x),
                  10 * double(x->numel()), f ? std::function<void()>([f, x, w, b] { f(*x, *w, *b, true); }) : nullptr};
    });
    out.push_back([u_shape, size] {
      auto f = entry(&DeviceKernels::causal_conv1d_backward);
      auto x = std::make_shared<Tensor>(rand_on_gpu(u_shape, DType::BFloat16, 93));
      auto w = std::make_shared<Tensor>(rand_on_gpu({u_shape[1], 4}, DType::BFloat16, 94));
      auto b = std::make_shared<Tensor>(rand_on_gpu({u_shape[1]}, DType::BFloat16, 95));
      return Case{"causal_conv1d_backward", dims(u_shape, DType::BFloat16) + " W4", 3 * op_cost::bytes(*x),
                  20 * double(x->numel()),
                  f ? std::function<void()>([f, x, w, b] { f(*x, *w, *b, true, *x); }) : nullptr};
    });
  }
}

void add_emrrg(std::vector<CaseFactory>& out) {
  // The hybrid layers' gated cross-attention at the paper's shapes: 18 studies, 32 heads of 128
  // (Llama-2-7B), 300 text tokens over 197 visual tokens, non-causal; bf16 on the tensor cores,
  // float32 on the SIMT kernels. Bytes and FLOPs: attention's, plus self_out read, cross written
  // and the gates; the backward counts 2.5 times the forward, as attention_backward does.
  const int64_t b = 18, h = 32, Lt = 300, Lv = 197;
  for (DType dtype : {DType::BFloat16, DType::Float32}) {
    const std::string size = dtype == DType::BFloat16 ? "b18 h32 300x197 d128 bf16" : "b18 h32 300x197 d128 f32";
    auto inputs = [=] {
      auto in = std::make_shared<std::vector<Tensor>>();
      in->push_back(rand_on_gpu({b, h, Lt, 128}, dtype, 110));    // q
      in->push_back(rand_on_gpu({b, h, Lv, 128}, dtype, 111));    // k
      in->push_back(rand_on_gpu({b, h, Lv, 128}, dtype, 112));    // v
      in->push_back(rand_on_gpu({b, h, Lt, 128}, dtype, 113));    // self_out (and dout)
      in->push_back(rand_on_gpu({b, Lt}, DType::Float32, 114));   // gate_logit
      in->push_back(full({1}, 0.5, DType::Float32, kGpu));        // warm_up
      return in;
    };
    auto cost = [](const std::vector<Tensor>& x) {
      const profiler::Cost c = op_cost::attention(x[0], x[1], x[2], false);
      return profiler::Cost{c.flops + 3 * double(x[0].numel()), c.bytes + 2 * op_cost::bytes(x[0]) + op_cost::bytes(x[4])};
    };
    out.push_back([inputs, cost, size] {
      auto f = entry(&DeviceKernels::gated_cross_attention_forward);
      auto in = inputs();
      const profiler::Cost c = cost(*in);
      return Case{"gated_cross_attention", size, c.bytes, c.flops,
                  f ? std::function<void()>([f, in] {
                    const auto& x = *in;
                    f(x[0], x[1], x[2], x[3], x[4], x[5], Tensor(), kScale);
                  })
                    : nullptr};
    });
    out.push_back([inputs, cost, size] {
      auto fwd = entry(&DeviceKernels::gated_cross_attention_forward);
      auto f = entry(&DeviceKernels::gated_cross_attention_backward);
      auto in = inputs();
      auto saved = std::make_shared<std::vector<Tensor>>();  // {out, cross, lse}
      const auto& x = *in;
      if (fwd && f) *saved = fwd(x[0], x[1], x[2], x[3], x[4], x[5], Tensor(), kScale);
      const profiler::Cost c = cost(x);
      return Case{"gated_cross_attention_backward", size, 2.5 * c.bytes, 2.5 * c.flops,
                  fwd && f ? std::function<void()>([f, in, saved] {
                    const auto& x = *in;
                    f(x[0], x[1], x[2], x[4], x[5], (*saved)[1], (*saved)[2], x[3], Tensor(), kScale);
                  })
                           : nullptr};
    });
  }
  // The LoRA-fused linear (Partial LoRA, frozen W): ARM-Base's in_proj (768 -> 1536) with
  // LoRA_p(X) (rank 32 into rows [0, 768)) over 18 studies x 2 views x 197 tokens, in bf16 (the
  // tensor-core kernel) and float32 (the SIMT kernel), and a Llama-7B-size 4096 -> 4096 with a
  // rank-16 adapter on every row; s = 2, no dropout. FLOPs: the base GEMM and the two rank-r
  // products (the backward: dh, dA, dB, dx = g W and dh A).
  struct LoraSize {
    int64_t N, in, out, rows, r;
    DType dtype;
  };
  const std::vector<LoraSize> lora = {{7092, 768, 1536, 768, 32, DType::BFloat16},
                                      {8192, 4096, 4096, 4096, 16, DType::BFloat16},
                                      {7092, 768, 1536, 768, 32, DType::Float32}};
  for (const LoraSize& l : lora) {
    char size_text[96];
    std::snprintf(size_text, sizeof size_text, "N%lld in%lld out%lld rows%lld r%lld %s", static_cast<long long>(l.N),
                  static_cast<long long>(l.in), static_cast<long long>(l.out), static_cast<long long>(l.rows),
                  static_cast<long long>(l.r), dtype_name(l.dtype));
    const std::string size = size_text;
    auto inputs = [l] {
      auto in = std::make_shared<std::vector<Tensor>>();
      in->push_back(rand_on_gpu({l.N, l.in}, l.dtype, 120));                // x
      in->push_back(rand_on_gpu({l.out, l.in}, l.dtype, 121, -0.02, 0.02));  // weight
      in->push_back(rand_on_gpu({l.r, l.in}, l.dtype, 122, -0.02, 0.02));    // lora_a
      in->push_back(rand_on_gpu({l.rows, l.r}, l.dtype, 123, -0.02, 0.02));  // lora_b
      in->push_back(rand_on_gpu({l.N, l.out}, l.dtype, 124));               // g (backward)
      return in;
    };
    const DeviceKernels::LoraScalars s{2.0, 0, LoraDropoutSite::Input, 1.0, 0, 0};
    const double N = double(l.N), in = double(l.in), o = double(l.out), rows = double(l.rows), r = double(l.r);
    const double es = double(dtype_size(l.dtype));
    const double weights = (l.out * l.in + l.r * l.in + l.rows * l.r) * es;
    out.push_back([inputs, s, size, N, in, o, rows, r, es, weights] {
      auto f = entry(&DeviceKernels::lora_linear_forward);
      auto x = inputs();
      return Case{"lora_linear", size, N * in * es + weights + N * o * es + N * r * 4,
                  2 * N * in * o + 2 * N * in * r + 2 * N * r * rows,
                  f ? std::function<void()>([f, x, s] {
                    const auto& t = *x;
                    f(t[0], t[1], Tensor(), t[2], t[3], s);
                  })
                    : nullptr};
    });
    out.push_back([inputs, s, size, N, in, o, rows, r, es, weights] {
      auto fwd = entry(&DeviceKernels::lora_linear_forward);
      auto f = entry(&DeviceKernels::lora_linear_backward);
      auto x = inputs();
      auto saved = std::make_shared<std::vector<Tensor>>();  // {y, h}
      const auto& t = *x;
      if (fwd && f) *saved = fwd(t[0], t[1], Tensor(), t[2], t[3], s);
      // Reads x, the weights, h and g; writes dx, dA and dB.
      const double bytes = 2 * N * in * es + 2 * weights - o * in * es + N * r * 4 + N * o * es;
      return Case{"lora_linear_backward", size, bytes, 4 * N * rows * r + 4 * N * r * in + 2 * N * o * in,
                  fwd && f ? std::function<void()>([f, x, s, saved] {
                    const auto& t = *x;
                    f(t[0], t[1], t[2], t[3], (*saved)[1], t[4], s, true, false);
                  })
                           : nullptr};
    });
  }
}

void add_gemm(std::vector<CaseFactory>& out) {
  // {m, n, k, dtype}: a Llama-7B projection of 4096 tokens, a square bf16 product, float32.
  const std::vector<std::tuple<int64_t, int64_t, int64_t, DType>> sizes = {
      {4096, 11008, 4096, DType::BFloat16}, {8192, 8192, 8192, DType::BFloat16}, {4096, 4096, 4096, DType::Float32}};
  for (const auto& [m, n, k, dtype] : sizes) {
    out.push_back([m, n, k, dtype] {
      auto a = std::make_shared<Tensor>(rand_on_gpu({m, k}, dtype, 100));
      auto b = std::make_shared<Tensor>(rand_on_gpu({k, n}, dtype, 101));
      auto c = std::make_shared<Tensor>(empty({m, n}, dtype, kGpu));
      const profiler::Cost cost = op_cost::matmul(*a, *b);
      return Case{"matmul (cuBLAS)",
                  std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) + " " + dtype_name(dtype),
                  cost.bytes, cost.flops, [a, b, c] { cuda::matmul_out(*a, *b, *c); }};
    });
  }
}

std::string arg_value(int argc, char** argv, const char* name) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  try {
    cuda::register_cuda_backend();
    cuda::register_cuda_kernels();
    autograd::NoGradGuard no_grad;
    const std::string anchors_path = arg_value(argc, argv, "--anchors"), json_path = arg_value(argc, argv, "--json");
    const std::string filter = arg_value(argc, argv, "--filter");
    std::map<std::string, double> anchors;
    if (!anchors_path.empty()) {
      std::ifstream f(anchors_path);
      if (!f) throw std::runtime_error("roofline: cannot read --anchors " + anchors_path);
      const nlohmann::json j = nlohmann::json::parse(f);
      for (const auto& [key, ms] : j.items())
        if (ms.is_number()) anchors[key] = ms.get<double>();
    }
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) throw std::runtime_error("roofline: no CUDA device");
    const double copy_gbps = cuda::measure_copy_gbps(), gemm_tflops = cuda::measure_bf16_gemm_tflops();
    const double ridge = gemm_tflops * 1e12 / (copy_gbps * 1e9);  // FLOPs per byte
    std::printf("%s: copy %.0f GB/s, cuBLAS bf16 GEMM %.1f TFLOP/s (ridge %.0f FLOP/byte)\n", prop.name, copy_gbps,
                gemm_tflops, ridge);
    std::printf("%-34s %-38s %10s %9s %9s %8s %11s %8s\n", "kernel", "size", "ms", "GB/s", "TFLOP/s", "%ceil",
                "anchor ms", "x anchor");
    std::vector<CaseFactory> factories;
    add_elementwise(factories);
    add_rows(factories);
    add_indexing(factories);
    add_llama_and_mamba(factories);
    add_emrrg(factories);
    add_gemm(factories);
    nlohmann::json rows = nlohmann::json::array();
    int failures = 0;
    for (const CaseFactory& make : factories) {
      const Case c = make();
      if (!filter.empty() && c.kernel.find(filter) == std::string::npos) continue;
      const std::string key = c.kernel + " | " + c.size;
      if (!c.run) {
        std::printf("%-34s %-38s %10s\n", c.kernel.c_str(), c.size.c_str(), "not registered");
        rows.push_back({{"kernel", c.kernel}, {"size", c.size}, {"registered", false}});
        continue;
      }
      try {
        const double ms = cuda::best_device_ms(c.run, 5);
        const double gbps = c.bytes / (ms * 1e-3) / 1e9, tflops = c.flops / (ms * 1e-3) / 1e12;
        const bool compute_bound = c.flops / std::max(c.bytes, 1.0) > ridge;
        const double ceiling = compute_bound ? 100 * tflops / gemm_tflops : 100 * gbps / copy_gbps;
        const auto anchor = anchors.find(key);
        char anchor_text[64] = "", ratio_text[32] = "";
        if (anchor != anchors.end()) {
          std::snprintf(anchor_text, sizeof anchor_text, "%.4f", anchor->second);
          std::snprintf(ratio_text, sizeof ratio_text, "%.2f", ms / anchor->second);
        }
        std::printf("%-34s %-38s %10.4f %9.1f %9.2f %7.1f%% %11s %8s\n", c.kernel.c_str(), c.size.c_str(), ms, gbps,
                    tflops, ceiling, anchor_text, ratio_text);
        nlohmann::json row = {{"kernel", c.kernel}, {"size", c.size}, {"ms", ms}, {"gbps", gbps}, {"tflops", tflops},
                              {"ceiling_percent", ceiling}, {"bound", compute_bound ? "compute" : "memory"}};
        if (anchor != anchors.end()) row["anchor_ms"] = anchor->second;
        rows.push_back(row);
      } catch (const std::exception& e) {
        ++failures;
        std::printf("%-34s %-38s FAILED: %s\n", c.kernel.c_str(), c.size.c_str(), e.what());
        rows.push_back({{"kernel", c.kernel}, {"size", c.size}, {"error", e.what()}});
      }
    }
    if (!json_path.empty()) {
      std::ofstream f(json_path);
      f << nlohmann::json{{"device", prop.name}, {"copy_gbps", copy_gbps}, {"gemm_tflops", gemm_tflops}, {"rows", rows}}
               .dump(1)
        << "\n";
    }
    return failures ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "roofline: %s\n", e.what());
    return 1;
  }
}
