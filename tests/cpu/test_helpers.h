// Helpers shared by the CPU tests.
#pragma once
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "runtime/profiler.h"
#include "runtime/random.h"
#include "runtime/safetensors.h"

namespace emrrg::testing {

// A float64 leaf with values in [lo, hi), requiring grad (what gradcheck wants).
inline Tensor leaf64(const Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Generator gen(seed);
  Tensor t = rand_uniform(shape, lo, hi, gen, DType::Float64);
  t.set_requires_grad(true);
  return t;
}

inline Tensor rand32(const Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Generator gen(seed);
  return rand_uniform(shape, lo, hi, gen, DType::Float32);
}

#define EXPECT_GRADCHECK(fn, ...)                                              \
  do {                                                                          \
    auto gc_result = ::emrrg::autograd::gradcheck(fn, __VA_ARGS__);             \
    EXPECT_TRUE(gc_result.ok) << gc_result.message;                             \
  } while (0)

inline std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

// a and b of one shape, elementwise within atol.
inline void expect_all_near(const Tensor& a, const Tensor& b, double atol, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  const std::vector<double> x = values(a), y = values(b);
  for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(x[i], y[i], atol) << what << " at " << i;
}

// A leaf copy of t (a fixture tensor, say), requiring grad.
inline Tensor leaf_copy(const Tensor& t) {
  Tensor owned = empty(t.shape(), t.dtype());
  copy_into(owned, t);
  owned.set_requires_grad(true);
  return owned;
}

// A [B, L] key padding mask (true = attend) hiding every third key, differently per batch, but
// never key 0.
inline Tensor some_key_padding(int64_t B, int64_t L) {
  std::vector<uint8_t> keep(static_cast<size_t>(B * L), 1);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 1; j < L; ++j)
      if ((j + b) % 3 == 1) keep[b * L + j] = 0;
  return from_vector(keep, {B, L}, DType::Bool);
}

// Calls of lora_linear that fn() makes, as the profiler sees them: ops and their backward nodes
// (the models' frozen Linears run their first adapter as it).
struct FusedLoraCalls {
  int64_t forward = 0, backward = 0;
};

template <typename Fn>
FusedLoraCalls fused_lora_calls(Fn&& fn) {
  profiler::Session session({"", 0, 0});
  fn();
  FusedLoraCalls calls;
  for (const profiler::SummaryRow& row : session.finish().rows)
    if (row.name == "lora_linear") (row.category == "op" ? calls.forward : calls.backward) += row.calls;
  return calls;
}

inline void expect_near_vectors(const std::vector<double>& a, const std::vector<double>& b, double tol) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], tol) << "at " << i;
}

// The fixture's tensors whose names start with `prefix`, keyed by the rest of the name (a state
// dict stored as "init.fc1.weight", ...).
inline std::map<std::string, Tensor> with_prefix(const SafetensorsFile& f, const std::string& prefix) {
  std::map<std::string, Tensor> out;
  for (const auto& n : f.names())
    if (n.rfind(prefix, 0) == 0) out.emplace(n.substr(prefix.size()), f.get(n));
  return out;
}

}  // namespace emrrg::testing
