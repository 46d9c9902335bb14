#include "cuda/gemm.h"

#include <algorithm>
#include <array>
#include <climits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/cuda_check.h"
#include "cuda/kernel_timer.h"
#include "cuda/stream.h"
#include "ops/matrix_layout.h"
#include "runtime/view.h"

namespace emrrg::cuda {

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument("cuda::matmul: " + what); }

std::string shapes(const Tensor& a, const Tensor& b) { return shape_str(a.shape()) + " @ " + shape_str(b.shape()); }

// cuBLAS handles are costly to create and must not be destroyed after the runtime shuts down,
// so they are never destroyed: a thread that ends hands its handles to the next thread.
class HandlePool {
 public:
  cublasHandle_t acquire() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!free_.empty()) {
        cublasHandle_t h = free_.back();
        free_.pop_back();
        return h;
      }
    }
    cublasHandle_t h = nullptr;
    EMRRG_CUBLAS_CHECK(cublasCreate(&h));
    return h;
  }
  void release(cublasHandle_t h) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(h);
  }

 private:
  std::mutex mutex_;
  std::vector<cublasHandle_t> free_;
};

HandlePool& handle_pool(int device) {
  static std::array<HandlePool*, 64> pools{};
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  auto& p = pools.at(static_cast<size_t>(device));
  if (!p) p = new HandlePool();
  return *p;
}

struct ThreadHandles {
  std::array<cublasHandle_t, 64> handles{};
  ~ThreadHandles() {
    for (size_t d = 0; d < handles.size(); ++d)
      if (handles[d]) handle_pool(static_cast<int>(d)).release(handles[d]);
  }
};

struct GemmTypes {
  cudaDataType data;
  cublasComputeType_t compute;
  bool double_scale;
};

GemmTypes gemm_types(DType t) {
  switch (t) {
    case DType::Float32: return {CUDA_R_32F, CUBLAS_COMPUTE_32F, false};
    case DType::Float64: return {CUDA_R_64F, CUBLAS_COMPUTE_64F, true};
    case DType::BFloat16: return {CUDA_R_16BF, CUBLAS_COMPUTE_32F, false};
    case DType::Float16: return {CUDA_R_16F, CUBLAS_COMPUTE_32F, false};
    default: fail(std::string("needs a floating dtype, got ") + dtype_name(t));
  }
}

int to_int(int64_t v, const char* what, const Tensor& a, const Tensor& b) {
  if (v > INT_MAX) fail(std::string(what) + " " + std::to_string(v) + " exceeds cuBLAS's int range for " + shapes(a, b));
  return static_cast<int>(v);
}

// One batch dim of the product after size-1 dims are dropped and mergeable dims merged.
struct BatchDim {
  int64_t size, stride_a, stride_b, stride_c;
};

std::vector<BatchDim> coalesced_batch(const Tensor& a, const Tensor& b, int64_t mn) {
  const size_t nb = a.shape().size() - 2;
  std::vector<int64_t> stride_c(nb);
  for (size_t d = nb; d-- > 0;) stride_c[d] = d + 1 == nb ? mn : stride_c[d + 1] * a.shape()[d + 1];
  std::vector<BatchDim> merged;
  for (size_t d = 0; d < nb; ++d) {
    const BatchDim dim{a.shape()[d], a.strides()[d], b.strides()[d], stride_c[d]};
    if (dim.size == 1) continue;
    if (!merged.empty()) {
      BatchDim& outer = merged.back();
      if (outer.stride_a == dim.stride_a * dim.size && outer.stride_b == dim.stride_b * dim.size &&
          outer.stride_c == dim.stride_c * dim.size) {
        outer = {outer.size * dim.size, dim.stride_a, dim.stride_b, dim.stride_c};
        continue;
      }
    }
    merged.push_back(dim);
  }
  return merged;
}

