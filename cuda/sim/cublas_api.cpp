// The cuBLAS entry points the backend uses, on OpenBLAS for the simulator: handles that only
// remember their stream, and GemmEx / GemmStridedBatchedEx in column-major terms with
// float32 (or float64) accumulation, converting 16-bit operands through float. Arguments are
// validated as cuBLAS documents; operand matrices must lie inside live device buffers, which
// a GPU would report as an illegal address (here: a message and EXECUTION_FAILED).
#include <cblas.h>
#include <cublas_v2.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "cuda/sim/memory.h"
#include "runtime/dtype.h"

namespace emrrg::sim {

namespace {

struct CublasHandleState {
  cudaStream_t stream = nullptr;
};

struct Handles {
  std::mutex mutex;
  std::set<cublasHandle_t> live;
};

Handles& handles() {
  static Handles* h = new Handles();
  return *h;
}

bool live_handle(cublasHandle_t h) {
  Handles& hs = handles();
  std::lock_guard<std::mutex> lock(hs.mutex);
  return hs.live.count(h) != 0;
}

enum class Elem { F32, F64, BF16, F16 };

bool elem_of(cudaDataType t, Elem& e) {
  switch (t) {
    case CUDA_R_32F: e = Elem::F32; return true;
    case CUDA_R_64F: e = Elem::F64; return true;
    case CUDA_R_16BF: e = Elem::BF16; return true;
    case CUDA_R_16F: e = Elem::F16; return true;
    default: return false;
  }
}

size_t elem_size(Elem e) { return e == Elem::F64 ? 8 : e == Elem::F32 ? 4 : 2; }

template <typename Acc> Acc load(const void* base, Elem e, int64_t i) {
  switch (e) {
    case Elem::F32: return static_cast<Acc>(static_cast<const float*>(base)[i]);
    case Elem::F64: return static_cast<Acc>(static_cast<const double*>(base)[i]);
    case Elem::BF16: return static_cast<Acc>(bf16_bits_to_float(static_cast<const uint16_t*>(base)[i]));
    case Elem::F16: return static_cast<Acc>(f16_bits_to_float(static_cast<const uint16_t*>(base)[i]));
  }
  return Acc{};
}

template <typename Acc> void store(void* base, Elem e, int64_t i, Acc v) {
  switch (e) {
    case Elem::F32: static_cast<float*>(base)[i] = static_cast<float>(v); break;
    case Elem::F64: static_cast<double*>(base)[i] = static_cast<double>(v); break;
    case Elem::BF16: static_cast<uint16_t*>(base)[i] = float_to_bf16_bits(static_cast<float>(v)); break;
    case Elem::F16: static_cast<uint16_t*>(base)[i] = float_to_f16_bits(static_cast<float>(v)); break;
  }
}

bool valid_op(cublasOperation_t op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C; }

// Whether the rows x cols column-major matrix at p (leading dimension ld) lies inside one live
// device buffer.
bool in_device_memory(const char* api, const char* operand, const void* p, int64_t rows, int64_t cols, int64_t ld,
                      Elem e) {
  if (rows == 0 || cols == 0) return true;
  const size_t bytes = static_cast<size_t>((cols - 1) * ld + rows) * elem_size(e);
  const auto a = find_device_allocation(p);
  const uintptr_t begin = reinterpret_cast<uintptr_t>(p);
  if (a && begin + bytes <= a->base + a->size) return true;
  std::string what = a ? "ends " + std::to_string(begin + bytes - (a->base + a->size)) + " bytes past the end of a " +
                             std::to_string(a->size) + "-byte device buffer"
                       : "is not device memory (" + describe_address(p) + ")";
  std::fprintf(stderr, "emrrg sim: %s: matrix %s (%lld x %lld, ld %lld, %zu bytes) %s\n", api, operand,
               static_cast<long long>(rows), static_cast<long long>(cols), static_cast<long long>(ld), bytes,
               what.c_str());
  return false;
}

void blas_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha, const float* a, int lda,
               const float* b, int ldb, float* c) {
  cblas_sgemm(CblasColMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, 0.0f, c, m);
}
void blas_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, double alpha, const double* a, int lda,
               const double* b, int ldb, double* c) {
  cblas_dgemm(CblasColMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, 0.0, c, m);
}

struct GemmArgs {
  cublasOperation_t op_a, op_b;
  int m, n, k;
  const void* alpha;
  const void* a;
  Elem ea;
  int lda;
  const void* b;
  Elem eb;
  int ldb;
  const void* beta;
  void* c;
  Elem ec;
  int ldc;
};

