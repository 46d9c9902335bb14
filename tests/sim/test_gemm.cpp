// cuda::matmul (cuBLAS, here the simulator's cuBLAS on OpenBLAS) against the CPU emrrg::matmul
// on random inputs: sizes that are not multiples of 16, transposed operands (passed as flags,
// never copied), batches, broadcast batches, 1-D operands, empty and k = 0 products, a strided
// operand no BLAS layout describes; float32 and bfloat16, plus float64 and float16. Outputs
// are filled with NaN before every call, so an element the GEMM never writes shows.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "cuda/caching_allocator.h"
#include "cuda/cuda_backend.h"
#include "cuda/gemm.h"
#include "ops/matmul.h"
#include "runtime/random.h"
#include "runtime/view.h"

namespace {

using namespace emrrg;

// The same logical operand on the CPU and on the device.
struct Operand {
  Tensor cpu, dev;
};

Operand random_operand(const Shape& shape, DType dtype, uint64_t seed) {
  Generator gen(seed);
  const Tensor host = convert(rand_uniform(shape, -1.0, 1.0, gen, DType::Float32), dtype);
  return {host, to_device(host, Device::cuda())};
}

Operand view(const Operand& o, const std::function<Tensor(const Tensor&)>& f) { return {f(o.cpu), f(o.dev)}; }

Operand transposed(const Operand& o) {
  return view(o, [](const Tensor& t) { return views::transpose(t, -1, -2); });
}

double tolerance(DType t) {
  switch (t) {
    case DType::BFloat16: return 1e-2;
    case DType::Float16: return 2e-3;
    case DType::Float64: return 1e-12;
    default: return 1e-5;
  }
}

// With random operands and k > 0 the product has nonzero elements; all zeros would mean the
// comparison proved nothing.
void expect_close(const Tensor& got, const Tensor& want, double tol, bool nonzero_expected = true) {
  ASSERT_EQ(got.shape(), want.shape());
  ASSERT_EQ(got.dtype(), want.dtype());
  ASSERT_EQ(got.device(), Device::cuda());
  const std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  int bad = 0, nonzero = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    if (w[i] != 0.0) ++nonzero;
    const bool ok = !std::isnan(g[i]) && std::abs(g[i] - w[i]) <= tol * std::max(1.0, std::abs(w[i]));
    if (!ok && bad++ < 5) ADD_FAILURE() << "element " << i << ": got " << g[i] << ", want " << w[i];
  }
  EXPECT_EQ(bad, 0) << "of " << g.size() << " elements";
  if (nonzero_expected && !g.empty()) {
    EXPECT_GT(nonzero, 0);
  }
}

class CudaGemm : public ::testing::Test {
 protected:
  void SetUp() override { cuda::register_cuda_backend(); }

  // Computes a @ b into a NaN-poisoned output and with cuda::matmul, both checked against the
  // CPU product. With no_temporaries, the call must not allocate device memory, as a
  // copy of an operand would.
  static void check(const Operand& a, const Operand& b, bool no_temporaries = true) {
    const DType dtype = a.cpu.dtype();
    const Tensor want = matmul(a.cpu, b.cpu);
    const Tensor out = empty(want.shape(), dtype, Device::cuda());
    fill(out, std::nan(""));
    for (double v : out.to_vector<double>()) ASSERT_TRUE(std::isnan(v));
    auto& alloc = cuda::caching_allocator(0);
    alloc.reset_peak();
    const size_t before = alloc.stats().allocated_bytes;
    cuda::matmul_out(a.dev, b.dev, out);
    if (no_temporaries) {
      EXPECT_EQ(alloc.stats().peak_allocated_bytes, before) << "an operand was copied";
    }
    const bool nonzero = a.cpu.size(-1) > 0;
    expect_close(out, want, tolerance(dtype), nonzero);
    expect_close(cuda::matmul(a.dev, b.dev), want, tolerance(dtype), nonzero);
  }
};

class CudaGemmTyped : public CudaGemm, public ::testing::WithParamInterface<DType> {};

