// The FLOPs and bytes an op declares to the profiler (runtime/profiler.h) for one call, so the
// summary and the roofline table can state achieved TFLOP/s and GB/s. Bytes count each operand
// read once and each result written once (the ideal a kernel is measured against); FLOPs count a
// multiply-add as two, transcendental functions as one.
#pragma once
#include "runtime/profiler.h"

namespace emrrg::op_cost {

double bytes(const Tensor& t);  // 0 for an undefined tensor

// y = a @ b with torch.matmul's batching: 2 m n k per product.
profiler::Cost matmul(const Tensor& a, const Tensor& b);
// Attention of q [b, Hq, Lq, D] over k, v [b, Hkv, Lk, D]: two products of 2 Lq Lk D per head,
// the pairs a causal mask (aligned to the end, as Hugging Face's) removes left out.
profiler::Cost attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal);
// Selective scan of u [b, d, L] with N states per channel: discretisation (exp, two multiplies),
// the recurrence (multiply-add) and the C readout (multiply-add), about 9 N per element.
profiler::Cost selective_scan(const Tensor& u, const Tensor& A, const Tensor& B, const Tensor& C);
// Row-wise normalisation of x [..., D] (rms: sum of squares, scale, weight; layer: mean too).
profiler::Cost norm(bool rms, const Tensor& x, const Tensor& weight, const Tensor& bias);
// Softmax of rows: max, exp, sum, divide.
profiler::Cost softmax(const Tensor& x);

}  // namespace emrrg::op_cost
