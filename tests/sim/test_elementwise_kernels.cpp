// The elementwise, row-sum and data-movement kernels (cuda/kernels/elementwise.cu) against
// the CPU operators, forward and backward, float32 and bfloat16, run by the simulator.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "device_op_test_util.h"

namespace emrrg {
namespace {

using device_op_test::kGpu;
using device_op_test::poison_next_output;
using device_op_test::random;

class ElementwiseKernels : public device_op_test::DeviceOpTest {};

// Relative tolerance per dtype: float32 computes the same float expressions as the CPU;
// bfloat16 results may differ by one rounding of 8 mantissa bits.
double tolerance(DType t) { return t == DType::BFloat16 ? 1e-2 : 2e-6; }

void expect_close(const Tensor& gpu, const Tensor& cpu, DType dtype, const std::string& what) {
  device_op_test::expect_close(gpu, cpu, tolerance(dtype), what);
}

struct NamedUnary {
  const char* name;
  std::function<Tensor(const Tensor&)> op;
};

const std::vector<NamedUnary> kUnaryOps = {
    {"neg", [](const Tensor& x) { return neg(x); }},
    {"exp", [](const Tensor& x) { return exp(x); }},
    {"log", [](const Tensor& x) { return log(add(abs(x), 0.5)); }},
    {"sqrt", [](const Tensor& x) { return sqrt(add(abs(x), 0.5)); }},
    {"rsqrt", [](const Tensor& x) { return rsqrt(add(abs(x), 0.5)); }},
    {"sigmoid", [](const Tensor& x) { return sigmoid(x); }},
    {"tanh", [](const Tensor& x) { return tanh(x); }},
    {"silu", [](const Tensor& x) { return silu(x); }},
    {"gelu", [](const Tensor& x) { return gelu(x); }},
    {"gelu_tanh", [](const Tensor& x) { return gelu(x, GeluApproximation::Tanh); }},
    {"softplus", [](const Tensor& x) { return softplus(mul(x, 12.0)); }},  // crosses the threshold
    {"pow_scalar", [](const Tensor& x) { return pow(add(abs(x), 0.5), 1.5); }},
    {"clamp", [](const Tensor& x) { return clamp(x, -0.7, 0.9); }},
    {"mul_scalar", [](const Tensor& x) { return mul(x, -3.0); }},
};

// unary_forward_kernel (strided and bfloat16) and unary_forward_vec4_kernel (contiguous
// float32), then unary_backward_kernel through autograd, summed by sum_rows_kernel.
TEST_F(ElementwiseKernels, UnaryForwardAndBackwardMatchTheCpu) {
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    for (const Shape& shape : {Shape{1000}, Shape{3, 5, 7}, Shape{257}}) {
      for (const auto& [name, op] : kUnaryOps) {
        const std::string what = std::string(name) + " " + dtype_name(dtype) + " " + shape_str(shape);
        Tensor x_cpu = convert(random(shape, 1), dtype);
        x_cpu.set_requires_grad();
        Tensor x_gpu = to_device(x_cpu, kGpu);
        x_gpu.set_requires_grad();
        // A transposed view on the device exercises the strided path.
        auto view = [&](const Tensor& t) { return t.dim() == 3 ? transpose(t, 0, 2) : t; };
        // One graph at a time: backward consumes the whole tape.
        poison_next_output(view(x_gpu).shape(), dtype);
        Tensor y_gpu = op(view(x_gpu));
        autograd::backward(sum(mul(y_gpu, y_gpu)));
        Tensor y_cpu = op(view(x_cpu));
        autograd::backward(sum(mul(y_cpu, y_cpu)));
        expect_close(y_gpu, y_cpu, dtype, what + " forward");
        expect_close(x_gpu.grad(), x_cpu.grad(), dtype, what + " gradient");
      }
    }
  }
}

// binary_forward_kernel and binary_backward_kernel with broadcasting on both sides; the
// gradients of broadcast operands are reduced by sum_rows_kernel.
TEST_F(ElementwiseKernels, BinaryOpsBroadcastForwardAndBackward) {
  const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&, const Tensor&)>>> ops = {
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); }},
      {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }},
      {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }},
      {"div", [](const Tensor& a, const Tensor& b) { return div(a, add(abs(b), 0.5)); }},
      {"pow", [](const Tensor& a, const Tensor& b) { return pow(add(abs(a), 0.5), b); }},
  };
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    for (const auto& [name, op] : ops) {
      const std::string what = std::string(name) + " " + dtype_name(dtype);
      Tensor a_cpu = convert(random({4, 1, 67}, 2), dtype), b_cpu = convert(random({5, 1}, 3), dtype);
      a_cpu.set_requires_grad();
      b_cpu.set_requires_grad();
      Tensor a_gpu = to_device(a_cpu, kGpu), b_gpu = to_device(b_cpu, kGpu);
      a_gpu.set_requires_grad();
      b_gpu.set_requires_grad();
      poison_next_output({4, 5, 67}, dtype);
      Tensor y_gpu = op(a_gpu, b_gpu);
      autograd::backward(sum(y_gpu));
      Tensor y_cpu = op(a_cpu, b_cpu);
      autograd::backward(sum(y_cpu));
      expect_close(y_gpu, y_cpu, dtype, what + " forward");
      expect_close(a_gpu.grad(), a_cpu.grad(), dtype, what + " grad a");
      expect_close(b_gpu.grad(), b_cpu.grad(), dtype, what + " grad b");
    }
  }
}

