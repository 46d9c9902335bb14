#include "ops/selective_scan.h"

#include <algorithm>
#include <memory>
#include <string>

#include "autograd/tape.h"
#include "ops/device_kernels.h"
#include "ops/kernel_util.h"
#include "ops/mamba_math.h"
#include "runtime/threading.h"

namespace emrrg {

namespace {

constexpr const char* kOp = "selective_scan";
// The forward keeps the state entering every kChunk-th position; the backward recomputes the
// states of one chunk from it, so its scratch is kChunk x N per thread instead of L x N per row.
constexpr int64_t kChunk = 64;
// The backward sums the dB, dC contributions of kChannelGroup consecutive channels (in channel
// order) in one task, then the groups in group order: the bits do not depend on the thread count.
constexpr int64_t kChannelGroup = 32;
// Work items (state updates) a thread should get at least: small scans (gradcheck's thousands)
// stay on one thread instead of paying for a parallel region each.
constexpr int64_t kMinWorkPerThread = 32768;

int64_t grain_for(int64_t work_per_item) {
  return std::max<int64_t>(1, kMinWorkPerThread / std::max<int64_t>(work_per_item, 1));
}

std::string describe(const char* name, const Tensor& t) {
  return std::string(name) + " " + dtype_name(t.dtype()) + " " + shape_str(t.shape());
}

// Checks device, shape and dtype of one argument; `layout` names the expected dims.
void check_arg(const char* name, const Tensor& t, const Tensor& u, const Shape& shape, const char* layout,
               DType dtype_a, DType dtype_b) {
  if (!t.defined()) detail::op_error(kOp, std::string(name) + " is undefined");
  if (t.device() != u.device())
    detail::op_error(kOp, describe(name, t) + " is on " + t.device().str() + ", u on " + u.device().str());
  if (t.shape() != shape)
    detail::op_error(kOp, describe(name, t) + " must be " + layout + " = " + shape_str(shape) + " (u " +
                              shape_str(u.shape()) + ")");
  if (t.dtype() != dtype_a && t.dtype() != dtype_b)
    detail::op_error(kOp, describe(name, t) + " must be " + dtype_name(dtype_a) +
                              (dtype_a == dtype_b ? std::string() : std::string(" or ") + dtype_name(dtype_b)));
}

// B or C: [batch, 1, N, L] or [batch, N, L].
Shape input_dependent_shape(const char* name, const Tensor& t, int64_t batch, int64_t N, int64_t L) {
  if (t.defined() && t.dim() == 4) return {batch, 1, N, L};
  if (t.defined() && t.dim() == 3) return {batch, N, L};
  detail::op_error(kOp, t.defined() ? describe(name, t) + " must be [batch, 1, N, L] or [batch, N, L]"
                                    : std::string(name) + " is undefined");
}

void check_scan_args(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B, const Tensor& C,
                     const Tensor& D, const Tensor& z, const Tensor& delta_bias) {
  if (!u.defined()) detail::op_error(kOp, "u is undefined");
  const DType io = u.dtype();
  if (io != DType::Float32 && io != DType::BFloat16 && io != DType::Float16 && io != DType::Float64)
    detail::op_error(kOp, describe("u", u) + " must be float32, bfloat16, float16 or float64");
  if (u.dim() != 3) detail::op_error(kOp, describe("u", u) + " must be [batch, d_inner, L]");
  // Parameters are float32 (float64 when the whole scan is, for gradcheck).
  const DType param = io == DType::Float64 ? DType::Float64 : DType::Float32;
  const int64_t batch = u.size(0), dim = u.size(1), L = u.size(2);
  check_arg("delta", delta, u, u.shape(), "[batch, d_inner, L]", io, io);
  if (!A.defined() || A.dim() != 2)
    detail::op_error(kOp, A.defined() ? describe("A", A) + " must be [d_inner, N]" : std::string("A is undefined"));
  const int64_t N = A.size(1);
  check_arg("A", A, u, {dim, N}, "[d_inner, N]", param, param);
  check_arg("B", B, u, input_dependent_shape("B", B, batch, N, L), "[batch, 1, N, L] or [batch, N, L]", io, param);
  check_arg("C", C, u, input_dependent_shape("C", C, batch, N, L), "[batch, 1, N, L] or [batch, N, L]", io, param);
  if (D.defined()) check_arg("D", D, u, {dim}, "[d_inner]", param, param);
  if (z.defined()) check_arg("z", z, u, u.shape(), "[batch, d_inner, L]", io, io);
  if (delta_bias.defined()) check_arg("delta_bias", delta_bias, u, {dim}, "[d_inner]", param, param);
}

// The operands of the CPU kernels: contiguous copies in the compute type T; B and C time-major
// [batch, L, N] so that the loop over the state reads consecutive memory.
template <typename T> struct ScanOperands {
  int64_t batch, dim, L, N;
  bool softplus;
  const T *u, *delta, *A, *B, *C, *D, *z, *bias;  // D, z, bias null when undefined
  std::vector<Tensor> owned;

  ScanOperands(const Tensor& u_, const Tensor& delta_, const Tensor& A_, const Tensor& B_, const Tensor& C_,
               const Tensor& D_, const Tensor& z_, const Tensor& bias_, bool softplus_)
      : batch(u_.size(0)), dim(u_.size(1)), L(u_.size(2)), N(A_.size(1)), softplus(softplus_) {
    u = compute_copy(u_);
    delta = compute_copy(delta_);
    A = compute_copy(A_);
    B = compute_copy(time_major(B_));
    C = compute_copy(time_major(C_));
    D = compute_copy(D_);
    z = compute_copy(z_);
    bias = compute_copy(bias_);
  }
  const T* compute_copy(const Tensor& t) {
    if (!t.defined()) return nullptr;
    owned.push_back(to_contiguous(convert(t, dtype_of<T>())));
    return owned.back().template data<T>();
  }
  Tensor time_major(const Tensor& t) const {
    return views::transpose(t.dim() == 4 ? views::squeeze(t, 1) : t, 1, 2);  // [batch, L, N]
  }
  T bias_of(int64_t d) const { return bias ? bias[d] : T(0); }
};

// {out [batch, dim, L], last_state [batch, dim, N], saved [batch, dim, chunks, N]} in T, `saved`
// holding the state entering each chunk.
template <typename T> std::vector<Tensor> scan_forward(const ScanOperands<T>& s) {
  const int64_t L = s.L, N = s.N, chunks = (L + kChunk - 1) / kChunk;
  Tensor out = empty({s.batch, s.dim, L}, dtype_of<T>());
  Tensor last_state = empty({s.batch, s.dim, N}, dtype_of<T>());
  Tensor saved = empty({s.batch, s.dim, chunks, N}, dtype_of<T>());
  T* po = out.data<T>();
  T* plast = last_state.data<T>();
  T* psaved = saved.data<T>();
  parallel_for(s.batch * s.dim, grain_for(L * N), [&](int64_t r0, int64_t r1) {
    std::vector<T> h(static_cast<size_t>(N)), e(static_cast<size_t>(N));
    for (int64_t row = r0; row < r1; ++row) {
      const int64_t b = row / s.dim, d = row % s.dim;
      const T* A = s.A + d * N;
      const T bias = s.bias_of(d);
      std::fill(h.begin(), h.end(), T(0));
      for (int64_t t = 0; t < L; ++t) {
        if (t % kChunk == 0) std::copy(h.begin(), h.end(), psaved + (row * chunks + t / kChunk) * N);
        const T dt = mamba::step_size(s.delta[row * L + t] + bias, s.softplus);
        const T ut = s.u[row * L + t];
        const T dt_u = dt * ut;
        const T* Bt = s.B + (b * L + t) * N;
        const T* Ct = s.C + (b * L + t) * N;
        // Separate loops: the first two vectorise, the sum stays in state order.
        for (int64_t n = 0; n < N; ++n) e[n] = mamba::decay_exp(dt * A[n]);
        for (int64_t n = 0; n < N; ++n) h[n] = e[n] * h[n] + dt_u * Bt[n];
        T y = 0;
        for (int64_t n = 0; n < N; ++n) y += h[n] * Ct[n];
        if (s.D) y += s.D[d] * ut;
        if (s.z) y *= mamba::silu(s.z[row * L + t]);
        po[row * L + t] = y;
      }
      std::copy(h.begin(), h.end(), plast + row * N);
    }
  });
  return {out, last_state, saved};
}

// {du, ddelta, dA, dB [batch, L, N], dC [batch, L, N], dD, dz, ddelta_bias} in T (undefined for
// the undefined optional inputs) from the forward's `saved` and dout [batch, dim, L].
template <typename T> std::vector<Tensor> scan_backward(const ScanOperands<T>& s, const T* saved, const T* dout) {
  const int64_t L = s.L, N = s.N, chunks = (L + kChunk - 1) / kChunk;
  const int64_t groups = (s.dim + kChannelGroup - 1) / kChannelGroup;
  Tensor du = empty({s.batch, s.dim, L}, dtype_of<T>());
  Tensor ddelta = empty({s.batch, s.dim, L}, dtype_of<T>());
  Tensor dz = s.z ? empty({s.batch, s.dim, L}, dtype_of<T>()) : Tensor();
  // Per-(batch, channel) sums over time, and per-(batch, group) sums over channels.
  Tensor dA_part = empty({s.batch, s.dim, N}, dtype_of<T>());
  Tensor dD_part = empty({s.batch, s.dim}, dtype_of<T>());
  Tensor dbias_part = empty({s.batch, s.dim}, dtype_of<T>());
  Tensor dB_part = zeros({s.batch, groups, L, N}, dtype_of<T>());
  Tensor dC_part = zeros({s.batch, groups, L, N}, dtype_of<T>());
  T* pdu = du.data<T>();
  T* pddelta = ddelta.data<T>();
  T* pdz = dz.defined() ? dz.data<T>() : nullptr;
  T* pdA = dA_part.data<T>();
  T* pdD = dD_part.data<T>();
  T* pdbias = dbias_part.data<T>();
  T* pdB = dB_part.data<T>();
  T* pdC = dC_part.data<T>();
  parallel_for(s.batch * groups, grain_for(kChannelGroup * L * N), [&](int64_t task0, int64_t task1) {
    // One chunk's recomputed forward: h_t and exp(delta'_t A) [kChunk, N], raw delta, delta', y.
    std::vector<T> hs(static_cast<size_t>(kChunk * N)), es(static_cast<size_t>(kChunk * N));
    std::vector<T> raws(kChunk), dts(kChunk), ys(kChunk);
    // carry = exp(delta'_{t+1} A) * dh_{t+1}, the reverse recurrence's running term.
    std::vector<T> carry(static_cast<size_t>(N)), dA(static_cast<size_t>(N));
    std::vector<T> dh(static_cast<size_t>(N)), dh_e_hp(static_cast<size_t>(N));  // dh_t, dh_t exp(delta'_t A) h_{t-1}
    for (int64_t task = task0; task < task1; ++task) {
      const int64_t b = task / groups, group = task % groups;
      T* dBg = pdB + task * L * N;
      T* dCg = pdC + task * L * N;
      for (int64_t d = group * kChannelGroup; d < std::min(s.dim, (group + 1) * kChannelGroup); ++d) {
        const int64_t row = b * s.dim + d;
        const T* A = s.A + d * N;
        const T* u = s.u + row * L;
        const T* g_out = dout + row * L;
        const T bias = s.bias_of(d);
        std::fill(carry.begin(), carry.end(), T(0));
        std::fill(dA.begin(), dA.end(), T(0));
        T dD = 0, dbias = 0;
        for (int64_t c = chunks - 1; c >= 0; --c) {
          const int64_t t0 = c * kChunk, t1 = std::min(L, t0 + kChunk);
          const T* h0 = saved + (row * chunks + c) * N;
          for (int64_t t = t0; t < t1; ++t) {
            const int64_t i = t - t0;
            raws[i] = s.delta[row * L + t] + bias;
            const T dt = dts[i] = mamba::step_size(raws[i], s.softplus);
            const T dt_u = dt * u[t];
            const T* hp = i ? &hs[(i - 1) * N] : h0;
            const T* Bt = s.B + (b * L + t) * N;
            const T* Ct = s.C + (b * L + t) * N;
            T* e = &es[i * N];
            T* h = &hs[i * N];
            for (int64_t n = 0; n < N; ++n) e[n] = mamba::decay_exp(dt * A[n]);
            for (int64_t n = 0; n < N; ++n) h[n] = e[n] * hp[n] + dt_u * Bt[n];
            T y = 0;
            for (int64_t n = 0; n < N; ++n) y += h[n] * Ct[n];
            ys[i] = s.D ? y + s.D[d] * u[t] : y;
          }
          for (int64_t t = t1 - 1; t >= t0; --t) {
            const int64_t i = t - t0;
            const T* h = &hs[i * N];
            const T* hp = i ? &hs[(i - 1) * N] : h0;
            const T* e = &es[i * N];
            const T* Bt = s.B + (b * L + t) * N;
            const T* Ct = s.C + (b * L + t) * N;
            T* dBt = dBg + t * N;
            T* dCt = dCg + t * N;
            const T dt = dts[i], ut = u[t];
            T g = g_out[t];  // d loss / d y, through the gate
            if (s.z) {
              const T zt = s.z[row * L + t];
              pdz[row * L + t] = g * ys[i] * mamba::silu_derivative(zt);
              g *= mamba::silu(zt);
            }
            T du_t = 0, ddt = 0;
            if (s.D) {
              du_t = s.D[d] * g;
              dD += g * ut;
            }
            const T dt_u = dt * ut;
            // The elementwise updates vectorise; the two sums over the state follow in order.
            for (int64_t n = 0; n < N; ++n) {
              dh[n] = g * Ct[n] + carry[n];
              dh_e_hp[n] = dh[n] * e[n] * hp[n];
              dBt[n] += dh[n] * dt_u;
              dCt[n] += g * h[n];
              dA[n] += dt * dh_e_hp[n];
              carry[n] = e[n] * dh[n];
            }
            for (int64_t n = 0; n < N; ++n) {
              du_t += dh[n] * Bt[n] * dt;
              ddt += dh[n] * Bt[n] * ut + A[n] * dh_e_hp[n];
            }
            pdu[row * L + t] = du_t;
            const T draw = ddt * mamba::step_size_derivative(raws[i], s.softplus);
            pddelta[row * L + t] = draw;
            dbias += draw;
          }
        }
        std::copy(dA.begin(), dA.end(), pdA + row * N);
        pdD[row] = dD;
        pdbias[row] = dbias;
      }
    }
  });
  // The reductions, each in a fixed order.
  Tensor dA_total = zeros({s.dim, N}, dtype_of<T>());
  Tensor dD_total = s.D ? zeros({s.dim}, dtype_of<T>()) : Tensor();
  Tensor dbias_total = s.bias ? zeros({s.dim}, dtype_of<T>()) : Tensor();
  T* pA_total = dA_total.data<T>();
  T* pD_total = s.D ? dD_total.data<T>() : nullptr;
  T* pbias_total = s.bias ? dbias_total.data<T>() : nullptr;
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t d = 0; d < s.dim; ++d) {
      for (int64_t n = 0; n < N; ++n) pA_total[d * N + n] += pdA[(b * s.dim + d) * N + n];
      if (pD_total) pD_total[d] += pdD[b * s.dim + d];
      if (pbias_total) pbias_total[d] += pdbias[b * s.dim + d];
    }
  Tensor dB = zeros({s.batch, L, N}, dtype_of<T>());
  Tensor dC = zeros({s.batch, L, N}, dtype_of<T>());
  T* pB = dB.data<T>();
  T* pC = dC.data<T>();
  parallel_for(s.batch, grain_for(groups * L * N), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t group = 0; group < groups; ++group)
        for (int64_t k = 0; k < L * N; ++k) {
          pB[b * L * N + k] += pdB[(b * groups + group) * L * N + k];
          pC[b * L * N + k] += pdC[(b * groups + group) * L * N + k];
        }
  });
  return {du, ddelta, dA_total, dB, dC, dD_total, dz, dbias_total};
}

