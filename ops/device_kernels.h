// Kernels a non-CPU device provides for the operators in ops/. The operators keep their
// autograd logic in one place and call these for the arithmetic when their inputs live on
// that device; the CPU kernels are the reference the device kernels are tested against.
// An entry a device lacks stays null, and the operator says so, naming itself and the device.
#pragma once
#include "ops/lora_linear.h"
#include "ops/rotary.h"
#include "ops/scalar_math.h"
#include "runtime/tensor.h"

namespace emrrg {

struct DeviceKernels {
  // y = op(x) elementwise, x of any strides; result contiguous, x's dtype.
  Tensor (*unary)(UnaryOp op, const Tensor& x, double a, double b) = nullptr;
  // g * op'(x, y) elementwise (x, y, g of one shape).
  Tensor (*unary_backward)(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& g, double a,
                           double b) = nullptr;
  // y = op(a, b) with broadcasting.
  Tensor (*binary)(BinaryOp op, const Tensor& a, const Tensor& b) = nullptr;
  // g * d op / d a (or d b when wrt_b), in the broadcast shape of the operands.
  Tensor (*binary_backward)(BinaryOp op, bool wrt_b, const Tensor& a, const Tensor& b, const Tensor& y,
                            const Tensor& g) = nullptr;
  // Sums each row of a contiguous [rows, n] tensor -> [rows] (float32 accumulation or better).
  Tensor (*sum_rows)(const Tensor& x) = nullptr;
  // a @ b with torch.matmul's batching, both operands at least 2-D, one dtype (cuBLAS).
  Tensor (*matmul)(const Tensor& a, const Tensor& b) = nullptr;

  // -- softmax, cross-entropy and normalisation (cuda/kernels/softmax.cu, cuda/kernels/norm.cu)
  // Softmax (log-softmax when log_space) of each row: x [rows, n] contiguous -> [rows, n].
  Tensor (*softmax_rows)(const Tensor& x, bool log_space) = nullptr;
  // Its gradient from y = softmax_rows(x) and g, both [rows, n] contiguous of y's dtype -> [rows, n].
  Tensor (*softmax_rows_backward)(const Tensor& y, const Tensor& g, bool log_space) = nullptr;
  // Mean cross-entropy of logits [N, C] (contiguous) against target [N] (int32/int64 on the same
  // device, each in [0, C) or ignore_index; `count` kept): {loss [] (NaN when count is 0), lse [N]}.
  std::vector<Tensor> (*cross_entropy_rows)(const Tensor& logits, const Tensor& target, int64_t ignore_index,
                                            int64_t count) = nullptr;
  // d loss / d logits [N, C] from the forward's logits, target, lse [N] and the loss' gradient g [].
  Tensor (*cross_entropy_rows_backward)(const Tensor& logits, const Tensor& target, const Tensor& lse, const Tensor& g,
                                        int64_t ignore_index, int64_t count) = nullptr;
  // layer_norm (rms false) or rms_norm of x [rows, D] contiguous; weight, bias [D] or undefined:
  // {y [rows, D], mean [rows] (0 for rms), rstd [rows]}, statistics in float32 or better.
  std::vector<Tensor> (*norm_rows)(bool rms, const Tensor& x, const Tensor& weight, const Tensor& bias,
                                   double eps) = nullptr;
  // {gx [rows, D], gweight [D] if weight is defined, gbias [D] if with_bias} from x, weight,
  // g [rows, D] and the forward's mean and rstd.
  std::vector<Tensor> (*norm_rows_backward)(bool rms, const Tensor& x, const Tensor& weight, const Tensor& g,
                                            const Tensor& mean, const Tensor& rstd, bool with_bias) = nullptr;