// sum_rows_kernel over rows longer and shorter than a block, and over any dims.
TEST_F(ElementwiseKernels, SumsOverAnyDims) {
  for (const Shape& shape : {Shape{3, 1000}, Shape{700, 5}, Shape{2, 3, 300}}) {
    Tensor x = random(shape, 4);
    Tensor g = to_device(x, kGpu);
    expect_close(sum(g), sum(x), DType::Float32, "sum all " + shape_str(shape));
    expect_close(sum(g, {0}), sum(x, {0}), DType::Float32, "sum dim 0 " + shape_str(shape));
    expect_close(mean(g, {-1}, true), mean(x, {-1}, true), DType::Float32, "mean last " + shape_str(shape));
  }
}

// copy_kernel (strided, converting), add_into_kernel (gradient accumulation) and fill_kernel.
TEST_F(ElementwiseKernels, CopyConvertAccumulateAndFillOnTheDevice) {
  Tensor x = random({6, 45}, 5);
  Tensor g = to_device(x, kGpu);
  Tensor t = contiguous(transpose(g, 0, 1));  // strided copy on the device
  expect_close(t, contiguous(transpose(x, 0, 1)), DType::Float32, "transpose copy");
  for (DType d : {DType::BFloat16, DType::Float16, DType::Float64}) {
    Tensor c = convert(g, d);
    EXPECT_EQ(c.dtype(), d);
    expect_close(c, convert(x, d), d == DType::Float64 ? DType::Float32 : DType::BFloat16,
                 std::string("convert to ") + dtype_name(d));
  }
  Tensor acc = to_device(x, kGpu);
  add_into(acc, g);
  expect_close(acc, mul(x, 2.0), DType::Float32, "add_into");
  Tensor z = zeros({6, 45}, DType::Float32, kGpu);
  fill(slice(z, 1, 0, 45, 3), 2.5);  // every third column
  const auto v = to_device(z, Device::cpu()).to_vector<float>();
  for (int i = 0; i < 6 * 45; ++i) ASSERT_EQ(v[i], (i % 45) % 3 == 0 ? 2.5f : 0.0f) << i;
  // A tensor used twice accumulates its gradient on the device.
  Tensor w = to_device(random({300}, 6), kGpu);
  w.set_requires_grad();
  autograd::backward(sum(add(mul(w, 3.0), exp(w))));
  expect_close(w.grad(), add(exp(to_device(w, Device::cpu())), 3.0), DType::Float32, "accumulated gradient");
}

TEST_F(ElementwiseKernels, Float64HasNoCudaKernelAndSaysSo) {
  Tensor d = to_device(convert(random({4}, 7), DType::Float64), kGpu);
  try {
    exp(d);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("float32, bfloat16 or float16"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace emrrg

namespace emrrg {
namespace {

// The ops reach cuBLAS for CUDA tensors: linear layers forward and backward on the device.
TEST_F(ElementwiseKernels, LinearLayerOnTheDeviceMatchesTheCpu) {
  Tensor x = random({7, 33}, 8), w = random({19, 33}, 9), b = random({19}, 10);
  std::vector<Tensor> cpu{x, w, b}, gpu;
  for (Tensor& t : cpu) {
    t.set_requires_grad();
    gpu.push_back(to_device(t, kGpu));
    gpu.back().set_requires_grad();
  }
  Tensor y_gpu = linear(gpu[0], gpu[1], gpu[2]);
  autograd::backward(sum(tanh(y_gpu)));
  Tensor y_cpu = linear(cpu[0], cpu[1], cpu[2]);
  autograd::backward(sum(tanh(y_cpu)));
  expect_close(y_gpu, y_cpu, DType::Float32, "linear forward");
  for (size_t i = 0; i < 3; ++i) expect_close(gpu[i].grad(), cpu[i].grad(), DType::Float32, "linear gradient " + std::to_string(i));
}

}  // namespace
}  // namespace emrrg

namespace emrrg {
namespace {

// An op without a device kernel must say so instead of reading device memory on the host.
TEST_F(ElementwiseKernels, OpsWithoutADeviceKernelSaySo) {
  Tensor x = to_device(random({5}, 11), kGpu);
  for (const auto& op : std::vector<std::function<void()>>{[&] { gt(x, 0.0); }, [&] { eq(x, x); },
                                                          [&] { masked_fill(x, gt(random({5}, 12), 0.0), 1.0); }}) {
    try {
      op();
      FAIL() << "no error";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("cuda:0"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace emrrg