TEST_P(CudaGemmTyped, MatricesOfOddSizes) {
  const DType t = GetParam();
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{37, 53}, {53, 29}}, {{1, 1}, {1, 1}}, {{1, 17}, {17, 1}}, {{16, 16}, {16, 16}}, {{65, 3}, {3, 70}}};
  uint64_t seed = 100;
  for (const auto& [sa, sb] : cases) {
    SCOPED_TRACE(shape_str(sa) + " @ " + shape_str(sb));
    check(random_operand(sa, t, seed), random_operand(sb, t, seed + 1));
    seed += 2;
  }
}

TEST_P(CudaGemmTyped, TransposedOperandsGoAsFlags) {
  const DType t = GetParam();
  const Operand at = transposed(random_operand({53, 37}, t, 1));  // [37, 53]
  const Operand bt = transposed(random_operand({29, 53}, t, 2));  // [53, 29]
  const Operand a = random_operand({37, 53}, t, 3), b = random_operand({53, 29}, t, 4);
  {
    SCOPED_TRACE("a^T");
    check(at, b);
  }
  {
    SCOPED_TRACE("b^T");
    check(a, bt);
  }
  {
    SCOPED_TRACE("a^T b^T");
    check(at, bt);
  }
}

TEST_P(CudaGemmTyped, Batches) {
  const DType t = GetParam();
  check(random_operand({4, 19, 23}, t, 10), random_operand({4, 23, 11}, t, 11));
  check(random_operand({4, 19, 23}, t, 12), transposed(random_operand({4, 11, 23}, t, 13)));
  check(random_operand({2, 3, 5, 7}, t, 14), random_operand({2, 3, 7, 6}, t, 15));
}

TEST_P(CudaGemmTyped, BroadcastBatches) {
  const DType t = GetParam();
  {
    SCOPED_TRACE("[2, 1, 7, 9] @ [3, 9, 5]");
    check(random_operand({2, 1, 7, 9}, t, 20), random_operand({3, 9, 5}, t, 21));
  }
  {
    SCOPED_TRACE("[5, 7, 9] @ [1, 9, 4]");
    check(random_operand({5, 7, 9}, t, 22), random_operand({1, 9, 4}, t, 23));
  }
  {
    SCOPED_TRACE("[2, 3, 7, 9] @ [9, 4], folded into one GEMM");
    check(random_operand({2, 3, 7, 9}, t, 24), random_operand({9, 4}, t, 25));
  }
  {
    SCOPED_TRACE("a permuted so its batch cannot fold");
    const Operand a = view(random_operand({5, 3, 13}, t, 26), [](const Tensor& x) { return views::transpose(x, 0, 1); });
    check(a, random_operand({13, 6}, t, 27));
  }
  {
    SCOPED_TRACE("transposed and broadcast");
    check(transposed(random_operand({3, 1, 9, 7}, t, 28)), random_operand({1, 4, 9, 5}, t, 29));
  }
}

TEST_P(CudaGemmTyped, OneDimensionalOperands) {
  const DType t = GetParam();
  check(random_operand({9}, t, 30), random_operand({9, 4}, t, 31));
  check(random_operand({6, 9}, t, 32), random_operand({9}, t, 33));
  {
    SCOPED_TRACE("[9] @ [9]");
    // The CPU matmul cannot take two vectors yet; the reference is [1, 9] @ [9, 1] as a scalar.
    const Operand a = random_operand({9}, t, 34), b = random_operand({9}, t, 35);
    const Tensor want = views::try_reshape(matmul(views::unsqueeze(a.cpu, 0), views::unsqueeze(b.cpu, 1)), {}).value();
    const Tensor out = empty({}, t, Device::cuda());
    fill(out, std::nan(""));
    cuda::matmul_out(a.dev, b.dev, out);
    expect_close(out, want, tolerance(t));
    expect_close(cuda::matmul(a.dev, b.dev), want, tolerance(t));
  }
  check(random_operand({2, 6, 9}, t, 36), random_operand({9}, t, 37));
}

