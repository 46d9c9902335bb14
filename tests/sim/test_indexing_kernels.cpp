// The indexing kernels (cuda/kernels/indexing.cu) against the CPU ops, run by the simulator:
// index_select_kernel (index_select along any dim, and embedding's row gather),
// index_add_kernel (their backward), gather_kernel and gather_backward_kernel. The kernels
// move values and sum gradients in the CPU's order and precision, so forward values and
// gradients must equal the CPU's exactly, in float32 and bfloat16 alike.
#include <functional>
#include <random>

#include "tests/sim/device_op_test_util.h"

namespace emrrg {
namespace {

using namespace device_op_test;

class IndexingKernels : public DeviceOpTest {};

// n entries in [0, limit) with repeats, as int64 or int32.
Tensor random_index(int64_t n, int64_t limit, uint64_t seed, DType dtype, const Shape& shape = {}) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> pick(0, limit - 1);
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (auto& i : v) i = pick(rng);
  return from_vector(v, shape.empty() ? Shape{n} : shape, dtype);
}

// The size of dim (negative counts from the end).
int64_t extent(const Shape& shape, int64_t dim) {
  return shape[static_cast<size_t>(dim < 0 ? dim + static_cast<int64_t>(shape.size()) : dim)];
}

// index_select_kernel and index_add_kernel: a dim with several 32-row tiles, more indices than
// a 256-thread chunk and rows wider than a block; a middle dim with short rows; the last dim
// of a transposed (strided) input.
TEST_F(IndexingKernels, IndexSelectAlongAnyDimForwardAndBackward) {
  struct Case {
    Shape shape;
    int64_t dim, m;
    DType index_dtype;
    bool transposed;  // x is transpose(x_values, 0, 2)
  };
  const std::vector<Case> cases = {
      {{70, 300}, 0, 300, DType::Int64, false},
      {{3, 50, 5}, 1, 40, DType::Int32, false},
      {{6, 4, 9}, 2, 10, DType::Int64, true},
      {{2, 33, 7}, -2, 1, DType::Int32, false},
  };
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    for (const Case& c : cases) {
      Tensor x_values = random(c.shape, 1, dtype);
      const Shape viewed = c.transposed ? transpose(x_values, 0, 2).shape() : c.shape;
      const int64_t n = extent(viewed, c.dim);
      const Tensor index = random_index(c.m, n, 2, c.index_dtype);
      expect_same_as_cpu(label("index_select dim " + std::to_string(c.dim), dtype, c.shape), x_values,
                         [&](const Tensor& x) {
                           Tensor v = c.transposed ? transpose(x, 0, 2) : x;
                           return index_select(v, c.dim, to_device(index, x.device()));
                         });
    }
  }
}

// Embedding is index_select_kernel on dim 0 of [V, D] with ids of any shape, and its backward
// index_add_kernel: repeated ids sum their gradient rows in id order.
TEST_F(IndexingKernels, EmbeddingRowsAndTheirGradient) {
  struct Case {
    Shape weight, ids;
    DType index_dtype;
  };
  const std::vector<Case> cases = {
      {{70, 300}, {4, 75}, DType::Int64},
      {{37, 20}, {3, 5}, DType::Int32},
      {{5, 33}, {40}, DType::Int64},  // every row repeated many times
  };
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    for (const Case& c : cases) {
      const Tensor ids = random_index(shape_numel(c.ids), c.weight[0], 3, c.index_dtype, c.ids);
      expect_same_as_cpu(label("embedding", dtype, c.weight), random(c.weight, 4, dtype),
                         [&](const Tensor& w) { return embedding(w, to_device(ids, w.device())); });
    }
  }
}

// gather_kernel and gather_backward_kernel: an index smaller than x outside dim, larger along
// dim, a strided (transposed) x, and a long dim where many positions pick the same element.
TEST_F(IndexingKernels, GatherAlongAnyDimForwardAndBackward) {
  struct Case {
    Shape x, index;
    int64_t dim;
    DType index_dtype;
    bool transposed;  // x is transpose(x_values, 0, 1)
  };
  const std::vector<Case> cases = {
      {{5, 40}, {5, 3}, 1, DType::Int64, false},
      {{6, 7, 9}, {10, 7, 4}, 0, DType::Int32, false},
      {{5, 40}, {30, 5}, 0, DType::Int64, true},
      {{4, 300}, {4, 300}, -1, DType::Int32, false},
  };
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    for (const Case& c : cases) {
      const Shape viewed = c.transposed ? Shape{c.x[1], c.x[0]} : c.x;
      const int64_t n = extent(viewed, c.dim);
      const Tensor index = random_index(shape_numel(c.index), n, 5, c.index_dtype, c.index);
      expect_same_as_cpu(label("gather dim " + std::to_string(c.dim), dtype, c.x), random(c.x, 6, dtype),
                         [&](const Tensor& x) {
                           Tensor v = c.transposed ? transpose(x, 0, 1) : x;
                           return gather(v, c.dim, to_device(index, x.device()));
                         });
    }
  }
}

// The device ops range-check their indices like the CPU ops, with the same message.
TEST_F(IndexingKernels, OutOfRangeIndicesGiveTheCpuError) {
  const Tensor x = random({5, 4}, 7);
  const Tensor bad = from_vector<int64_t>({0, 7, 2}, {3});
  const Tensor negative = from_vector<int32_t>({1, -1, 2, 0}, {2, 2});
  const std::vector<std::pair<std::string, std::function<Tensor(const Tensor&, Device)>>> ops = {
      {"index_select", [&](const Tensor& t, Device d) { return index_select(t, 0, to_device(bad, d)); }},
      {"embedding", [&](const Tensor& t, Device d) { return embedding(t, to_device(negative, d)); }},
      {"gather", [&](const Tensor& t, Device d) { return gather(t, 1, to_device(negative, d)); }},
  };
  for (const auto& [name, op] : ops) {
    std::string cpu_error, gpu_error;
    try {
      op(x, Device::cpu());
    } catch (const std::invalid_argument& e) {
      cpu_error = e.what();
    }
    try {
      op(to_device(x, kGpu), kGpu);
    } catch (const std::invalid_argument& e) {
      gpu_error = e.what();
    }
    EXPECT_NE(cpu_error.find("out of range"), std::string::npos) << name << ": " << cpu_error;
    EXPECT_EQ(gpu_error, cpu_error) << name;
  }
}

}  // namespace
}  // namespace emrrg
