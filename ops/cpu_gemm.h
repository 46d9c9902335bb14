// One OpenBLAS GEMM in row-major terms, for the CPU kernels of matmul and the ops built on
// GEMMs: c [m, n] (rows ldc apart) = alpha * op(a) op(b) + beta * c, where op(a) is the row-major
// matrix at a (rows lda apart) or its transpose when ta. An operand's MatrixLayout
// (ops/matrix_layout.h) gives its pointer's form: pass `layout.transposed != want_transpose`.
#pragma once
#include <cblas.h>

#include <cstdint>
#include <type_traits>

namespace emrrg::detail {

template <typename T>
void cpu_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
              int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // BLAS leaves c alone when k is 0 only for some libraries: c = beta * c here
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
    return;
  }
  const auto tra = ta ? CblasTrans : CblasNoTrans;
  const auto trb = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, tra, trb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else
    cblas_dgemm(CblasRowMajor, tra, trb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace emrrg::detail