Tensor contiguous_if_defined(const Tensor& t) { return t.defined() ? to_contiguous(t) : t; }

// The CPU kernels behind the DeviceKernels entries' signatures: the float64 scan computes in
// float64 (its last_state and saved states are float64 too), every other dtype in float32.
std::vector<Tensor> cpu_selective_scan_forward(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B,
                                               const Tensor& C, const Tensor& D, const Tensor& z,
                                               const Tensor& delta_bias, bool delta_softplus) {
  return detail::dispatch_compute(u.dtype(), [&](auto tag) {
    using T = decltype(tag);
    std::vector<Tensor> r = scan_forward(ScanOperands<T>(u, delta, A, B, C, D, z, delta_bias, delta_softplus));
    r[0] = convert(r[0], u.dtype());
    return r;
  });
}

std::vector<Tensor> cpu_selective_scan_backward(const Tensor& u, const Tensor& delta, const Tensor& A,
                                                const Tensor& B, const Tensor& C, const Tensor& D, const Tensor& z,
                                                const Tensor& delta_bias, bool delta_softplus, const Tensor& saved,
                                                const Tensor& dout) {
  return detail::dispatch_compute(u.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const ScanOperands<T> s(u, delta, A, B, C, D, z, delta_bias, delta_softplus);
    const Tensor g = to_contiguous(convert(dout, dtype_of<T>()));
    std::vector<Tensor> grads = scan_backward(s, saved.data<T>(), g.data<T>());
    // dB, dC back from [batch, L, N] to the layout of B and C.
    for (size_t k : {3, 4}) grads[k] = *views::try_reshape(to_contiguous(views::transpose(grads[k], 1, 2)),
                                                           (k == 3 ? B : C).shape());
    const Tensor* inputs[] = {&u, &delta, &A, &B, &C, &D, &z, &delta_bias};
    for (size_t k = 0; k < grads.size(); ++k)
      if (grads[k].defined()) grads[k] = convert(grads[k], inputs[k]->dtype());
    return grads;
  });
}

