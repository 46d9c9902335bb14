#include "ops/selective_scan.h"

#include <algorithm>
#include <memory>
#include <string>

#include "autograd/tape.h"
#include "ops/device_kernels.h"
#include "ops/kernel_util.h"
#include "ops/mamba_math.h"
#include "ops/op_cost.h"
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

// The kernels scan kLanes consecutive channels side by side, one per vector lane: each lane runs
// the one-channel recurrence with the same operations in the same order (sums over the state in
// state order), so the result is that of a channel-at-a-time scan, while the loops over lanes
// vectorise and the sums' dependency chains are shared by kLanes channels.
constexpr int64_t kLanes = 8;
static_assert(kChannelGroup % kLanes == 0, "a channel group is whole blocks of lanes");

// One block's per-channel operands, lane-minor: a [N, kLanes], per time step delta + bias, u, z
// [L, kLanes]; lanes past the last channel hold zeros (a finite scan nobody reads).
template <typename T> struct LaneBlock {
  int64_t b, d0, lanes;
  std::vector<T> A, raw, u, z;
  T D[kLanes];

  LaneBlock(const ScanOperands<T>& s)
      : A(static_cast<size_t>(s.N * kLanes)), raw(static_cast<size_t>(s.L * kLanes)), u(raw.size()),
        z(s.z ? raw.size() : 0) {}
  void load(const ScanOperands<T>& s, int64_t block_index, int64_t blocks) {
    b = block_index / blocks;
    d0 = (block_index % blocks) * kLanes;
    lanes = std::min(kLanes, s.dim - d0);
    std::fill(A.begin(), A.end(), T(0));
    std::fill(raw.begin(), raw.end(), T(0));
    std::fill(u.begin(), u.end(), T(0));
    std::fill(z.begin(), z.end(), T(0));
    for (int64_t l = 0; l < kLanes; ++l) D[l] = s.D && l < lanes ? s.D[d0 + l] : T(0);
    for (int64_t l = 0; l < lanes; ++l) {
      const int64_t d = d0 + l, row = b * s.dim + d;
      const T bias = s.bias_of(d);
      for (int64_t n = 0; n < s.N; ++n) A[n * kLanes + l] = s.A[d * s.N + n];
      for (int64_t t = 0; t < s.L; ++t) {
        raw[t * kLanes + l] = s.delta[row * s.L + t] + bias;
        u[t * kLanes + l] = s.u[row * s.L + t];
        if (s.z) z[t * kLanes + l] = s.z[row * s.L + t];
      }
    }
  }
};

// One time step of the block's forward: h [N, kLanes] from hp (may be h), e [N, kLanes] the decays
// exp(delta' A), y [kLanes] = sum_n h C (state order); dt, dt_u [kLanes].
template <typename T>
inline void lanes_step(int64_t N, const T* A, const T* dt, const T* dt_u, const T* Bt, const T* Ct, const T* hp,
                       T* h, T* e, T* y) {
  for (int64_t l = 0; l < kLanes; ++l) y[l] = 0;
  for (int64_t n = 0; n < N; ++n) {
    T* en = e + n * kLanes;
    T* hn = h + n * kLanes;
    const T* hpn = hp + n * kLanes;
    for (int64_t l = 0; l < kLanes; ++l) en[l] = mamba::decay_exp(dt[l] * A[n * kLanes + l]);
    for (int64_t l = 0; l < kLanes; ++l) hn[l] = en[l] * hpn[l] + dt_u[l] * Bt[n];
    for (int64_t l = 0; l < kLanes; ++l) y[l] += hn[l] * Ct[n];
  }
}

