// The CUDA DeviceBackend in the simulator: tensors move to the device and back bit for bit in
// every dtype, through the pinned staging path for large buffers; memset, device-to-device
// copies and views with offsets; and the checks on CUDA and cuBLAS calls.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "cuda/caching_allocator.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_check.h"
#include "cuda/sim/memory.h"
#include "runtime/tensor.h"
#include "runtime/view.h"

namespace {

using namespace emrrg;

class CudaBackendMemory : public ::testing::Test {
 protected:
  void SetUp() override { cuda::register_cuda_backend(); }
};

// A CPU tensor whose bytes are random (0/1 for bool), so a copy that drops or reorders any
// byte shows.
Tensor random_bytes(const Shape& shape, DType dtype, uint32_t seed) {
  Tensor t = empty(shape, dtype);
  std::mt19937 rng(seed);
  auto* p = static_cast<uint8_t*>(t.raw_data());
  const size_t n = static_cast<size_t>(t.numel()) * t.element_size();
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(dtype == DType::Bool ? rng() % 2 : rng() % 256);
  return t;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  const size_t n = static_cast<size_t>(a.numel()) * a.element_size();
  return n == static_cast<size_t>(b.numel()) * b.element_size() && std::memcmp(a.raw_data(), b.raw_data(), n) == 0;
}

TEST_F(CudaBackendMemory, RegistersOnceUnderDeviceTypeCuda) {
  ASSERT_TRUE(has_device_backend(DeviceType::CUDA));
  DeviceBackend* first = &device_backend(DeviceType::CUDA);
  cuda::register_cuda_backend();
  EXPECT_EQ(&device_backend(DeviceType::CUDA), first);
  EXPECT_EQ(first->name(), "cuda");
  EXPECT_EQ(first->device_count(), 1);
}

TEST_F(CudaBackendMemory, EveryDtypeRoundTripsBitForBit) {
  const DType dtypes[] = {DType::Float32, DType::Float64, DType::BFloat16, DType::Float16,
                          DType::Int32,   DType::Int64,   DType::UInt8,    DType::Bool};
  uint32_t seed = 1;
  for (DType dtype : dtypes) {
    SCOPED_TRACE(dtype_name(dtype));
    const Tensor host = random_bytes({3, 37, 5}, dtype, seed++);
    const Tensor dev = to_device(host, Device::cuda());
    EXPECT_EQ(dev.device(), Device::cuda());
    EXPECT_EQ(dev.dtype(), dtype);
    EXPECT_EQ(dev.shape(), host.shape());
    // The bytes really are in a device buffer (the simulator's device memory is addressable).
    const auto alloc = sim::find_device_allocation(dev.raw_data());
    ASSERT_TRUE(alloc.has_value());
    EXPECT_GE(alloc->size, static_cast<size_t>(host.numel()) * host.element_size());
    EXPECT_EQ(std::memcmp(dev.raw_data(), host.raw_data(), static_cast<size_t>(host.numel()) * host.element_size()), 0);
    const Tensor back = to_device(dev, Device::cpu());
    EXPECT_TRUE(back.device().is_cpu());
    EXPECT_TRUE(same_bytes(back, host));
  }
}

TEST_F(CudaBackendMemory, LargeCopiesSpanSeveralStagingChunks) {
  const int64_t n = static_cast<int64_t>(3 * cuda::kStagingChunk + 12345);
  const Tensor host = random_bytes({n}, DType::UInt8, 7);
  const Tensor dev = to_device(host, Device::cuda());
  ASSERT_EQ(std::memcmp(dev.raw_data(), host.raw_data(), static_cast<size_t>(n)), 0);
  EXPECT_TRUE(same_bytes(to_device(dev, Device::cpu()), host));
}

TEST_F(CudaBackendMemory, ZerosOverwritesReusedMemory) {
  const Shape shape{1000};
  cuda::caching_allocator(0).empty_cache();  // no other cached block of this size
  void* first = nullptr;
  {
    const Tensor sevens = to_device(full(shape, 7.0), Device::cuda());
    first = sevens.raw_data();
  }
  const Tensor z = zeros(shape, DType::Float32, Device::cuda());
  // The freed block comes back, still holding sevens, so only the memset can zero it.
  EXPECT_EQ(z.raw_data(), first);
  for (float v : z.to_vector<float>()) ASSERT_EQ(v, 0.0f);
}

TEST_F(CudaBackendMemory, DeviceToDeviceCopyAndOffsetViews) {
  const Tensor host = random_bytes({6, 11}, DType::Float32, 3);
  const Tensor a = to_device(host, Device::cuda());
  const Tensor b = empty({6, 11}, DType::Float32, Device::cuda());
  copy_into(b, a);
  EXPECT_NE(a.raw_data(), b.raw_data());
  EXPECT_TRUE(same_bytes(to_device(b, Device::cpu()), host));
  // Rows 2..4 start 22 floats into the storage.
  const Tensor rows = to_device(views::narrow(a, 0, 2, 3), Device::cpu());
  EXPECT_TRUE(same_bytes(rows, to_contiguous(views::narrow(host, 0, 2, 3))));
}

TEST_F(CudaBackendMemory, EmptyTensorsNeedNoMemory) {
  const Tensor dev = to_device(empty({0, 3}), Device::cuda());
  EXPECT_EQ(dev.shape(), (Shape{0, 3}));
  EXPECT_EQ(to_device(dev, Device::cpu()).numel(), 0);
}

TEST_F(CudaBackendMemory, CudaCheckNamesTheCallTheErrorAndTheLine) {
  std::vector<float> host(4, 1.0f), other(4);
  try {
    // Host memory under a host-to-device kind: the simulator rejects it like the runtime.
    EMRRG_CUDA_CHECK(cudaMemcpy(other.data(), host.data(), 16, cudaMemcpyHostToDevice));
    FAIL() << "no exception";
  } catch (const cuda::CudaError& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.code(), cudaErrorInvalidValue);
    EXPECT_NE(what.find("cudaErrorInvalidValue"), std::string::npos) << what;
    EXPECT_NE(what.find("invalid argument"), std::string::npos) << what;
    EXPECT_NE(what.find("cudaMemcpy(other.data(), host.data(), 16, cudaMemcpyHostToDevice)"), std::string::npos) << what;
    EXPECT_NE(what.find("test_backend_memory.cpp:"), std::string::npos) << what;
  }
  // The check consumed the error, so the next launch check will not report it again.
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

TEST_F(CudaBackendMemory, CopiesPastTheEndOfADeviceBufferAreRejected) {
  const Tensor dev = empty({4}, DType::Float32, Device::cuda());
  std::vector<float> host(8, 2.0f);
  EXPECT_EQ(cudaMemcpy(dev.raw_data(), host.data(), 16, cudaMemcpyHostToDevice), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(dev.raw_data(), host.data(), 20, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(cudaMemset(static_cast<char*>(dev.raw_data()) + 8, 0, 9), cudaErrorInvalidValue);
  EXPECT_EQ(cudaPeekAtLastError(), cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
}

TEST_F(CudaBackendMemory, CublasCheckNamesTheStatus) {
  try {
    EMRRG_CUBLAS_CHECK(cublasSetStream(nullptr, nullptr));
    FAIL() << "no exception";
  } catch (const cuda::CublasError& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.status(), CUBLAS_STATUS_NOT_INITIALIZED);
    EXPECT_NE(what.find("CUBLAS_STATUS_NOT_INITIALIZED"), std::string::npos) << what;
    EXPECT_NE(what.find("cublasSetStream(nullptr, nullptr)"), std::string::npos) << what;
    EXPECT_NE(what.find("test_backend_memory.cpp:"), std::string::npos) << what;
  }
}

}  // namespace
