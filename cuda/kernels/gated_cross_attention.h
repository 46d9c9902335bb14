// Host entry points of the gated cross-attention kernels (gated_cross_attention.cu); CPU
// reference: ops/gated_cross_attention.cpp. Arguments as DeviceKernels::gated_cross_attention_*
// take them (ops/device_kernels.h).
#pragma once
#include <vector>

#include "runtime/tensor.h"

namespace emrrg::cuda {

// q, self_out [b, Hq, Lt, hd], k, v [b, Hkv, Lv, hd] (one dtype: float32, bfloat16 or float16),
// gate_logit [b, Lt] and warm_up [1] of any floating dtype, key_padding_mask contiguous uint8
// [b, Lv] (1 = attend) or undefined. Non-causal. Returns {out = self_out + (cross * tanh(gate_logit))
// * tanh(warm_up), cross, lse float32 [b, Hq, Lt]}: the attention kernels (attention.cu: tensor
// cores for bf16/fp16 at head dims 64 and 128) with the gates applied in their epilogue.
std::vector<Tensor> gated_cross_attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                                  const Tensor& self_out, const Tensor& gate_logit,
                                                  const Tensor& warm_up, const Tensor& key_padding_mask, double scale);
// {dq, dk, dv, dgate_logit [b, Lt], dwarm_up [1]} (each in its input's dtype) from the forward's
// inputs, cross, lse and dout. One kernel turns r = rowsum(dout * cross) into the gates' gradients
// and the per-row scale g_d g_s of dout that the attention backward applies inside its tiles; the
// warm-up gate's gradient sums per-block partials in block order. tanh(warm_up) = 0 makes the
// scale 0: dq, dk, dv and dgate_logit are exactly 0.
std::vector<Tensor> gated_cross_attention_backward(const Tensor& q, const Tensor& k, const Tensor& v,
                                                   const Tensor& gate_logit, const Tensor& warm_up,
                                                   const Tensor& cross, const Tensor& lse, const Tensor& dout,
                                                   const Tensor& key_padding_mask, double scale);

}  // namespace emrrg::cuda