// {out [batch, dim, L], last_state [batch, dim, N], saved [batch, dim, chunks, N]} in T, `saved`
// holding the state entering each chunk.
template <typename T> std::vector<Tensor> scan_forward(const ScanOperands<T>& s) {
  const int64_t L = s.L, N = s.N, chunks = (L + kChunk - 1) / kChunk, blocks = (s.dim + kLanes - 1) / kLanes;
  Tensor out = empty({s.batch, s.dim, L}, dtype_of<T>());
  Tensor last_state = empty({s.batch, s.dim, N}, dtype_of<T>());
  Tensor saved = empty({s.batch, s.dim, chunks, N}, dtype_of<T>());
  T* po = out.data<T>();
  T* plast = last_state.data<T>();
  T* psaved = saved.data<T>();
  parallel_for(s.batch * blocks, grain_for(kLanes * L * N), [&](int64_t k0, int64_t k1) {
    LaneBlock<T> blk(s);
    std::vector<T> h(static_cast<size_t>(N * kLanes)), e(h.size());
    T dt[kLanes], dt_u[kLanes], y[kLanes];
    for (int64_t k = k0; k < k1; ++k) {
      blk.load(s, k, blocks);
      const int64_t row0 = blk.b * s.dim + blk.d0;
      std::fill(h.begin(), h.end(), T(0));
      for (int64_t t = 0; t < L; ++t) {
        if (t % kChunk == 0)
          for (int64_t l = 0; l < blk.lanes; ++l)
            for (int64_t n = 0; n < N; ++n) psaved[((row0 + l) * chunks + t / kChunk) * N + n] = h[n * kLanes + l];
        const T* ut = &blk.u[t * kLanes];
        for (int64_t l = 0; l < kLanes; ++l) {
          dt[l] = mamba::step_size(blk.raw[t * kLanes + l], s.softplus);
          dt_u[l] = dt[l] * ut[l];
        }
        lanes_step(N, blk.A.data(), dt, dt_u, s.B + (blk.b * L + t) * N, s.C + (blk.b * L + t) * N, h.data(),
                   h.data(), e.data(), y);
        for (int64_t l = 0; l < blk.lanes; ++l) {
          T yl = y[l];
          if (s.D) yl += blk.D[l] * ut[l];
          if (s.z) yl *= mamba::silu(blk.z[t * kLanes + l]);
          po[(row0 + l) * L + t] = yl;
        }
      }
      for (int64_t l = 0; l < blk.lanes; ++l)
        for (int64_t n = 0; n < N; ++n) plast[(row0 + l) * N + n] = h[n * kLanes + l];
    }
  });
  return {out, last_state, saved};
}

