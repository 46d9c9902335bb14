// Helpers shared by the CPU tests.
#pragma once
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "autograd/gradcheck.h"
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
