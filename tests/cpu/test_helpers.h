// Helpers shared by the CPU tests.
#pragma once
#include <gtest/gtest.h>

#include "autograd/gradcheck.h"
#include "runtime/random.h"

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

}  // namespace emrrg::testing
