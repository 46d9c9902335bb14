// Checks of CUDA runtime and cuBLAS calls. A failing call throws std::runtime_error naming the
// call as written, the file and line, and the error's name and description:
//   EMRRG_CUDA_CHECK(cudaMalloc(&p, n));
//   EMRRG_CUBLAS_CHECK(cublasCreate(&handle));
// Destructors, which must not throw, use EMRRG_CUDA_CHECK_NOTHROW: it reports to stderr.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace emrrg::cuda {

// A failed CUDA runtime call; code() is the error it returned.
class CudaError : public std::runtime_error {
 public:
  CudaError(cudaError_t code, const std::string& what) : std::runtime_error(what), code_(code) {}
  cudaError_t code() const { return code_; }

 private:
  cudaError_t code_;
};

// A failed cuBLAS call; status() is what it returned.
class CublasError : public std::runtime_error {
 public:
  CublasError(cublasStatus_t status, const std::string& what) : std::runtime_error(what), status_(status) {}
  cublasStatus_t status() const { return status_; }

 private:
  cublasStatus_t status_;
};

namespace detail {

inline std::string cuda_error_message(cudaError_t err, const char* call, const char* file, int line) {
  return std::string("CUDA error ") + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ") from " + call +
         " at " + file + ":" + std::to_string(line);
}

[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line) {
  // The runtime also keeps a non-sticky error as the thread's last error; clearing it here
  // stops a later launch check from reporting this failure a second time as its own.
  (void)cudaGetLastError();
  throw CudaError(err, cuda_error_message(err, call, file, line));
}

inline void report_cuda_error(cudaError_t err, const char* call, const char* file, int line) noexcept {
  (void)cudaGetLastError();
  std::fprintf(stderr, "emrrg: %s\n", cuda_error_message(err, call, file, line).c_str());
}

[[noreturn]] inline void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  throw CublasError(status, std::string("cuBLAS error ") + cublasGetStatusName(status) + " (" +
                                cublasGetStatusString(status) + ") from " + call + " at " + file + ":" +
                                std::to_string(line));
}

}  // namespace detail
}  // namespace emrrg::cuda

#define EMRRG_CUDA_CHECK(call)                                                              \
  do {                                                                                      \
    const cudaError_t emrrg_cuda_err_ = (call);                                             \
    if (emrrg_cuda_err_ != cudaSuccess)                                                     \
      ::emrrg::cuda::detail::throw_cuda_error(emrrg_cuda_err_, #call, __FILE__, __LINE__); \
  } while (0)

#define EMRRG_CUDA_CHECK_NOTHROW(call)                                                       \
  do {                                                                                       \
    const cudaError_t emrrg_cuda_err_ = (call);                                              \
    if (emrrg_cuda_err_ != cudaSuccess)                                                      \
      ::emrrg::cuda::detail::report_cuda_error(emrrg_cuda_err_, #call, __FILE__, __LINE__); \
  } while (0)

#define EMRRG_CUBLAS_CHECK(call)                                                                   \
  do {                                                                                             \
    const cublasStatus_t emrrg_cublas_status_ = (call);                                            \
    if (emrrg_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                             \
      ::emrrg::cuda::detail::throw_cublas_error(emrrg_cublas_status_, #call, __FILE__, __LINE__); \
  } while (0)