TEST_P(CudaGemmTyped, EmptyProductsAndZeroInnerDimension) {
  const DType t = GetParam();
  check(random_operand({3, 0}, t, 40), random_operand({0, 4}, t, 41));  // all zeros, poison overwritten
  check(random_operand({0, 3, 4}, t, 42), random_operand({4, 5}, t, 43));
  check(random_operand({3, 4}, t, 44), random_operand({4, 0}, t, 45));
}

TEST_P(CudaGemmTyped, AStridedOperandIsCopiedFirst) {
  const DType t = GetParam();
  // Every other column: no leading dimension describes it.
  const Operand a = view(random_operand({6, 26}, t, 50), [](const Tensor& x) { return views::slice(x, 1, 0, 26, 2); });
  check(a, random_operand({13, 8}, t, 51), /*no_temporaries=*/false);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaGemmTyped, ::testing::Values(DType::Float32, DType::BFloat16),
                         [](const ::testing::TestParamInfo<DType>& info) { return std::string(dtype_name(info.param)); });

TEST_F(CudaGemm, Float64AndFloat16) {
  for (DType t : {DType::Float64, DType::Float16}) {
    SCOPED_TRACE(dtype_name(t));
    check(random_operand({21, 34}, t, 60), random_operand({34, 17}, t, 61));
    check(transposed(random_operand({34, 21}, t, 62)), random_operand({3, 34, 17}, t, 63));
  }
}

TEST_F(CudaGemm, MatmulWritesEveryElementOfARecycledBlock) {
  const Operand a = random_operand({19, 31}, DType::Float32, 70), b = random_operand({31, 23}, DType::Float32, 71);
  cuda::caching_allocator(0).empty_cache();
  void* poisoned = nullptr;
  {
    const Tensor junk = empty({19, 23}, DType::Float32, Device::cuda());
    fill(junk, std::nan(""));
    poisoned = junk.raw_data();
  }
  const Tensor c = cuda::matmul(a.dev, b.dev);
  EXPECT_EQ(c.raw_data(), poisoned);
  expect_close(c, matmul(a.cpu, b.cpu), 1e-5);
}

TEST_F(CudaGemm, ErrorsNameTheShapes) {
  const Operand a = random_operand({3, 4}, DType::Float32, 80), b = random_operand({5, 2}, DType::Float32, 81);
  try {
    cuda::matmul(a.dev, b.dev);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[3, 4] @ [5, 2]"), std::string::npos) << e.what();
  }
  const Operand c = random_operand({4, 2}, DType::Float32, 82);
  const Operand h = random_operand({4, 2}, DType::BFloat16, 83);
  EXPECT_THROW(cuda::matmul(a.dev, h.dev), std::invalid_argument);
  EXPECT_THROW(cuda::matmul(a.dev, c.cpu), std::invalid_argument);
  EXPECT_THROW(cuda::matmul(a.dev, scalar_tensor(1.0, DType::Float32, Device::cuda())), std::invalid_argument);
  const Operand i = {arange(4, DType::Int32), to_device(arange(4, DType::Int32), Device::cuda())};
  EXPECT_THROW(cuda::matmul(i.dev, i.dev), std::invalid_argument);
  EXPECT_THROW(cuda::matmul_out(a.dev, c.dev, empty({2, 3}, DType::Float32, Device::cuda())), std::invalid_argument);
  EXPECT_THROW(cuda::matmul_out(a.dev, c.dev, views::transpose(empty({2, 3}, DType::Float32, Device::cuda()), 0, 1)),
               std::invalid_argument);
  EXPECT_THROW(cuda::matmul_out(a.dev, c.dev, empty({3, 2}, DType::BFloat16, Device::cuda())), std::invalid_argument);
}

TEST_F(CudaGemm, OneCublasHandlePerThreadReusedAfterTheThreadEnds) {
  const cublasHandle_t mine = cuda::cublas_handle();
  EXPECT_EQ(cuda::cublas_handle(), mine);
  cublasHandle_t second = nullptr, third = nullptr;
  std::thread([&] { second = cuda::cublas_handle(); }).join();
  std::thread([&] { third = cuda::cublas_handle(); }).join();
  EXPECT_NE(second, mine);
  EXPECT_EQ(third, second);
}

}  // namespace
