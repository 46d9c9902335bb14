// The softmax and cross-entropy kernels (cuda/kernels/softmax.cu) against the CPU operators
// (ops/softmax.cpp), forward and backward through autograd, float32 and bfloat16, run by the
// simulator. Row lengths cover both kernel variants: a warp per row (n <= 1024; 10 and 100 are
// not multiples of 32) and a block per row (1500, 5000 and the 32000-class vocabulary, longer
// than the block so every thread strides the row).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "tests/sim/row_kernel_test_util.h"

namespace emrrg {
namespace {

using namespace row_kernel_test;

// float32: the kernels accumulate in float where the CPU accumulates some sums in double.
// bfloat16: results are rounded to 8 mantissa bits once, and the CPU backward (made of
// elementwise ops) rounds every intermediate, so results may differ by a couple of ulps.
Tolerance tolerance(DType t) { return t == DType::BFloat16 ? Tolerance{2e-2, 1e-2} : Tolerance{2e-5, 2e-6}; }

class SoftmaxKernels : public ::testing::Test {
 protected:
  void SetUp() override { register_cuda(); }
};

struct Graph {
  Tensor y, grad;
};

// y = op(x) and d sum(y * weights) / dx, x a fresh leaf on weights' device. One graph at a
// time: backward consumes the whole tape. Outputs of the shape are poisoned before each pass.
Graph forward_backward(const std::function<Tensor(const Tensor&)>& op, const Tensor& x, const Tensor& weights) {
  Tensor leaf = detach(to_device(x, weights.device()));  // a fresh leaf even when x is already there
  leaf.set_requires_grad();
  const bool gpu = weights.device() == kGpu;
  if (gpu) poison({{x.shape(), x.dtype()}});
  Tensor y = op(leaf);
  if (gpu) poison({{x.shape(), x.dtype()}, {x.shape(), x.dtype()}});
  autograd::backward(sum(mul(y, weights)));
  return {y, leaf.grad()};
}

const std::vector<Shape> kShapes = {{3, 10}, {37, 100}, {5, 1000}, {3, 1500}, {2, 5000}};

// softmax_forward_kernel and softmax_backward_kernel, both variants (warp and block per row),
// softmax and log-softmax.
TEST_F(SoftmaxKernels, SoftmaxAndLogSoftmaxForwardAndBackwardMatchTheCpu) {
  for (bool log_space : {false, true}) {
    const auto op = [log_space](const Tensor& t) { return log_space ? log_softmax(t, -1) : softmax(t, -1); };
    for (DType dtype : {DType::Float32, DType::BFloat16}) {
      for (const Shape& shape : kShapes) {
        const std::string what = std::string(log_space ? "log_softmax " : "softmax ") + dtype_name(dtype) + " " +
                                 shape_str(shape);
        const Tensor x = convert(random(shape, 11), dtype);
        const Tensor w = convert(random(shape, 12), dtype);
        const Graph gpu = forward_backward(op, x, to_device(w, kGpu));
        const Graph cpu = forward_backward(op, x, w);
        expect_close(gpu.y, cpu.y, tolerance(dtype), what + " forward");
        expect_close(gpu.grad, cpu.grad, tolerance(dtype), what + " gradient");
      }
    }
  }
}

// A dim other than the last goes through transposes (non-contiguous rows on the device), and a
// float16 input through the same kernels.
TEST_F(SoftmaxKernels, SoftmaxOverAMiddleDimAndFloat16) {
  for (DType dtype : {DType::Float32, DType::Float16}) {
    const Tensor x = convert(random({4, 33, 6}, 13), dtype);
    const Tensor w = convert(random({4, 33, 6}, 14), dtype);
    for (bool log_space : {false, true}) {
      const auto op = [log_space](const Tensor& t) { return log_space ? log_softmax(t, 1) : softmax(t, 1); };
      const Graph gpu = forward_backward(op, x, to_device(w, kGpu));
      const Graph cpu = forward_backward(op, x, w);
      const Tolerance tol = dtype == DType::Float16 ? Tolerance{4e-3, 2e-3} : tolerance(dtype);
      const std::string what = std::string(log_space ? "log_softmax" : "softmax") + " dim 1 " + dtype_name(dtype);
      expect_close(gpu.y, cpu.y, tol, what + " forward");
      expect_close(gpu.grad, cpu.grad, tol, what + " gradient");
    }
  }
}

// Masked (-inf) entries, as a causal attention mask makes them, including at the start of a
// row and a whole warp's share of a row: exp(-inf - -inf) must not turn the row into NaN.
TEST_F(SoftmaxKernels, MaskedEntriesGetZeroProbability) {
  for (const Shape& shape : {Shape{6, 70}, Shape{3, 1500}}) {
    std::vector<float> v = random(shape, 15).to_vector<float>();
    const int64_t n = shape[1];
    for (int64_t r = 0; r < shape[0]; ++r)
      for (int64_t j = 0; j < n; ++j)
        if (j < 40 || j % 7 == r) v[r * n + j] = -std::numeric_limits<float>::infinity();
    const Tensor x = from_vector(v, shape);
    const Tensor w = random(shape, 16);
    const Graph gpu = forward_backward([](const Tensor& t) { return softmax(t, -1); }, x, to_device(w, kGpu));
    const Graph cpu = forward_backward([](const Tensor& t) { return softmax(t, -1); }, x, w);
    expect_close(gpu.y, cpu.y, tolerance(DType::Float32), "masked softmax " + shape_str(shape));
    expect_close(gpu.grad, cpu.grad, tolerance(DType::Float32), "masked softmax gradient " + shape_str(shape));
    expect_close(log_softmax(to_device(x, kGpu), -1), log_softmax(x, -1), tolerance(DType::Float32),
                 "masked log_softmax " + shape_str(shape));
  }
}

// Targets spread over the classes, every fourth one ignored.
Tensor targets(int64_t rows, int64_t classes, DType dtype, int64_t ignore_index) {
  std::vector<int64_t> t(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) t[i] = i % 4 == 1 ? ignore_index : (i * 7919 + 13) % classes;
  return convert(from_vector(t, {rows}), dtype);
}

// loss = 2.5 * cross_entropy (so the gradient the kernel reads from the device is not 1) and
// d loss / d logits.
Graph cross_entropy_graph(const Tensor& logits, const Tensor& target, int64_t ignore_index, const Device& device) {
  Tensor leaf = detach(to_device(logits, device));
  leaf.set_requires_grad();
  const bool gpu = device == kGpu;
  if (gpu) poison({{Shape{}, logits.dtype()}});
  Tensor loss = cross_entropy(leaf, to_device(target, device), ignore_index);
  if (gpu) poison({{logits.shape(), logits.dtype()}});
  autograd::backward(mul(loss, 2.5));
  return {loss, leaf.grad()};
}

// cross_entropy_forward_kernel (warp and block rows), cross_entropy_mean_kernel and
// cross_entropy_backward_kernel: int64 and int32 targets, ignored rows, an ignore_index that is
// a valid class, 3-D logits, the Llama vocabulary size.
TEST_F(SoftmaxKernels, CrossEntropyForwardAndBackwardMatchTheCpu) {
  struct Case {
    Shape logits;
    DType target_dtype;
    int64_t ignore_index;
  };
  const std::vector<Case> cases = {{{7, 10}, DType::Int64, -100},    {{33, 1000}, DType::Int32, -100},
                                   {{4, 3000}, DType::Int64, -100},  {{2, 5, 37}, DType::Int64, 3},
                                   {{3, 32000}, DType::Int32, -100}};
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    for (const Case& c : cases) {
      const std::string what = "cross_entropy " + std::string(dtype_name(dtype)) + " " + shape_str(c.logits) + " " +
                               dtype_name(c.target_dtype);
      const int64_t classes = c.logits.back();
      const Tensor logits = convert(random(c.logits, 21, -4.0, 4.0), dtype);
      Shape lead(c.logits.begin(), c.logits.end() - 1);
      const Tensor target = reshape(targets(logits.numel() / classes, classes, c.target_dtype, c.ignore_index), lead);
      const Graph gpu = cross_entropy_graph(logits, target, c.ignore_index, kGpu);
      const Graph cpu = cross_entropy_graph(logits, target, c.ignore_index, Device::cpu());
      expect_close(gpu.y, cpu.y, tolerance(dtype), what + " loss");
      expect_close(gpu.grad, cpu.grad, tolerance(dtype), what + " gradient");
    }
  }
}

// A target on the host with logits on the device is moved there; the loss is the same bits on
// every run (one block sums the rows in a fixed order).
TEST_F(SoftmaxKernels, CrossEntropyTakesAHostTargetAndIsReproducible) {
  const Tensor logits = to_device(random({50, 300}, 22), kGpu);
  const Tensor target = targets(50, 300, DType::Int64, -100);
  const Tensor a = cross_entropy(logits, target);
  const Tensor b = cross_entropy(logits, to_device(target, kGpu));
  expect_same_bits(a, b, "host and device target");
  expect_close(a, cross_entropy(to_device(logits, Device::cpu()), target), tolerance(DType::Float32), "loss");
}

// Every target ignored: NaN loss and a zero gradient, as on the CPU.
TEST_F(SoftmaxKernels, CrossEntropyWithEveryTargetIgnoredIsNan) {
  Tensor logits = to_device(random({4, 40}, 23), kGpu);
  logits.set_requires_grad();
  const Tensor target = to_device(from_vector<int64_t>({-100, -100, -100, -100}, {4}), kGpu);
  poison({{Shape{}, DType::Float32}});
  Tensor loss = cross_entropy(logits, target);
  EXPECT_TRUE(std::isnan(loss.item()));
  poison({{Shape{4, 40}, DType::Float32}});
  autograd::backward(loss);
  for (double v : logits.grad().to_vector<double>()) ASSERT_EQ(v, 0.0);
}

// An out-of-range target fails before any kernel runs, with the CPU op's message.
TEST_F(SoftmaxKernels, CrossEntropyRejectsOutOfRangeTargetsLikeTheCpu) {
  const Tensor logits = random({3, 10}, 24);
  const Tensor target = from_vector<int64_t>({1, 10, 2}, {3});
  auto message = [](const Tensor& l, const Tensor& t) {
    try {
      cross_entropy(l, t);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string cpu = message(logits, target);
  EXPECT_NE(cpu.find("target 10 at position 1"), std::string::npos) << cpu;
  EXPECT_EQ(message(to_device(logits, kGpu), to_device(target, kGpu)), cpu);
  EXPECT_EQ(message(to_device(logits, kGpu), from_vector<int32_t>({-1, 0, 0}, {3})),
            message(logits, from_vector<int32_t>({-1, 0, 0}, {3})));
}

}  // namespace
}  // namespace emrrg
