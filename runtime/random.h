// Random tensors from Philox streams. A Generator is (seed, offset); each draw uses the current
// offset and advances it by one, so a program that makes the same draws in the same order gets
// the same numbers on any device and any thread count.
#pragma once
#include <cstdint>

#include "runtime/tensor.h"

namespace emrrg {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x5eed, uint64_t offset = 0) : seed_(seed), offset_(offset) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }
  uint64_t next_offset() { return offset_++; }

 private:
  uint64_t seed_;
  uint64_t offset_;
};

// The process-wide generator used when none is given.
Generator& default_generator();
void manual_seed(uint64_t seed);

Tensor rand_uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype = DType::Float32);
Tensor randn(const Shape& shape, double mean, double std, Generator& gen, DType dtype = DType::Float32);
// 1 with probability keep_prob, else 0 (dtype Bool).
Tensor bernoulli_mask(const Shape& shape, double keep_prob, Generator& gen);
// A permutation of 0..n-1 (int64).
Tensor randperm(int64_t n, Generator& gen);

// Normal element i of stream (seed, offset): Box-Muller on the first two words of block i.
float philox_normal(uint64_t seed, uint64_t offset, uint64_t i);

}  // namespace emrrg
