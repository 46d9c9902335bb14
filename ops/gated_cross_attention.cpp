#include "ops/gated_cross_attention.h"

#include <cmath>

#include "autograd/tape.h"
#include "ops/attention_cpu.h"
#include "ops/device_kernels.h"
#include "ops/kernel_util.h"
#include "runtime/view.h"

namespace emrrg {

namespace {

constexpr const char* kOp = "gated_cross_attention";

void check_gates(const Tensor& q, const Tensor& self_out, const Tensor& gate_logit, const Tensor& warm_up) {
  detail::check_floating(kOp, self_out);
  detail::check_floating(kOp, gate_logit);
  detail::check_floating(kOp, warm_up);
  detail::check_same_dtype(kOp, q, self_out);
  if (self_out.shape() != q.shape())
    detail::op_error(kOp, "self_out " + shape_str(self_out.shape()) + " must have q's shape " + shape_str(q.shape()) +
                              " [batch, q_heads, Lt, head_dim]");
  const Shape tokens{q.shape()[0], q.shape()[2]}, tokens1{q.shape()[0], q.shape()[2], 1};
  if (gate_logit.shape() != tokens && gate_logit.shape() != tokens1)
    detail::op_error(kOp, "gate_logit " + shape_str(gate_logit.shape()) +
                              " must be [batch, Lt, 1] = " + shape_str(tokens1) + " or [batch, Lt]");
  if (warm_up.numel() != 1 || warm_up.dim() > 1)
    detail::op_error(kOp, "warm_up must be one element ([1] or []), got " + shape_str(warm_up.shape()));
  for (const Tensor* t : {&self_out, &gate_logit, &warm_up})
    if (t->device() != q.device()) detail::op_error(kOp, "q on " + q.device().str() + ", " + t->str());
}

// A contiguous tensor seen with another shape of the same numel.
Tensor reshaped(const Tensor& t, const Shape& shape) { return *views::try_reshape(to_contiguous(t), shape); }

// What the CPU backward keeps, in compute type: the attention's inputs, its output `cross`
// [B, Hq, Lt, D] and lse [B, Hq, Lt], the token gates tanh(gate_logit) [B, Lt] and tanh(warm_up).
struct GatedSaved {
  detail::AttentionShape shape;
  DType dtype, gate_dtype, warm_up_dtype;
  Shape gate_shape, warm_up_shape;
  Tensor q, k, v, cross, lse, token_gate;
  double warm_up_gate;
  std::vector<uint8_t> keep;
};

template <typename T>
detail::AttentionInputs<T> inputs_of(const GatedSaved& s) {
  return {s.q.data<T>(), s.k.data<T>(), s.v.data<T>(), s.keep.empty() ? nullptr : s.keep.data()};
}

// {dq, dk, dv, dself_out, dgate_logit, dwarm_up}. With r = rowsum(dout * cross) per (b, h, i),
// g_d = tanh(gate_logit) and g_s = tanh(warm_up): dcross = dout * g_d * g_s enters the attention
// backward as a per-row scale of dout (delta = g_d * g_s * r); dgate_logit = sum_h r * g_s *
// (1 - g_d^2); dwarm_up = sum g_d * r * (1 - g_s^2). g_s = 0 zeroes dcross and dgate_logit exactly.
std::vector<Tensor> gated_cpu_backward(const GatedSaved& s, const Tensor& dout, bool attention_grads) {
  const detail::AttentionShape& a = s.shape;
  const DType ct = s.cross.dtype();
  const Tensor gc = detail::compute_copy(dout, ct);
  Tensor dgate = empty(s.gate_shape, ct), dwarm = empty(s.warm_up_shape, ct);
  std::vector<Tensor> grads(6);
  detail::dispatch_compute(ct, [&](auto tag) {
    using T = decltype(tag);
    const int64_t rows = a.batch * a.q_heads * a.Lq;
    std::vector<T> r(static_cast<size_t>(rows)), row_scale(r.size()), delta(r.size());
    detail::attention_row_dots<T>(a, gc.data<T>(), s.cross.data<T>(), r.data());
    const T* tg = s.token_gate.data<T>();
    const T gs = static_cast<T>(s.warm_up_gate);
    T* dg = dgate.data<T>();
    T dw = 0;
    for (int64_t b = 0; b < a.batch; ++b)
      for (int64_t i = 0; i < a.Lq; ++i) {
        const T g = tg[b * a.Lq + i];
        T heads = 0;
        for (int64_t h = 0; h < a.q_heads; ++h) {
          const int64_t row = (b * a.q_heads + h) * a.Lq + i;
          heads += r[row];
          row_scale[row] = g * gs;
          delta[row] = g * gs * r[row];
        }
        dg[b * a.Lq + i] = heads * gs * (T(1) - g * g);
        dw += g * heads;
      }
    dwarm.data<T>()[0] = dw * (T(1) - gs * gs);
    if (!attention_grads) return 0;
    Tensor dq = empty(s.q.shape(), ct), dk = empty(s.k.shape(), ct), dv = empty(s.v.shape(), ct);
    detail::attention_backward_cpu<T>(a, inputs_of<T>(s), s.lse.data<T>(), delta.data(), gc.data<T>(), row_scale.data(),
                                      dq.data<T>(), dk.data<T>(), dv.data<T>());
    grads[0] = convert(dq, s.dtype);
    grads[1] = convert(dk, s.dtype);
    grads[2] = convert(dv, s.dtype);
    return 0;
  });
  grads[3] = dout.dtype() == s.dtype ? dout : convert(dout, s.dtype);
  grads[4] = convert(dgate, s.gate_dtype);
  grads[5] = convert(dwarm, s.warm_up_dtype);
  return grads;
}

Tensor gated_on_device(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& self_out,
                       const Tensor& gate_logit, const Tensor& warm_up, const std::vector<uint8_t>& keep,
                       const Tensor& key_padding_mask, double scale) {
  // The device kernels take the mask as contiguous uint8 (1 = attend), the gates as [B, Lt] and [1].
  const Tensor mask = keep.empty() ? Tensor() : to_device(from_vector(keep, key_padding_mask.shape()), q.device());
  const Tensor gl = reshaped(gate_logit, {q.shape()[0], q.shape()[2]}), w = reshaped(warm_up, {1});
  const std::vector<Tensor> fwd =
      device_kernel(kOp, q, &DeviceKernels::gated_cross_attention_forward)(q, k, v, self_out, gl, w, mask, scale);
  autograd::record(kOp, {q, k, v, self_out, gate_logit, warm_up}, {fwd[0]},
                   [=, cross = fwd[1], lse = fwd[2]](const std::vector<Tensor>& g) {
                     const Tensor dout = g[0].dtype() == q.dtype() ? g[0] : convert(g[0], q.dtype());
                     std::vector<Tensor> d = device_kernel(kOp, q, &DeviceKernels::gated_cross_attention_backward)(
                         q, k, v, gl, w, cross, lse, dout, mask, scale);
                     return std::vector<Tensor>{
                         d[0], d[1], d[2], dout, reshaped(d[3], gate_logit.shape()), reshaped(d[4], warm_up.shape())};
                   });
  return fwd[0];
}

}  // namespace

Tensor gated_cross_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& self_out,
                             const Tensor& gate_logit, const Tensor& warm_up, const Tensor& key_padding_mask,
                             double scale) {
  detail::check_attention_inputs(kOp, q, k, v, key_padding_mask);
  check_gates(q, self_out, gate_logit, warm_up);
  auto saved = std::make_shared<GatedSaved>();
  saved->shape = detail::attention_shape(q, k, /*causal=*/false, scale);
  saved->keep = detail::keep_bytes(key_padding_mask);
  if (!q.device().is_cpu())
    return gated_on_device(q, k, v, self_out, gate_logit, warm_up, saved->keep, key_padding_mask, saved->shape.scale);

  const detail::AttentionShape& a = saved->shape;
  const DType dt = q.dtype(), ct = detail::compute_dtype(dt);
  saved->dtype = dt;
  saved->gate_dtype = gate_logit.dtype();
  saved->warm_up_dtype = warm_up.dtype();
  saved->gate_shape = gate_logit.shape();
  saved->warm_up_shape = warm_up.shape();
  saved->q = detail::compute_copy(q, ct);
  saved->k = detail::compute_copy(k, ct);
  saved->v = detail::compute_copy(v, ct);
  saved->cross = empty(q.shape(), ct);
  saved->lse = empty({a.batch, a.q_heads, a.Lq}, ct);
  saved->token_gate = empty({a.batch, a.Lq}, ct);
  const Tensor self_c = detail::compute_copy(self_out, ct), logits = detail::compute_copy(gate_logit, ct);
  Tensor gated = empty(q.shape(), ct);
  detail::dispatch_compute(ct, [&](auto tag) {
    using T = decltype(tag);
    const T* gl = logits.data<T>();
    T* tg = saved->token_gate.data<T>();
    for (int64_t t = 0; t < a.batch * a.Lq; ++t) tg[t] = std::tanh(gl[t]);
    const T gs = std::tanh(static_cast<T>(warm_up.to_vector<double>()[0]));
    saved->warm_up_gate = gs;
    const detail::AttentionGates<T> gates{self_c.data<T>(), tg, gs, gated.data<T>()};
    detail::attention_forward_cpu<T>(a, inputs_of<T>(*saved), saved->cross.data<T>(), saved->lse.data<T>(), &gates);
    return 0;
  });
  const Tensor out = convert(gated, dt);
  if (!autograd::needs_grad({q, k, v, self_out, gate_logit, warm_up})) return out;
  const bool attention_grads = autograd::needs_grad({q, k, v});
  autograd::record(kOp, {q, k, v, self_out, gate_logit, warm_up}, {out},
                   [saved, attention_grads](const std::vector<Tensor>& g) {
                     return gated_cpu_backward(*saved, g[0], attention_grads);
                   });
  return out;
}

}  // namespace emrrg