  // -- indexing, embedding, dropout, reductions, optimiser (cuda/kernels/indexing.cu, ...)
  // Index tensors are int32 or int64 on x's device, already range-checked by the op.
  // x [pre, n, post] (any dtype and strides), index of m entries (any shape, read in order)
  // -> [pre, m, post] contiguous; embedding is dim 0 of [V, D].
  Tensor (*index_select)(const Tensor& x, int64_t dim, const Tensor& index) = nullptr;
  // g [pre, m, post] -> zeros(x_shape [pre, n, post]) with g's rows added at index[j] along dim,
  // in ascending j for every destination row (deterministic, no float atomics).
  Tensor (*index_add)(const Tensor& g, const Shape& x_shape, int64_t dim, const Tensor& index) = nullptr;
  // out[e] = x[e with coordinate dim replaced by index[e]]; index has x's rank -> index's shape.
  Tensor (*gather)(const Tensor& x, int64_t dim, const Tensor& index) = nullptr;
  // g (index's shape) scattered and summed into zeros(x_shape), ascending along dim.
  Tensor (*gather_backward)(const Tensor& g, const Shape& x_shape, int64_t dim, const Tensor& index) = nullptr;
  // First position of the maximum (a NaN counts as the maximum) of each row of a contiguous
  // [rows, n] tensor -> int64 [rows].
  Tensor (*argmax_rows)(const Tensor& x) = nullptr;
  // sum_j (x[r, j] - mean_r)^2 / denom for each row of a contiguous [rows, n] -> [rows].
  Tensor (*var_rows)(const Tensor& x, double denom) = nullptr;
  // Inverted-dropout scale in x's shape and dtype: 1 / keep_prob where Philox element i of
  // (seed, offset) is below keep_prob (the CPU's bernoulli_mask), else 0.
  Tensor (*dropout_scale)(const Tensor& x, double keep_prob, uint64_t seed, uint64_t offset) = nullptr;
  // One AdamW update in float32 of a contiguous param (float32, bfloat16 or float16) with its
  // gradient (param's shape) and float32 moments m, v (param's shape), in place; the same
  // expressions as train::AdamW::step on the CPU.
  struct AdamWScalars {
    float decay;  // 1 - lr * weight_decay
    float beta1, one_minus_beta1, beta2, one_minus_beta2;
    float bias_correction2_sqrt, eps, step_size;  // step_size = lr / (1 - beta1^t)
  };
  void (*adamw_step)(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                     const AdamWScalars& s) = nullptr;

  // -- Mamba (cuda/kernels/selective_scan.cu, cuda/kernels/causal_conv1d.cu). Arguments as
  // selective_scan() and causal_conv1d() take them (ops/selective_scan.h, ops/causal_conv1d.h),
  // already validated, on x's device; optional ones undefined.
  // {out [b, d, L] u's dtype, last_state [b, d, N] f32, saved}: `saved` is whatever the kernel's
  // backward needs (the chunk-boundary states), handed back to selective_scan_backward untouched.
  std::vector<Tensor> (*selective_scan_forward)(const Tensor& u, const Tensor& delta, const Tensor& A,
                                                const Tensor& B, const Tensor& C, const Tensor& D, const Tensor& z,
                                                const Tensor& delta_bias, bool delta_softplus) = nullptr;
  // {du, ddelta, dA, dB, dC, dD, dz, ddelta_bias} in the shapes and dtypes of the inputs (undefined
  // for an undefined input) from the forward's inputs, its `saved` and dout [b, d, L]. Every
  // reduction (over batch and time, over channels) is deterministic: no float atomics.
  std::vector<Tensor> (*selective_scan_backward)(const Tensor& u, const Tensor& delta, const Tensor& A,
                                                 const Tensor& B, const Tensor& C, const Tensor& D, const Tensor& z,
                                                 const Tensor& delta_bias, bool delta_softplus, const Tensor& saved,
                                                 const Tensor& dout) = nullptr;
  // x [b, d, L], weight [d, W] contiguous, bias [d] or undefined -> [b, d, L] in x's dtype.
  Tensor (*causal_conv1d_forward)(const Tensor& x, const Tensor& weight, const Tensor& bias, bool silu) = nullptr;
  // {dx, dweight [d, W], dbias [d] or undefined}; the activation's derivative is recomputed.
  std::vector<Tensor> (*causal_conv1d_backward)(const Tensor& x, const Tensor& weight, const Tensor& bias, bool silu,
                                                const Tensor& dout) = nullptr;

  // -- Llama (cuda/kernels/attention.cu, cuda/kernels/rotary.cu, cuda/kernels/swiglu.cu). Arguments
  // as attention(), rotary() and swiglu() take them (ops/attention.h, ops/rotary.h, ops/swiglu.h).
  // key_padding_mask arrives as contiguous uint8 [b, Lk] (1 = attend) on q's device, or undefined;
  // rotary's positions as contiguous int32/int64 on x's device.
  // {out [b, Hq, Lq, hd] q's dtype, lse [b, Hq, Lq] f32}; scale already resolved (> 0).
  std::vector<Tensor> (*attention_forward)(const Tensor& q, const Tensor& k, const Tensor& v, bool causal,
                                           const Tensor& key_padding_mask, double scale) = nullptr;
  // {dq, dk, dv} from the forward's inputs, out, lse and dout (dk, dv summed over a GQA group).
  std::vector<Tensor> (*attention_backward)(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                                            const Tensor& lse, const Tensor& dout, bool causal,
                                            const Tensor& key_padding_mask, double scale) = nullptr;
  // x rotated by +angle (inverse false) or -angle (inverse true, the backward); x's shape and dtype.
  Tensor (*rotary)(const Tensor& x, const Tensor& positions, double theta, RotaryPairing pairing,
                   bool inverse) = nullptr;
  Tensor (*swiglu_forward)(const Tensor& gate, const Tensor& up) = nullptr;
  // {dgate, dup} from gate, up and g.
  std::vector<Tensor> (*swiglu_backward)(const Tensor& gate, const Tensor& up, const Tensor& g) = nullptr;

