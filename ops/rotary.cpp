#include "ops/rotary.h"

#include <cmath>

#include "autograd/tape.h"
#include "ops/device_kernels.h"
#include "ops/kernel_util.h"
#include "runtime/threading.h"

namespace emrrg {

namespace {

// The two members of rotated pair i of a head_dim-long row.
struct PairIndex {
  int64_t a, b;
};
inline PairIndex pair_index(RotaryPairing pairing, int64_t i, int64_t half) {
  return pairing == RotaryPairing::HalfSplit ? PairIndex{i, i + half} : PairIndex{2 * i, 2 * i + 1};
}

// x [batch, heads, L, head_dim] rotated by +angle (or -angle when inverse), in compute type T.
// Like Hugging Face's LlamaRotaryEmbedding + apply_rotary_pos_emb: inv_freq = 1 / theta^(2i/d)
// and angle = p * inv_freq in float32, cos and sin in float32 rounded to x's dtype, then
// x * cos + rotate(x) * sin with each product and the sum rounded to x's dtype.
template <typename T>
Tensor rotate_cpu(const Tensor& x, const std::vector<int64_t>& positions, int64_t position_rows, double theta,
                  RotaryPairing pairing, bool inverse) {
  const int64_t B = x.shape()[0], H = x.shape()[1], L = x.shape()[2], D = x.shape()[3], half = D / 2;
  const DType dt = x.dtype();
  std::vector<float> inv_freq(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i)
    inv_freq[i] = 1.0f / std::pow(static_cast<float>(theta), static_cast<float>(2 * i) / static_cast<float>(D));
  // cos_t, sin_t: [position_rows, L, half]
  std::vector<T> cos_t(static_cast<size_t>(position_rows * L * half)), sin_t(cos_t.size());
  for (int64_t r = 0; r < position_rows * L; ++r)
    for (int64_t i = 0; i < half; ++i) {
      const float angle = static_cast<float>(positions[r]) * inv_freq[i];
      cos_t[r * half + i] = detail::round_to(dt, static_cast<T>(std::cos(angle)));
      sin_t[r * half + i] = detail::round_to(dt, static_cast<T>(inverse ? -std::sin(angle) : std::sin(angle)));
    }
  Tensor xc = to_contiguous(convert(x, dtype_of<T>()));
  Tensor y = empty(x.shape(), dtype_of<T>());
  const T* px = xc.data<T>();
  T* py = y.data<T>();
  parallel_for(B * H * L, std::max<int64_t>(1, 16384 / std::max<int64_t>(D, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t l = row % L, b = row / (H * L);
      const int64_t table = ((position_rows == 1 ? 0 : b) * L + l) * half;
      const T* xr = px + row * D;
      T* yr = py + row * D;
      for (int64_t i = 0; i < half; ++i) {
        const T c = cos_t[table + i], s = sin_t[table + i];
        const PairIndex p = pair_index(pairing, i, half);
        const T xa = xr[p.a], xb = xr[p.b];
        yr[p.a] = detail::round_to(dt, detail::round_to(dt, xa * c) - detail::round_to(dt, xb * s));
        yr[p.b] = detail::round_to(dt, detail::round_to(dt, xb * c) + detail::round_to(dt, xa * s));
      }
    }
  });
  return y;
}

Tensor rotate(const Tensor& x, const Tensor& positions, double theta, RotaryPairing pairing, bool inverse) {
  if (!x.device().is_cpu()) {
    const Tensor p = to_contiguous(to_device(positions, x.device()));
    return device_kernel("rotary", x, &DeviceKernels::rotary)(x, p, theta, pairing, inverse);
  }
  const std::vector<int64_t> pos = positions.to_vector<int64_t>();
  const int64_t rows = positions.dim() == 2 ? positions.shape()[0] : 1;
  Tensor y = detail::dispatch_compute(
      x.dtype(), [&](auto tag) { return rotate_cpu<decltype(tag)>(x, pos, rows, theta, pairing, inverse); });
  return y.dtype() == x.dtype() ? y : convert(y, x.dtype());
}

}  // namespace

Tensor rotary(const Tensor& x, const Tensor& positions, double theta, RotaryPairing pairing) {
  detail::check_floating("rotary", x);
  if (x.dim() != 4 || x.shape()[3] % 2 != 0)
    detail::op_error("rotary",
                     "x must be [batch, heads, L, head_dim] with an even head_dim, got " + shape_str(x.shape()));
  if (!positions.defined() || (positions.dtype() != DType::Int32 && positions.dtype() != DType::Int64))
    detail::op_error("rotary", "positions must be an int32 or int64 tensor");
  const int64_t B = x.shape()[0], L = x.shape()[2];
  const bool shape_ok = (positions.dim() == 1 && positions.shape()[0] == L) ||
                        (positions.dim() == 2 && positions.shape()[0] == B && positions.shape()[1] == L);
  if (!shape_ok)
    detail::op_error("rotary", "positions " + shape_str(positions.shape()) + " must be [L] or [batch, L] for x " +
                                   shape_str(x.shape()));
  if (!(theta > 0) || !std::isfinite(theta))
    detail::op_error("rotary", "theta must be positive and finite, got " + std::to_string(theta));
  Tensor y = rotate(x, positions, theta, pairing, false);
  autograd::record("rotary", {x}, {y}, [positions, theta, pairing](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{rotate(g[0], positions, theta, pairing, true)};  // R(theta)^T = R(-theta)
  });
  return y;
}

}  // namespace emrrg
