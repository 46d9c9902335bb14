// The device's measured ceilings, against which achieved rates are stated (the profiler's
// summary, bench/roofline.cpp): the bandwidth of a large device-to-device copy (bytes read plus
// written) and the rate of a large cuBLAS bf16 GEMM (float32 accumulation).
#pragma once
#include <cstdint>
#include <functional>

namespace emrrg::cuda {

// Device milliseconds of fn() on the current stream (best of `repeats`, after one warm-up).
double best_device_ms(const std::function<void()>& fn, int repeats);
// GB/s of a copy of `bytes` on the current device.
double measure_copy_gbps(int64_t bytes = int64_t{256} << 20);
// TFLOP/s of an n x n x n bf16 GEMM on the current device.
double measure_bf16_gemm_tflops(int64_t n = 8192);

}  // namespace emrrg::cuda