// Inputs {u, delta, A, B, C, D, z, delta_bias}; output {out}; last_state is kept aside.
class SelectiveScanFunction final : public autograd::Function {
 public:
  explicit SelectiveScanFunction(bool delta_softplus) : delta_softplus_(delta_softplus) {}
  const char* name() const override { return kOp; }

  std::vector<Tensor> forward(const std::vector<Tensor>& in) override {
    for (const Tensor& t : in) inputs_.push_back(contiguous_if_defined(t));
    const std::vector<Tensor>& x = inputs_;
    auto kernel = x[0].device().is_cpu() ? &cpu_selective_scan_forward
                                         : device_kernel(kOp, x[0], &DeviceKernels::selective_scan_forward);
    std::vector<Tensor> r = kernel(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], delta_softplus_);
    last_state = r[1];
    saved_ = r[2];
    return {r[0]};
  }

  std::vector<Tensor> backward(const std::vector<Tensor>& grad_outputs) override {
    const std::vector<Tensor>& x = inputs_;
    auto kernel = x[0].device().is_cpu() ? &cpu_selective_scan_backward
                                         : device_kernel(kOp, x[0], &DeviceKernels::selective_scan_backward);
    return kernel(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], delta_softplus_, saved_,
                  to_contiguous(grad_outputs[0]));
  }

  Tensor last_state;  // handed to the caller, outside the graph

 private:
  bool delta_softplus_;
  std::vector<Tensor> inputs_;
  Tensor saved_;
};

}  // namespace

SelectiveScanResult selective_scan(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B,
                                   const Tensor& C, const Tensor& D, const Tensor& z, const Tensor& delta_bias,
                                   bool delta_softplus) {
  check_scan_args(u, delta, A, B, C, D, z, delta_bias);
  auto fn = std::make_shared<SelectiveScanFunction>(delta_softplus);
  std::vector<Tensor> out = autograd::Function::apply(fn, {u, delta, A, B, C, D, z, delta_bias});
  return {out[0], std::move(fn->last_state)};
}

}  // namespace emrrg