// {du, ddelta, dA, dB [batch, L, N], dC [batch, L, N], dD, dz, ddelta_bias} in T (undefined for
// the undefined optional inputs) from the forward's `saved` and dout [batch, dim, L].
template <typename T> std::vector<Tensor> scan_backward(const ScanOperands<T>& s, const T* saved, const T* dout) {
  const int64_t L = s.L, N = s.N, chunks = (L + kChunk - 1) / kChunk;
  const int64_t groups = (s.dim + kChannelGroup - 1) / kChannelGroup, blocks = (s.dim + kLanes - 1) / kLanes;
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
    LaneBlock<T> blk(s);
    // One chunk's recomputed forward: h_t and exp(delta'_t A) [kChunk, N, kLanes], delta', y.
    const size_t state = static_cast<size_t>(N * kLanes);
    std::vector<T> hs(kChunk * state), es(kChunk * state), h0(state), dts(kChunk * kLanes), ys(kChunk * kLanes);
    // carry = exp(delta'_{t+1} A) * dh_{t+1}, the reverse recurrence's running term.
    std::vector<T> carry(state), dA(state), dB_lanes(state), dC_lanes(state);
    T dt_u[kLanes], g[kLanes], du_t[kLanes], ddt[kLanes], dD[kLanes], dbias[kLanes];
    for (int64_t task = task0; task < task1; ++task) {
      const int64_t b = task / groups, group = task % groups;
      T* dBg = pdB + task * L * N;
      T* dCg = pdC + task * L * N;
      const int64_t block_end = std::min(blocks, (group + 1) * (kChannelGroup / kLanes));
      for (int64_t block = group * (kChannelGroup / kLanes); block < block_end; ++block) {
        blk.load(s, b * blocks + block, blocks);
        const int64_t row0 = b * s.dim + blk.d0;
        const T* A = blk.A.data();
        std::fill(carry.begin(), carry.end(), T(0));
        std::fill(dA.begin(), dA.end(), T(0));
        std::fill(dD, dD + kLanes, T(0));
        std::fill(dbias, dbias + kLanes, T(0));
        for (int64_t c = chunks - 1; c >= 0; --c) {
          const int64_t t0 = c * kChunk, t1 = std::min(L, t0 + kChunk);
          std::fill(h0.begin(), h0.end(), T(0));
          for (int64_t l = 0; l < blk.lanes; ++l)
            for (int64_t n = 0; n < N; ++n) h0[n * kLanes + l] = saved[((row0 + l) * chunks + c) * N + n];
          for (int64_t t = t0; t < t1; ++t) {
            const int64_t i = t - t0;
            T* dt = &dts[i * kLanes];
            const T* ut = &blk.u[t * kLanes];
            for (int64_t l = 0; l < kLanes; ++l) {
              dt[l] = mamba::step_size(blk.raw[t * kLanes + l], s.softplus);
              dt_u[l] = dt[l] * ut[l];
            }
            T* y = &ys[i * kLanes];
            lanes_step(N, A, dt, dt_u, s.B + (b * L + t) * N, s.C + (b * L + t) * N,
                       i ? &hs[(i - 1) * state] : h0.data(), &hs[i * state], &es[i * state], y);
            for (int64_t l = 0; l < kLanes; ++l)
              if (s.D) y[l] = y[l] + blk.D[l] * ut[l];
          }
          for (int64_t t = t1 - 1; t >= t0; --t) {
            const int64_t i = t - t0;
            const T* h = &hs[i * state];
            const T* hp = i ? &hs[(i - 1) * state] : h0.data();
            const T* e = &es[i * state];
            const T* Bt = s.B + (b * L + t) * N;
            const T* Ct = s.C + (b * L + t) * N;
            const T* dt = &dts[i * kLanes];
            const T* ut = &blk.u[t * kLanes];
            for (int64_t l = 0; l < kLanes; ++l) {
              g[l] = l < blk.lanes ? dout[(row0 + l) * L + t] : T(0);  // d loss / d y, through the gate
              if (s.z) {
                const T zt = blk.z[t * kLanes + l];
                if (l < blk.lanes) pdz[(row0 + l) * L + t] = g[l] * ys[i * kLanes + l] * mamba::silu_derivative(zt);
                g[l] *= mamba::silu(zt);
              }
              du_t[l] = 0;
              ddt[l] = 0;
              if (s.D) {
                du_t[l] = blk.D[l] * g[l];
                dD[l] += g[l] * ut[l];
              }
              dt_u[l] = dt[l] * ut[l];
            }
            for (int64_t n = 0; n < N; ++n) {
              const int64_t o = n * kLanes;
              for (int64_t l = 0; l < kLanes; ++l) {
                const T dh = g[l] * Ct[n] + carry[o + l];
                const T dh_e_hp = dh * e[o + l] * hp[o + l];
                dB_lanes[o + l] = dh * dt_u[l];
                dC_lanes[o + l] = g[l] * h[o + l];
                dA[o + l] += dt[l] * dh_e_hp;
                carry[o + l] = e[o + l] * dh;
                du_t[l] += dh * Bt[n] * dt[l];
                ddt[l] += dh * Bt[n] * ut[l] + A[o + l] * dh_e_hp;
              }
            }
            // The channels' dB, dC contributions in channel order.
            T* dBt = dBg + t * N;
            T* dCt = dCg + t * N;
            for (int64_t l = 0; l < blk.lanes; ++l)
              for (int64_t n = 0; n < N; ++n) {
                dBt[n] += dB_lanes[n * kLanes + l];
                dCt[n] += dC_lanes[n * kLanes + l];
              }
            for (int64_t l = 0; l < blk.lanes; ++l) {
              const int64_t row = row0 + l;
              pdu[row * L + t] = du_t[l];
              const T draw = ddt[l] * mamba::step_size_derivative(blk.raw[t * kLanes + l], s.softplus);
              pddelta[row * L + t] = draw;
              dbias[l] += draw;
            }
          }
        }
        for (int64_t l = 0; l < blk.lanes; ++l) {
          const int64_t row = row0 + l;
          for (int64_t n = 0; n < N; ++n) pdA[row * N + n] = dA[n * kLanes + l];
          pdD[row] = dD[l];
          pdbias[row] = dbias[l];
        }
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
  const profiler::OpRange range(kOp, [&] { return op_cost::selective_scan(u, A, B, C); });
  auto fn = std::make_shared<SelectiveScanFunction>(delta_softplus);
  std::vector<Tensor> out = autograd::Function::apply(fn, {u, delta, A, B, C, D, z, delta_bias});
  return {out[0], std::move(fn->last_state)};
}

}  // namespace emrrg
