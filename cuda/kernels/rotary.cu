// Rotary position embedding: one thread per rotated pair. The arithmetic is Hugging Face's
// (ops/rotary.cpp): inv_freq and the angle in float32, cos and sin rounded to x's dtype, each
// product and the sum rounded to x's dtype.
#include "cuda/kernels/rotary.h"

#include "cuda/kernels/storage.h"

namespace emrrg::cuda {

namespace {

using storage::ptr;
using storage::to_float;
using storage::to_storage;

template <typename S> __device__ __forceinline__ float round_to(float v) { return to_float(to_storage<S>(v)); }

// x, y: [batch, heads, L, D] contiguous; positions: [L] (batch_positions false) or [batch, L].
// Pair i of a row is (i, i + D/2) (kHalfSplit) or (2i, 2i + 1); sign -1 rotates backwards.
template <typename S, typename P, bool kHalfSplit>
__global__ void rotary_kernel(const S* x, const P* positions, S* y, int64_t rows, int64_t heads, int64_t L, int64_t D,
                              bool batch_positions, float theta, float sign) {
  const int64_t half = D / 2;
  for (int64_t e = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; e < rows * half; e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t row = e / half, i = e % half;
    const int64_t l = row % L, b = row / (heads * L);
    const float p = static_cast<float>(positions[batch_positions ? b * L + l : l]);
    const float inv_freq = 1.0f / powf(theta, static_cast<float>(2 * i) / static_cast<float>(D));
    const float angle = p * inv_freq;
    const float c = round_to<S>(cosf(angle)), s = round_to<S>(sign * sinf(angle));
    const int64_t ia = row * D + (kHalfSplit ? i : 2 * i), ib = ia + (kHalfSplit ? half : 1);
    const float xa = to_float(x[ia]), xb = to_float(x[ib]);
    y[ia] = to_storage<S>(round_to<S>(xa * c) - round_to<S>(xb * s));
    y[ib] = to_storage<S>(round_to<S>(xb * c) + round_to<S>(xa * s));
  }
}

}  // namespace

Tensor rotary(const Tensor& x, const Tensor& positions, double theta, RotaryPairing pairing, bool inverse) {
  storage::check_cuda_floating("rotary", x);
  storage::check_cuda("rotary", positions);
  if (x.dim() != 4 || x.shape()[3] % 2 != 0)
    throw std::invalid_argument("rotary: x must be [batch, heads, L, head_dim] with an even head_dim, got " + x.str());
  const int64_t B = x.shape()[0], H = x.shape()[1], L = x.shape()[2], D = x.shape()[3];
  const bool batch_positions = positions.dim() == 2;
  if ((positions.dtype() != DType::Int32 && positions.dtype() != DType::Int64) ||
      positions.shape() != (batch_positions ? Shape{B, L} : Shape{L}))
    throw std::invalid_argument("rotary: positions " + positions.str() + " must be int32/int64 [L] or [batch, L] for x " +
                                x.str());
  const Tensor xc = to_contiguous(x);
  const Tensor pc = to_contiguous(positions);
  Tensor y = empty(x.shape(), x.dtype(), x.device());
  const int64_t rows = B * H * L;
  if (y.numel() == 0) return y;
  const float sign = inverse ? -1.0f : 1.0f;
  storage::dispatch_storage(x.dtype(), [&](auto s) {
    using S = decltype(s);
    auto launch = [&](auto position_tag, auto half_split_tag) {
      using P = decltype(position_tag);
      constexpr bool kHalfSplit = decltype(half_split_tag)::value;
      EMRRG_LAUNCH((rotary_kernel<S, P, kHalfSplit>), storage::grid_for(rows * (D / 2)), storage::kBlock, 0, nullptr,
                   ptr<const S>(xc), ptr<const P>(pc), ptr<S>(y), rows, H, L, D, batch_positions,
                   static_cast<float>(theta), sign);
    };
    auto with_pairing = [&](auto position_tag) {
      if (pairing == RotaryPairing::HalfSplit) launch(position_tag, std::true_type{});
      else launch(position_tag, std::false_type{});
    };
    if (pc.dtype() == DType::Int32) with_pairing(int32_t{});
    else with_pairing(int64_t{});
  });
  return y;
}

}  // namespace emrrg::cuda