// c (contiguous [batch..., m, n]) = a @ b, where a is [batch..., m, k] and b [batch..., k, n]
// with the same batch shape (broadcast dims have stride 0).
void batched_gemm(Tensor a, Tensor b, void* c) {
  const int64_t r = a.dim();
  const int64_t m = a.shape()[r - 2], k = a.shape()[r - 1], n = b.shape()[r - 1];
  const MatrixLayout la = as_blas_operand(a), lb = as_blas_operand(b);
  const int64_t batches = shape_numel(Shape(a.shape().begin(), a.shape().end() - 2));
  const size_t elem = a.element_size();
  if (m == 0 || n == 0 || batches == 0) return;
  const int device = a.device().index;
  if (k == 0) {
    device_backend(DeviceType::CUDA).memset(c, 0, static_cast<size_t>(batches * m * n) * elem, a.device());
    return;
  }
  const GemmTypes types = gemm_types(a.dtype());
  const float alpha_f = 1.0f, beta_f = 0.0f;
  const double alpha_d = 1.0, beta_d = 0.0;
  const void* alpha = types.double_scale ? static_cast<const void*>(&alpha_d) : &alpha_f;
  const void* beta = types.double_scale ? static_cast<const void*>(&beta_d) : &beta_f;
  const int im = to_int(m, "m", a, b), in = to_int(n, "n", a, b), ik = to_int(k, "k", a, b);
  const int lda = to_int(la.ld, "leading dimension", a, b), ldb = to_int(lb.ld, "leading dimension", a, b);
  // Row-major C = A B is column-major C^T = B^T A^T: cuBLAS gets B first, with m and n swapped,
  // and a row-major matrix is its transpose in column-major terms.
  const cublasOperation_t op_b = lb.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = la.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;

  std::vector<BatchDim> dims = coalesced_batch(a, b, m * n);
  BatchDim inner = dims.empty() ? BatchDim{1, 0, 0, m * n} : dims.back();
  if (!dims.empty()) dims.pop_back();
  int64_t outer_count = 1;
  for (const BatchDim& d : dims) outer_count *= d.size;

  DeviceGuard guard(device);
  cublasHandle_t handle = cublas_handle();
  const KernelTimer timer("cublas_gemm", current_stream(device));
  const char* pa = static_cast<const char*>(a.raw_data());
  const char* pb = static_cast<const char*>(b.raw_data());
  char* pc = static_cast<char*>(c);
  for (int64_t o = 0; o < outer_count; ++o) {
    int64_t oa = 0, ob = 0, oc = 0, rem = o;
    for (size_t d = dims.size(); d-- > 0;) {
      const int64_t idx = rem % dims[d].size;
      rem /= dims[d].size;
      oa += idx * dims[d].stride_a;
      ob += idx * dims[d].stride_b;
      oc += idx * dims[d].stride_c;
    }
    for (int64_t done = 0; done < inner.size;) {
      const int count = static_cast<int>(std::min<int64_t>(inner.size - done, INT_MAX));
      const char* ba = pa + (oa + done * inner.stride_a) * static_cast<int64_t>(elem);
      const char* bb = pb + (ob + done * inner.stride_b) * static_cast<int64_t>(elem);
      char* bc = pc + (oc + done * inner.stride_c) * static_cast<int64_t>(elem);
      if (count == 1) {
        EMRRG_CUBLAS_CHECK(cublasGemmEx(handle, op_b, op_a, in, im, ik, alpha, bb, types.data, ldb, ba, types.data,
                                        lda, beta, bc, types.data, in, types.compute, CUBLAS_GEMM_DEFAULT));
      } else {
        EMRRG_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
            handle, op_b, op_a, in, im, ik, alpha, bb, types.data, ldb, inner.stride_b, ba, types.data, lda,
            inner.stride_a, beta, bc, types.data, in, inner.stride_c, count, types.compute, CUBLAS_GEMM_DEFAULT));
      }
      done += count;
    }
  }
}

void check_operands(const Tensor& a, const Tensor& b) {
  for (const Tensor* t : {&a, &b}) {
    if (!t->defined()) fail("undefined operand");
    if (t->device().type != DeviceType::CUDA) fail("operand on " + t->device().str() + ": " + shapes(a, b));
    if (t->dim() == 0) fail("scalar operand: " + shapes(a, b));
  }
  if (a.device() != b.device()) fail("operands on " + a.device().str() + " and " + b.device().str());
  if (a.dtype() != b.dtype())
    fail(std::string("dtype mismatch: ") + dtype_name(a.dtype()) + " vs " + dtype_name(b.dtype()) + " for " + shapes(a, b));
  gemm_types(a.dtype());
}

// a and b with 1-D operands promoted to matrices.
std::pair<Tensor, Tensor> promoted(const Tensor& a, const Tensor& b) {
  return {a.dim() == 1 ? views::unsqueeze(a, 0) : a, b.dim() == 1 ? views::unsqueeze(b, 1) : b};
}

void product_into(const Tensor& a, const Tensor& b, void* c) {
  const int64_t k = a.shape()[a.dim() - 1];
  // [..., m, k] @ [k, n] is one large GEMM when the batch folds into m without a copy; the
  // output, contiguous, has the same layout either way.
  if (b.dim() == 2 && a.dim() > 2) {
    if (auto folded = views::try_reshape(a, {-1, k})) return batched_gemm(*folded, b, c);
  }
  const Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape sa = views::broadcast_shapes(ba, bb, "cuda::matmul"), sb = sa;
  sa.insert(sa.end(), a.shape().end() - 2, a.shape().end());
  sb.insert(sb.end(), b.shape().end() - 2, b.shape().end());
  batched_gemm(views::expand(a, sa), views::expand(b, sb), c);
}

}  // namespace

cublasHandle_t cublas_handle() {
  thread_local ThreadHandles cache;
  const int device = current_device();
  cublasHandle_t& h = cache.handles.at(static_cast<size_t>(device));
  if (!h) h = handle_pool(device).acquire();
  EMRRG_CUBLAS_CHECK(cublasSetStream(h, current_stream(device)));
  return h;
}

Shape matmul_shape(const Tensor& a, const Tensor& b) {
  check_operands(a, b);
  const auto [pa, pb] = promoted(a, b);
  if (pa.shape()[pa.dim() - 1] != pb.shape()[pb.dim() - 2]) fail("inner dimensions differ: " + shapes(a, b));
  Shape s = views::broadcast_shapes(Shape(pa.shape().begin(), pa.shape().end() - 2),
                                    Shape(pb.shape().begin(), pb.shape().end() - 2), "cuda::matmul");
  if (a.dim() > 1) s.push_back(pa.shape()[pa.dim() - 2]);
  if (b.dim() > 1) s.push_back(pb.shape()[pb.dim() - 1]);
  return s;
}

void matmul_out(const Tensor& a, const Tensor& b, const Tensor& out) {
  const Shape shape = matmul_shape(a, b);
  // An empty output has nothing to write, whatever its strides.
  if (!out.defined() || out.shape() != shape || out.dtype() != a.dtype() || out.device() != a.device() ||
      (out.numel() > 0 && !out.is_contiguous()))
    fail("output " + (out.defined() ? out.str() : std::string("undefined")) + " is not a contiguous " +
         dtype_name(a.dtype()) + " tensor of shape " + shape_str(shape) + " on " + a.device().str() + " for " +
         shapes(a, b));
  const auto [pa, pb] = promoted(a, b);
  product_into(pa, pb, out.raw_data());
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  Tensor out = empty(matmul_shape(a, b), a.dtype(), a.device());
  matmul_out(a, b, out);
  return out;
}

}  // namespace emrrg::cuda
