#include "runtime/random.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "runtime/philox.h"
#include "runtime/threading.h"

namespace emrrg {

Generator& default_generator() {
  static Generator gen;
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().set_state(seed, 0); }

float philox_normal(uint64_t seed, uint64_t offset, uint64_t i) {
  uint32_t w[4];
  philox_block(seed, offset, i, w);
  const float u1 = (static_cast<float>(w[0] >> 8) + 1.0f) * (1.0f / 16777216.0f);  // (0, 1]
  const float u2 = philox_uniform_bits(w[1]);
  return std::sqrt(-2.0f * std::log(u1)) * std::cos(6.283185307179586f * u2);
}

namespace {
template <typename Fn> Tensor generate(const Shape& shape, DType dtype, Fn&& value_at) {
  if (!is_floating(dtype))
    throw std::invalid_argument(std::string("random: dtype must be floating, got ") + dtype_name(dtype));
  Tensor f = empty(shape, DType::Float32);
  float* p = f.data<float>();
  parallel_for(f.numel(), 16384, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) p[i] = value_at(static_cast<uint64_t>(i));
  });
  return convert(f, dtype);
}
}  // namespace

Tensor rand_uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype) {
  const uint64_t seed = gen.seed(), offset = gen.next_offset();
  const float lo = static_cast<float>(low), span = static_cast<float>(high - low);
  return generate(shape, dtype, [&](uint64_t i) { return lo + span * philox_uniform(seed, offset, i); });
}

Tensor randn(const Shape& shape, double mean, double std, Generator& gen, DType dtype) {
  const uint64_t seed = gen.seed(), offset = gen.next_offset();
  const float m = static_cast<float>(mean), s = static_cast<float>(std);
  return generate(shape, dtype, [&](uint64_t i) { return m + s * philox_normal(seed, offset, i); });
}

Tensor bernoulli_mask(const Shape& shape, double keep_prob, Generator& gen) {
  if (keep_prob < 0 || keep_prob > 1)
    throw std::invalid_argument("bernoulli_mask: keep_prob " + std::to_string(keep_prob) + " outside [0, 1]");
  const uint64_t seed = gen.seed(), offset = gen.next_offset();
  Tensor m = empty(shape, DType::Bool);
  bool* p = m.data<bool>();
  const float kp = static_cast<float>(keep_prob);
  parallel_for(m.numel(), 16384, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) p[i] = philox_uniform(seed, offset, static_cast<uint64_t>(i)) < kp;
  });
  return m;
}

Tensor randperm(int64_t n, Generator& gen) {
  if (n < 0) throw std::invalid_argument("randperm: negative n " + std::to_string(n));
  const uint64_t seed = gen.seed(), offset = gen.next_offset();
  std::vector<uint64_t> keys(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    uint32_t w[4];
    philox_block(seed, offset, static_cast<uint64_t>(i), w);
    keys[i] = (static_cast<uint64_t>(w[0]) << 32) | w[1];
  }
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return keys[a] != keys[b] ? keys[a] < keys[b] : a < b; });
  return from_vector(idx, {n});
}

}  // namespace emrrg