  // -- EMRRG (cuda/kernels/gated_cross_attention.cu, cuda/kernels/lora_linear.cu). Arguments as
  // gated_cross_attention() and lora_linear() take them (ops/gated_cross_attention.h,
  // ops/lora_linear.h), validated, on q's (x's) device; gate_logit arrives as contiguous [b, Lt],
  // warm_up as contiguous [1], key_padding_mask as contiguous uint8 [b, Lv] (1 = attend) or
  // undefined; scale already resolved (> 0); non-causal.
  // {out [b, Hq, Lt, hd] q's dtype, cross [b, Hq, Lt, hd] q's dtype, lse [b, Hq, Lt] f32}, where
  // out = self_out + (cross * tanh(gate_logit)) * tanh(warm_up); cross and lse are handed back to
  // the backward.
  std::vector<Tensor> (*gated_cross_attention_forward)(const Tensor& q, const Tensor& k, const Tensor& v,
                                                       const Tensor& self_out, const Tensor& gate_logit,
                                                       const Tensor& warm_up, const Tensor& key_padding_mask,
                                                       double scale) = nullptr;
  // {dq, dk, dv, dgate_logit [b, Lt], dwarm_up [1]}, each in its input's dtype (the op passes dout
  // on as dself_out), from the forward's inputs, cross, lse and dout [b, Hq, Lt, hd] in q's dtype;
  // dk, dv summed over a GQA group; dk, dv and dgate_logit exactly 0 when tanh(warm_up) is 0.
  std::vector<Tensor> (*gated_cross_attention_backward)(const Tensor& q, const Tensor& k, const Tensor& v,
                                                        const Tensor& gate_logit, const Tensor& warm_up,
                                                        const Tensor& cross, const Tensor& lse, const Tensor& dout,
                                                        const Tensor& key_padding_mask, double scale) = nullptr;
  // lora_linear's scalars. Dropout: element i of the mask ([N, in] at the input, [N, r] at the
  // rank site) is kept where Philox element i of (seed, offset) is below keep_prob (bernoulli_mask's
  // draw) and scaled by 1 / keep_prob (0 when keep_prob is 0); keep_prob 1 means no dropout.
  struct LoraScalars {
    double scale;
    int64_t row0;
    LoraDropoutSite dropout_site;
    double keep_prob;
    uint64_t seed, offset;
  };
  // x [N, in] (a 2-D view, any strides), weight [out, in], bias [out] or undefined, lora_a [r, in],
  // lora_b [rows, r]: {y [N, out] x's dtype, h [N, r]: the rank-r activation after dropout, in the
  // kernel's choice of dtype, handed back to the backward}.
  std::vector<Tensor> (*lora_linear_forward)(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                             const Tensor& lora_a, const Tensor& lora_b,
                                             const LoraScalars& s) = nullptr;
  // {dx [N, in] (undefined unless need_dx), dlora_a [r, in], dlora_b [rows, r], dbias [out]
  // (undefined unless need_dbias)} from the forward's inputs, h and g [N, out] in x's dtype, the
  // mask redrawn from (seed, offset); never a gradient of weight.
  std::vector<Tensor> (*lora_linear_backward)(const Tensor& x, const Tensor& weight, const Tensor& lora_a,
                                              const Tensor& lora_b, const Tensor& h, const Tensor& g,
                                              const LoraScalars& s, bool need_dx, bool need_dbias) = nullptr;
};

void register_device_kernels(DeviceType type, const DeviceKernels* kernels);

// The kernel `entry` of x's device, or an error naming the op and the device.
template <typename Fn> Fn device_kernel(const char* op, const Tensor& x, Fn DeviceKernels::*entry);

const DeviceKernels* registered_device_kernels(DeviceType type);
[[noreturn]] void no_device_kernel(const char* op, const Tensor& x);

template <typename Fn> Fn device_kernel(const char* op, const Tensor& x, Fn DeviceKernels::*entry) {
  const DeviceKernels* k = registered_device_kernels(x.device().type);
  if (!k || !(k->*entry)) no_device_kernel(op, x);
  return k->*entry;
}

}  // namespace emrrg
