#include "ops/op_cost.h"

#include <algorithm>

namespace emrrg::op_cost {

namespace {
double numel(const Tensor& t) { return t.defined() ? static_cast<double>(t.numel()) : 0; }

// Product of the dims before the last two (the batch of a matmul operand).
double batch_of(const Tensor& t) {
  double n = 1;
  for (int64_t i = 0; i + 2 < t.dim(); ++i) n *= static_cast<double>(t.shape()[i]);
  return n;
}
}  // namespace

double bytes(const Tensor& t) { return t.defined() ? numel(t) * static_cast<double>(t.element_size()) : 0; }

profiler::Cost matmul(const Tensor& a, const Tensor& b) {
  if (a.dim() < 2 || b.dim() < 2) return {};
  const double m = static_cast<double>(a.shape()[a.dim() - 2]), k = static_cast<double>(a.shape().back());
  const double n = static_cast<double>(b.shape().back());
  const double batch = std::max(batch_of(a), batch_of(b));
  return {2 * batch * m * n * k, bytes(a) + bytes(b) + batch * m * n * static_cast<double>(a.element_size())};
}

profiler::Cost attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal) {
  if (q.dim() != 4 || k.dim() != 4) return {};
  const double b = static_cast<double>(q.shape()[0]), h = static_cast<double>(q.shape()[1]);
  const double Lq = static_cast<double>(q.shape()[2]), Lk = static_cast<double>(k.shape()[2]);
  const double D = static_cast<double>(q.shape()[3]);
  // Query i sees keys up to i + Lk - Lq under the causal mask.
  const double pairs = causal ? std::max(0.0, Lq * Lk - Lq * (Lq - 1) / 2) : Lq * Lk;
  const double lse_bytes = b * h * Lq * 4;
  return {4 * b * h * pairs * D, bytes(q) * 2 + bytes(k) + bytes(v) + lse_bytes};
}

profiler::Cost selective_scan(const Tensor& u, const Tensor& A, const Tensor& B, const Tensor& C) {
  const double N = A.dim() == 2 ? static_cast<double>(A.shape()[1]) : 0;
  return {9 * numel(u) * N, 3 * bytes(u) + bytes(A) + bytes(B) + bytes(C)};
}

profiler::Cost norm(bool rms, const Tensor& x, const Tensor& weight, const Tensor& bias) {
  return {(rms ? 4.0 : 7.0) * numel(x), 2 * bytes(x) + bytes(weight) + bytes(bias)};
}

profiler::Cost softmax(const Tensor& x) { return {5 * numel(x), 2 * bytes(x)}; }

}  // namespace emrrg::op_cost
