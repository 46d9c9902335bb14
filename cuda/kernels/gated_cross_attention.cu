// The hybrid layer's gated cross-attention (CPU reference: ops/gated_cross_attention.cpp):
//   out = self_out + (cross * g_d) * g_s,  cross = attention(q, k, v) (non-causal),
//   g_d = tanh(gate_logit) per text token, g_s = tanh(warm_up).
// The forward is the attention kernels with the gates in their epilogue (attention.cu). The
// backward, with r = rowsum(dout * cross) per (b, h, i): dcross = dout * g_d g_s enters the
// attention backward as a per-row scale of dout, its delta = g_d g_s r; dgate_logit = sum_h r g_s
// (1 - g_d^2); dwarm_up = (1 - g_s^2) sum g_d r over every row, as per-block partials added in
// block order (sum_partials).
#include "cuda/kernels/gated_cross_attention.h"

#include <stdexcept>
#include <string>

#include "cuda/kernels/attention.h"
#include "cuda/kernels/storage.h"
#include "cuda/kernels/sum_partials.h"

namespace emrrg::cuda {

namespace {

using storage::kBlock;
using storage::ptr;

// One thread per text token t = b * Lt + i over its heads; a fixed-order tree sum per block for
// the warm-up gate's partial.
// row_dots, delta, row_scale: [B, Hq, Lt]; gate_logit, dgate: [B, Lt]; warm_up: [1]; dwarm_part: [blocks]
__global__ void gated_cross_attention_gates_kernel(const float* row_dots, const float* gate_logit, const float* warm_up,
                                                   float* delta, float* row_scale, float* dgate, float* dwarm_part,
                                                   int64_t batch, int64_t heads, int64_t Lt) {
  EMRRG_SHARED(float, s_sum, kBlock);
  const int64_t t = int64_t{blockIdx.x} * kBlock + threadIdx.x;
  const float gs = tanhf(warm_up[0]);
  float contribution = 0.0f;
  if (t < batch * Lt) {
    const int64_t b = t / Lt, i = t % Lt;
    const float gd = tanhf(gate_logit[t]);
    float r_heads = 0.0f;
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t row = (b * heads + h) * Lt + i;
      const float r = row_dots[row];
      r_heads += r;
      row_scale[row] = gd * gs;
      delta[row] = gd * gs * r;
    }
    dgate[t] = r_heads * gs * (1.0f - gd * gd);
    contribution = gd * r_heads;
  }
  s_sum[threadIdx.x] = contribution;
  for (unsigned stride = kBlock / 2; stride > 0; stride /= 2) {
    __syncthreads();
    if (threadIdx.x < stride) s_sum[threadIdx.x] = s_sum[threadIdx.x] + s_sum[threadIdx.x + stride];
  }
  if (threadIdx.x == 0) dwarm_part[blockIdx.x] = s_sum[0] * (1.0f - gs * gs);
}

Tensor float32(const Tensor& t) { return to_contiguous(t.dtype() == DType::Float32 ? t : convert(t, DType::Float32)); }

// gate_logit as float32 [b, Lt] and warm_up as float32 [1], checked against q [b, Hq, Lt, hd].
std::pair<Tensor, Tensor> gates_of(const char* op, const Tensor& q, const Tensor& gate_logit, const Tensor& warm_up) {
  if (q.dim() != 4 || gate_logit.shape() != Shape{q.shape()[0], q.shape()[2]} || warm_up.shape() != Shape{1} ||
      gate_logit.device() != q.device() || warm_up.device() != q.device())
    throw std::invalid_argument(std::string(op) + ": gate_logit " + gate_logit.str() + " and warm_up " + warm_up.str() +
                                " are not [b, Lt] and [1] on the device of q " + q.str());
  return {float32(gate_logit), float32(warm_up)};
}

}  // namespace

std::vector<Tensor> gated_cross_attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                                  const Tensor& self_out, const Tensor& gate_logit,
                                                  const Tensor& warm_up, const Tensor& key_padding_mask, double scale) {
  const auto [gl, w] = gates_of("gated_cross_attention", q, gate_logit, warm_up);
  AttentionGates gates{to_contiguous(self_out), gl, w, empty(q.shape(), q.dtype(), q.device())};
  const std::vector<Tensor> fwd = gated_attention_forward(q, k, v, key_padding_mask, scale, gates);
  return {gates.gated, fwd[0], fwd[1]};
}

std::vector<Tensor> gated_cross_attention_backward(const Tensor& q, const Tensor& k, const Tensor& v,
                                                   const Tensor& gate_logit, const Tensor& warm_up,
                                                   const Tensor& cross, const Tensor& lse, const Tensor& dout,
                                                   const Tensor& key_padding_mask, double scale) {
  const auto [gl, w] = gates_of("gated_cross_attention backward", q, gate_logit, warm_up);
  const int64_t batch = q.shape()[0], heads = q.shape()[1], Lt = q.shape()[2];
  const Tensor r = attention_row_dots(cross, dout);
  Tensor delta = empty(r.shape(), DType::Float32, q.device()), row_scale = empty(r.shape(), DType::Float32, q.device());
  Tensor dgate = empty({batch, Lt}, DType::Float32, q.device()), dwarm = empty({1}, DType::Float32, q.device());
  const int64_t blocks = (batch * Lt + kBlock - 1) / kBlock;
  Tensor part = empty({1, blocks, 1}, DType::Float32, q.device());
  if (blocks > 0)
    EMRRG_LAUNCH(gated_cross_attention_gates_kernel, dim3(static_cast<unsigned>(blocks)), dim3(kBlock), 0, nullptr,
                 ptr<const float>(r), ptr<const float>(gl), ptr<const float>(w), ptr<float>(delta),
                 ptr<float>(row_scale), ptr<float>(dgate), ptr<float>(part), batch, heads, Lt);
  sum_partials(part, dwarm);
  std::vector<Tensor> grads =
      attention_backward_scaled(q, k, v, lse, dout, delta, row_scale, /*causal=*/false, key_padding_mask, scale);
  grads.push_back(convert(dgate, gate_logit.dtype()));
  grads.push_back(convert(dwarm, warm_up.dtype()));
  return grads;
}

}  // namespace emrrg::cuda