// C = alpha op(A) op(B) + beta C for one matrix triple, accumulating in Acc. C is not read when
// beta is 0, as in cuBLAS, so NaN in an output buffer does not leak into the result.
template <typename Acc> void gemm_one(const GemmArgs& g, const char* api, bool& in_bounds) {
  const int64_t rows_a = g.op_a == CUBLAS_OP_N ? g.m : g.k, cols_a = g.op_a == CUBLAS_OP_N ? g.k : g.m;
  const int64_t rows_b = g.op_b == CUBLAS_OP_N ? g.k : g.n, cols_b = g.op_b == CUBLAS_OP_N ? g.n : g.k;
  in_bounds = in_device_memory(api, "C", g.c, g.m, g.n, g.ldc, g.ec) &&
              (g.k == 0 || (in_device_memory(api, "A", g.a, rows_a, cols_a, g.lda, g.ea) &&
                            in_device_memory(api, "B", g.b, rows_b, cols_b, g.ldb, g.eb)));
  if (!in_bounds || g.m == 0 || g.n == 0) return;
  const Acc alpha = *static_cast<const Acc*>(g.alpha), beta = *static_cast<const Acc*>(g.beta);
  std::vector<Acc> t(static_cast<size_t>(g.m) * g.n, Acc{0});
  if (g.k > 0) {
    auto dense = [](const void* p, Elem e, int64_t rows, int64_t cols, int64_t ld) {
      std::vector<Acc> d(static_cast<size_t>(rows * cols));
      for (int64_t j = 0; j < cols; ++j)
        for (int64_t i = 0; i < rows; ++i) d[static_cast<size_t>(i + j * rows)] = load<Acc>(p, e, i + j * ld);
      return d;
    };
    const std::vector<Acc> a = dense(g.a, g.ea, rows_a, cols_a, g.lda), b = dense(g.b, g.eb, rows_b, cols_b, g.ldb);
    blas_gemm(g.op_a == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, g.op_b == CUBLAS_OP_N ? CblasNoTrans : CblasTrans,
              g.m, g.n, g.k, alpha, a.data(), static_cast<int>(std::max<int64_t>(rows_a, 1)), b.data(),
              static_cast<int>(std::max<int64_t>(rows_b, 1)), t.data());
  }
  for (int64_t j = 0; j < g.n; ++j)
    for (int64_t i = 0; i < g.m; ++i) {
      const int64_t ci = i + j * g.ldc;
      Acc v = t[static_cast<size_t>(i + j * g.m)];
      if (beta != Acc{0}) v += beta * load<Acc>(g.c, g.ec, ci);
      store<Acc>(g.c, g.ec, ci, v);
    }
}

// Checks arguments and types; on success `wide` says whether to accumulate in double.
cublasStatus_t check(cublasHandle_t handle, const GemmArgs& g, cudaDataType ta, cudaDataType tb, cudaDataType tc,
                     cublasComputeType_t compute, bool& wide, GemmArgs& typed) {
  if (!live_handle(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!valid_op(g.op_a) || !valid_op(g.op_b) || g.m < 0 || g.n < 0 || g.k < 0) return CUBLAS_STATUS_INVALID_VALUE;
  const int rows_a = g.op_a == CUBLAS_OP_N ? g.m : g.k, rows_b = g.op_b == CUBLAS_OP_N ? g.k : g.n;
  if (g.lda < std::max(1, rows_a) || g.ldb < std::max(1, rows_b) || g.ldc < std::max(1, g.m))
    return CUBLAS_STATUS_INVALID_VALUE;
  if (!g.alpha || !g.beta) return CUBLAS_STATUS_INVALID_VALUE;
  typed = g;
  if (!elem_of(ta, typed.ea) || !elem_of(tb, typed.eb) || !elem_of(tc, typed.ec) || ta != tb)
    return CUBLAS_STATUS_NOT_SUPPORTED;
  switch (compute) {
    case CUBLAS_COMPUTE_64F:
    case CUBLAS_COMPUTE_64F_PEDANTIC:
      wide = true;
      return ta == CUDA_R_64F && tc == CUDA_R_64F ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_SUPPORTED;
    case CUBLAS_COMPUTE_32F:
    case CUBLAS_COMPUTE_32F_PEDANTIC:
      wide = false;
      // 16-bit operands may write a 16-bit result of their own type or a float32 one.
      if (ta == CUDA_R_32F) return tc == CUDA_R_32F ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_SUPPORTED;
      if (ta == CUDA_R_16F || ta == CUDA_R_16BF)
        return tc == ta || tc == CUDA_R_32F ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_SUPPORTED;
      return CUBLAS_STATUS_NOT_SUPPORTED;
    case CUBLAS_COMPUTE_32F_FAST_TF32:
    case CUBLAS_COMPUTE_32F_FAST_16F:
    case CUBLAS_COMPUTE_32F_FAST_16BF:
      // The GPU may round inputs to the named type; full float32 here is within its tolerance.
      wide = false;
      return ta == CUDA_R_32F && tc == CUDA_R_32F ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_SUPPORTED;
    default:
      return CUBLAS_STATUS_NOT_SUPPORTED;
  }
}

cublasStatus_t run(const char* api, const GemmArgs& g, bool wide) {
  bool in_bounds = true;
  if (wide)
    gemm_one<double>(g, api, in_bounds);
  else
    gemm_one<float>(g, api, in_bounds);
  return in_bounds ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}

}  // namespace

}  // namespace emrrg::sim

extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
  if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
  auto h = reinterpret_cast<cublasHandle_t>(new emrrg::sim::CublasHandleState());
  auto& hs = emrrg::sim::handles();
  std::lock_guard<std::mutex> lock(hs.mutex);
  hs.live.insert(h);
  *handle = h;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  auto& hs = emrrg::sim::handles();
  std::lock_guard<std::mutex> lock(hs.mutex);
  if (!hs.live.erase(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  delete reinterpret_cast<emrrg::sim::CublasHandleState*>(handle);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId) {
  if (!emrrg::sim::live_handle(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  reinterpret_cast<emrrg::sim::CublasHandleState*>(handle)->stream = streamId;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                          int m, int n, int k, const void* alpha, const void* A, cudaDataType Atype,
                                          int lda, long long int strideA, const void* B, cudaDataType Btype, int ldb,
                                          long long int strideB, const void* beta, void* C, cudaDataType Ctype,
                                          int ldc, long long int strideC, int batchCount,
                                          cublasComputeType_t computeType, cublasGemmAlgo_t) {
  const emrrg::sim::GemmArgs g{transa, transb, m, n, k, alpha, A, {}, lda, B, {}, ldb, beta, C, {}, ldc};
  emrrg::sim::GemmArgs typed{};
  bool wide = false;
  const cublasStatus_t st = emrrg::sim::check(handle, g, Atype, Btype, Ctype, computeType, wide, typed);
  if (st != CUBLAS_STATUS_SUCCESS) return st;
  if (batchCount < 0) return CUBLAS_STATUS_INVALID_VALUE;
  const size_t sa = emrrg::sim::elem_size(typed.ea), sb = emrrg::sim::elem_size(typed.eb),
               sc = emrrg::sim::elem_size(typed.ec);
  for (int i = 0; i < batchCount; ++i) {
    emrrg::sim::GemmArgs one = typed;
    one.a = static_cast<const char*>(A) + i * strideA * static_cast<long long>(sa);
    one.b = static_cast<const char*>(B) + i * strideB * static_cast<long long>(sb);
    one.c = static_cast<char*>(C) + i * strideC * static_cast<long long>(sc);
    const cublasStatus_t r = emrrg::sim::run("cublasGemmStridedBatchedEx", one, wide);
    if (r != CUBLAS_STATUS_SUCCESS) return r;
  }
  return CUBLAS_STATUS_SUCCESS;
}

// A single GEMM is a batch of one.
cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                            int k, const void* alpha, const void* A, cudaDataType Atype, int lda, const void* B,
                            cudaDataType Btype, int ldb, const void* beta, void* C, cudaDataType Ctype, int ldc,
                            cublasComputeType_t computeType, cublasGemmAlgo_t algo) {
  return cublasGemmStridedBatchedEx(handle, transa, transb, m, n, k, alpha, A, Atype, lda, 0, B, Btype, ldb, 0, beta, C,
                                    Ctype, ldc, 0, 1, computeType, algo);
}

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "an absent device architectural feature is required";
    case CUBLAS_STATUS_MAPPING_ERROR: return "an access to GPU memory space failed";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "an internal operation failed";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
    case CUBLAS_STATUS_LICENSE_ERROR: return "an error was detected when checking the current licensing";
  }
  return "unknown error";
}

}  // extern "C"
