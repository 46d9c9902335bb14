#include "cuda/device_ceilings.h"

#include <algorithm>

#include "cuda/cuda_check.h"
#include "cuda/gemm.h"
#include "cuda/stream.h"
#include "runtime/tensor.h"

namespace emrrg::cuda {

double best_device_ms(const std::function<void()>& fn, int repeats) {
  fn();
  Event start, stop;
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    start.record();
    fn();
    stop.record();
    stop.synchronize();
    best = std::min<double>(best, start.elapsed_ms(stop));
  }
  return best;
}

double measure_copy_gbps(int64_t bytes) {
  const Device gpu = Device::cuda(current_device());
  const Tensor a = zeros({bytes}, DType::UInt8, gpu), b = empty({bytes}, DType::UInt8, gpu);
  const double ms = best_device_ms(
      [&] {
        EMRRG_CUDA_CHECK(cudaMemcpyAsync(b.raw_data(), a.raw_data(), static_cast<size_t>(bytes),
                                         cudaMemcpyDeviceToDevice, current_stream()));
      },
      10);
  return 2.0 * static_cast<double>(bytes) / (ms * 1e-3) / 1e9;
}

double measure_bf16_gemm_tflops(int64_t n) {
  const Device gpu = Device::cuda(current_device());
  const Tensor a = full({n, n}, 0.01, DType::BFloat16, gpu), b = full({n, n}, 0.02, DType::BFloat16, gpu);
  const Tensor c = empty({n, n}, DType::BFloat16, gpu);
  const double ms = best_device_ms([&] { matmul_out(a, b, c); }, 5);
  return 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) / (ms * 1e-3) / 1e12;
}

}  // namespace emrrg::cuda
