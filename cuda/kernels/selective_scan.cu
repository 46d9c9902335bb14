// Mamba's selective scan, forward and backward. CPU reference: ops/selective_scan.cpp.
//
// The recurrence h_t = exp(delta_t A) h_{t-1} + delta_t B_t u_t is a composition of affine
// steps h -> a h + b, so a prefix of it is one step: (a0, b0) then (a1, b1) is
// (a1 a0, a1 b0 + b1). A block holds 8 (forward) or 16 (backward) channels of one batch row, a
// warp per channel, and stages B and C, shared by the channels, in shared memory; a warp walks
// the sequence in chunks of 32 lanes x kItems consecutive positions. Each lane composes its items' steps, a warp scan (shuffles) composes the lanes' steps, and
// the state entering the chunk, carried from the previous chunk, turns them into h_t. Positions
// past L are the identity step (1, 0). The forward keeps the state entering every chunk, so
// the backward, walking the chunks last to first, recomputes a chunk's h_t from it instead of
// storing every h_t, then runs the reverse recurrence dh_t = g_t C_t + exp(delta_{t+1} A) dh_{t+1}
// as a reverse scan of the same steps. Sums over channels (dB, dC) go through shared memory in
// channel order, then per-block partials; sums over batch and time (dA, dD, d delta_bias) through
// per-(batch, channel) partials; sum_partials.h adds the partials in a fixed order. No atomics:
// the same bits on every run.
#include "cuda/kernels/selective_scan.h"

#include <algorithm>
#include <string>
#include <type_traits>

#include "cuda/kernels/row_reduce.h"
#include "cuda/kernels/sum_partials.h"
#include "ops/mamba_math.h"

namespace emrrg::cuda {

namespace {

using storage::load;
using storage::ptr;
using storage::to_storage;

constexpr unsigned kFullMask = 0xffffffffu;
// Warps per block, one channel each. The backward's blocks are larger: it sums dB and dC over
// a block's channels before writing partials, and fewer blocks mean fewer partials.
constexpr int kForwardChannels = 8;
constexpr int kBackwardChannels = 16;
constexpr int64_t kMaxState = 256;  // N: a block keeps per-state carries in shared memory

// An affine step h -> a h + b.
struct Step {
  float a, b;
};
// `first`, then `second`: the scan's operator.
__device__ __forceinline__ Step then(Step first, Step second) {
  return {second.a * first.a, second.a * first.b + second.b};
}
__device__ __forceinline__ float apply(Step s, float h) { return s.a * h + s.b; }

// The step of the lane `offset` lanes before this one in scan order (lane 0 first, or lane 31
// first when kReverse); a lane with none gets its own.
template <bool kReverse> __device__ __forceinline__ Step shfl_before(Step v, int offset) {
  if constexpr (kReverse) return {__shfl_down_sync(kFullMask, v.a, offset), __shfl_down_sync(kFullMask, v.b, offset)};
  else return {__shfl_up_sync(kFullMask, v.a, offset), __shfl_up_sync(kFullMask, v.b, offset)};
}

// The composition of the steps of the lanes before this one in scan order; the identity for
// the first lane. Every lane of the warp calls it.
template <bool kReverse> __device__ __forceinline__ Step warp_exclusive_scan(Step v, int lane) {
  for (int offset = 1; offset < 32; offset *= 2) {
    const Step before = shfl_before<kReverse>(v, offset);
    if (kReverse ? lane + offset < 32 : lane >= offset) v = then(before, v);
  }
  const Step exclusive = shfl_before<kReverse>(v, 1);
  return lane == (kReverse ? 31 : 0) ? Step{1.0f, 0.0f} : exclusive;
}

struct ScanArgs {
  int64_t batch, dim, L, N, chunks;
  bool softplus;
  const float* A;           // [dim, N]
  const float* B;           // [batch, N, L]
  const float* C;           // [batch, N, L]
  const float* D;           // [dim] or null
  const float* delta_bias;  // [dim] or null
};

// B and C of state n at a chunk's positions [c0, c0 + kChunk), 0 past L, into
// stage[0, kChunk) and stage[kChunk, 2 kChunk): read once per block, not once per channel.
// Every thread of the block calls it. Bn, Cn: [L]
template <int kChunk, typename Stage>
__device__ __forceinline__ void stage_bc(Stage& stage, int base, const float* Bn, const float* Cn, int64_t c0,
                                         int64_t L) {
  for (int j = threadIdx.x; j < kChunk; j += blockDim.x) {
    const bool in = c0 + j < L;
    stage[base + j] = in ? Bn[c0 + j] : 0.0f;
    stage[base + kChunk + j] = in ? Cn[c0 + j] : 0.0f;
  }
}

// out = (sum_n h_t[n] C_t[n] + D u_t) * silu(z_t), h_L into last_state and the state entering
// chunk c into saved[.., c, :]. grid (ceil(dim / kForwardChannels), batch), block
// 32 * kForwardChannels, dynamic shared kForwardChannels * N floats.
// u, delta, z, out: [batch, dim, L]; last_state: [batch, dim, N]; saved: [batch, dim, chunks, N]
template <typename T, int kItems>
__global__ __launch_bounds__(32 * kForwardChannels, 3) void selective_scan_forward_kernel(
    ScanArgs p, const T* u, const T* delta, const T* z, T* out, float* last_state, float* saved) {
  constexpr int kChunk = 32 * kItems;
  // Two buffers of B and C (stage_bc), alternating by step so one barrier per step suffices.
  EMRRG_SHARED(float, bc_stage, 2 * 2 * kChunk);
  // [kForwardChannels, N]: h entering the next chunk, kept and read by lane 0 alone
  auto carry = emrrg::cuda::dynamic_shared<float>();
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t d_first = int64_t{blockIdx.x} * kForwardChannels, b = blockIdx.y;
  // Every warp meets the block's barriers; one past the last channel redoes the last channel's
  // arithmetic and writes nothing.
  const bool live = d_first + warp < p.dim;
  const int64_t d = std::min(d_first + warp, p.dim - 1);
  const int64_t L = p.L, N = p.N, row = (b * p.dim + d) * L;
  const float* Bb = p.B + b * N * L;
  const float* Cb = p.C + b * N * L;
  const float Dd = p.D ? p.D[d] : 0.0f, bias = p.delta_bias ? p.delta_bias[d] : 0.0f;
  float* chunk_states = saved + (b * p.dim + d) * p.chunks * N;
  for (int64_t c = 0; c < p.chunks; ++c) {
    const int64_t c0 = c * kChunk, t0 = c0 + int64_t{lane} * kItems;
    float uv[kItems], dt[kItems], y[kItems];
    for (int i = 0; i < kItems; ++i) {
      const int64_t t = t0 + i;
      const bool in = t < L;
      uv[i] = in ? load(u + row + t) : 0.0f;
      const float raw = in ? load(delta + row + t) + bias : 0.0f;
      dt[i] = mamba::step_size(raw, p.softplus);
      y[i] = Dd * uv[i];
    }
    for (int64_t n = 0; n < N; ++n) {
      const int base = static_cast<int>((c * N + n) % 2) * 2 * kChunk;
      stage_bc<kChunk>(bc_stage, base, Bb + n * L, Cb + n * L, c0, L);
      __syncthreads();  // staged; the other buffer's readers are done with it
      const float An = p.A[d * N + n];
      Step step[kItems];
      Step lane_steps{1.0f, 0.0f};
      for (int i = 0; i < kItems; ++i) {
        const float Bt = bc_stage[base + lane * kItems + i];
        step[i] = t0 + i < L ? Step{expf(dt[i] * An), dt[i] * Bt * uv[i]} : Step{1.0f, 0.0f};
        lane_steps = then(lane_steps, step[i]);
      }
      const float carried = lane == 0 && c > 0 ? static_cast<float>(carry[warp * N + n]) : 0.0f;
      const float h_chunk = __shfl_sync(kFullMask, carried, 0);
      float h = apply(warp_exclusive_scan<false>(lane_steps, lane), h_chunk);
      for (int i = 0; i < kItems; ++i) {
        h = apply(step[i], h);
        y[i] += h * bc_stage[base + kChunk + lane * kItems + i];  // C is 0 past L
      }
      const float h_end = __shfl_sync(kFullMask, h, 31);  // identity steps past L keep h_{L-1}
      if (lane == 0) {
        carry[warp * N + n] = h_end;
        if (live) chunk_states[c * N + n] = h_chunk;
        if (live && c == p.chunks - 1) last_state[(b * p.dim + d) * N + n] = h_end;
      }
    }
    if (!live) continue;
    for (int i = 0; i < kItems; ++i) {
      const int64_t t = t0 + i;
      if (t >= L) break;
      float v = y[i];
      if (z) v *= mamba::silu(load(z + row + t));
      out[row + t] = to_storage<T>(v);
    }
  }
}

// Gradients of one chunk after another, last to first. Per element: du, ddelta (before the
// bias and softplus), dz; per (batch, channel): dA_part, dD_part, dbias_part (summed over
// batch afterwards); per (batch, block, state, position): dB_part and dC_part, this block's
// channels summed in order (summed over blocks afterwards). grid (ceil(dim / kBackwardChannels),
// batch), block 32 * kBackwardChannels, dynamic shared 2 * kBackwardChannels * N floats.
// u, delta, z, dout, du, ddelta, dz: [batch, dim, L]; saved: [batch, dim, chunks, N];
// dA_part: [batch, dim, N]; dD_part, dbias_part: [batch, dim] or null;
// dB_part, dC_part: [batch, blocks, N, L]
template <typename T, int kItems>
__global__ __launch_bounds__(32 * kBackwardChannels, 1) void selective_scan_backward_kernel(
    ScanArgs p, const T* u, const T* delta, const T* z, const T* dout, const float* saved, T* du, T* ddelta, T* dz,
    float* dA_part, float* dD_part, float* dbias_part, float* dB_part, float* dC_part) {
  constexpr int kChunk = 32 * kItems;
  EMRRG_SHARED(float, dB_tile, kBackwardChannels * kChunk);  // [channel, position in chunk]
  EMRRG_SHARED(float, dC_tile, kBackwardChannels * kChunk);
  EMRRG_SHARED(float, bc_stage, 2 * kChunk);  // stage_bc
  auto smem = emrrg::cuda::dynamic_shared<float>();
  const int64_t N = p.N, L = p.L;
  // Both [kBackwardChannels, N], kept and read by lane 0 alone: exp(delta A) dh at the first
  // position of the chunk after this one, and dA summed over the chunks done so far.
  auto dh_carry = smem;
  auto dA_sum = smem + kBackwardChannels * N;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t d_first = int64_t{blockIdx.x} * kBackwardChannels, b = blockIdx.y;
  const int channels = static_cast<int>(std::min<int64_t>(kBackwardChannels, p.dim - d_first));
  const bool live = warp < channels;  // as in the forward
  const int64_t d = d_first + std::min(warp, channels - 1), row = (b * p.dim + d) * L;
  const float* Bb = p.B + b * N * L;
  const float* Cb = p.C + b * N * L;
  const float Dd = p.D ? p.D[d] : 0.0f, bias = p.delta_bias ? p.delta_bias[d] : 0.0f;
  const float* chunk_states = saved + (b * p.dim + d) * p.chunks * N;
  float dD_lane = 0.0f, dbias_lane = 0.0f;
  for (int64_t c = p.chunks - 1; c >= 0; --c) {
    const int64_t c0 = c * kChunk, t0 = c0 + int64_t{lane} * kItems;
    // g = dout * silu(z) = d out / d y; du and ddelta (after the softplus) accumulate over states.
    float uv[kItems], dt[kItems], g[kItems], y[kItems], du_acc[kItems], ddt[kItems];
    for (int i = 0; i < kItems; ++i) {
      const int64_t t = t0 + i;
      const bool in = t < L;
      uv[i] = in ? load(u + row + t) : 0.0f;
      const float raw = in ? load(delta + row + t) + bias : 0.0f;
      dt[i] = mamba::step_size(raw, p.softplus);
      g[i] = in ? load(dout + row + t) : 0.0f;
      if (z && in) g[i] *= mamba::silu(load(z + row + t));
      y[i] = Dd * uv[i];
      du_acc[i] = Dd * g[i];
      ddt[i] = 0.0f;
    }
    for (int64_t n = 0; n < N; ++n) {
      stage_bc<kChunk>(bc_stage, 0, Bb + n * L, Cb + n * L, c0, L);
      __syncthreads();  // staged, and the previous state's tiles are summed
      const float An = p.A[d * N + n];
      float a[kItems], Bv[kItems], Cv[kItems], h_prev[kItems];
      Step lane_steps{1.0f, 0.0f};
      for (int i = 0; i < kItems; ++i) {
        Bv[i] = bc_stage[lane * kItems + i];  // B and C are 0 past L
        Cv[i] = bc_stage[kChunk + lane * kItems + i];
        a[i] = t0 + i < L ? expf(dt[i] * An) : 1.0f;
        lane_steps = then(lane_steps, Step{a[i], dt[i] * Bv[i] * uv[i]});
      }
      float h = apply(warp_exclusive_scan<false>(lane_steps, lane), chunk_states[c * N + n]);
      for (int i = 0; i < kItems; ++i) {
        h_prev[i] = h;
        h = apply(Step{a[i], dt[i] * Bv[i] * uv[i]}, h);
        y[i] += h * Cv[i];
        dC_tile[warp * kChunk + lane * kItems + i] = g[i] * h;  // 0 past L
      }
      // Reverse steps dh_t = a_{t+1} dh_{t+1} + g_t C_t; a chunk's last position takes the
      // carried a dh of the next chunk's first position, so its own a_{t+1} is 1.
      const float a_next_lane = __shfl_down_sync(kFullMask, a[0], 1);
      auto reverse_step = [&](int i) {
        const float a_next = i + 1 < kItems ? a[i + 1] : (lane < 31 ? a_next_lane : 1.0f);
        return Step{a_next, g[i] * Cv[i]};
      };
      Step lane_reverse{1.0f, 0.0f};
      for (int i = kItems - 1; i >= 0; --i) lane_reverse = then(lane_reverse, reverse_step(i));
      const float carried = lane == 0 && c < p.chunks - 1 ? static_cast<float>(dh_carry[warp * N + n]) : 0.0f;
      const float dh_chunk = __shfl_sync(kFullMask, carried, 0);
      float dh = apply(warp_exclusive_scan<true>(lane_reverse, lane), dh_chunk);
      float dA_lane = 0.0f;
      for (int i = kItems - 1; i >= 0; --i) {
        dh = apply(reverse_step(i), dh);
        // Past L: dh = 0 (g, C and the carry are 0 there), so every term below is 0.
        const float dh_dt = dh * dt[i], dh_a_h = dh * a[i] * h_prev[i];
        dB_tile[warp * kChunk + lane * kItems + i] = dh_dt * uv[i];
        du_acc[i] += dh_dt * Bv[i];
        ddt[i] += dh * Bv[i] * uv[i] + An * dh_a_h;
        dA_lane += dt[i] * dh_a_h;
      }
      const float dA_chunk = rows::warp_reduce(dA_lane, rows::Sum{});
      if (lane == 0) {  // item 0 of lane 0 is the chunk's first position
        dh_carry[warp * N + n] = a[0] * dh;
        dA_sum[warp * N + n] = (c == p.chunks - 1 ? 0.0f : static_cast<float>(dA_sum[warp * N + n])) + dA_chunk;
      }
      __syncthreads();  // the tiles are complete
      const int64_t part = ((b * gridDim.x + blockIdx.x) * N + n) * L + c0;
      for (int64_t j = threadIdx.x; j < kChunk && c0 + j < L; j += blockDim.x) {
        float sB = 0.0f, sC = 0.0f;
        for (int w = 0; w < channels; ++w) {
          sB += dB_tile[w * kChunk + j];
          sC += dC_tile[w * kChunk + j];
        }
        dB_part[part + j] = sB;
        dC_part[part + j] = sC;
      }
    }
    if (!live) continue;
    for (int i = 0; i < kItems; ++i) {
      const int64_t t = t0 + i;
      if (t >= L) break;
      if (z) dz[row + t] = to_storage<T>(load(dout + row + t) * y[i] * mamba::silu_derivative(load(z + row + t)));
      const float ddt_raw = ddt[i] * mamba::step_size_derivative(load(delta + row + t) + bias, p.softplus);
      du[row + t] = to_storage<T>(du_acc[i]);
      ddelta[row + t] = to_storage<T>(ddt_raw);
      dbias_lane += ddt_raw;
      dD_lane += g[i] * uv[i];
    }
  }
  const float dD_total = rows::warp_reduce(dD_lane, rows::Sum{});
  const float dbias_total = rows::warp_reduce(dbias_lane, rows::Sum{});
  if (!live || lane != 0) return;
  if (dD_part) dD_part[b * p.dim + d] = dD_total;
  if (dbias_part) dbias_part[b * p.dim + d] = dbias_total;
  for (int64_t n = 0; n < N; ++n) dA_part[(b * p.dim + d) * N + n] = dA_sum[warp * N + n];
}

// Positions per lane: short sequences waste fewer lanes on padding with 4.
int items_per_lane(int64_t L) { return L <= 128 ? 4 : 8; }
int64_t chunk_count(int64_t L) {
  const int64_t chunk = 32 * items_per_lane(L);
  return (L + chunk - 1) / chunk;
}

template <typename Fn> void dispatch_items(int64_t L, Fn&& fn) {
  if (items_per_lane(L) == 4) fn(std::integral_constant<int, 4>{});
  else fn(std::integral_constant<int, 8>{});
}

// The inputs made contiguous (A, B, C, D and delta_bias as float32) and the kernels' arguments.
struct ScanInputs {
  Tensor u, delta, z, A, B, C, D, delta_bias;
  ScanArgs args;
};

// Blocks of `channels` warps: (ceil(dim / channels), batch).
dim3 scan_grid(const ScanArgs& p, int channels) {
  return dim3(static_cast<unsigned>((p.dim + channels - 1) / channels), static_cast<unsigned>(p.batch));
}

ScanInputs scan_inputs(const char* op, const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B,
                       const Tensor& C, const Tensor& D, const Tensor& z, const Tensor& delta_bias,
                       bool delta_softplus) {
  storage::check_cuda_floating(op, u);
  if (u.dim() != 3 || !A.defined() || A.dim() != 2)
    throw std::invalid_argument(std::string(op) + ": needs u [batch, dim, L] and A [dim, N], got " + u.str() + " and " +
                                A.str());
  ScanInputs in;
  const int64_t batch = u.shape()[0], dim = u.shape()[1], L = u.shape()[2], N = A.shape()[1];
  if (N > kMaxState)
    throw std::invalid_argument(std::string(op) + ": the CUDA kernel takes at most " + std::to_string(kMaxState) +
                                " states, A is " + A.str());
  if (batch > 65535)
    throw std::invalid_argument(std::string(op) + ": batch " + std::to_string(batch) + " exceeds the CUDA grid");
  // The op validates its arguments; these keep a direct caller from reading past a buffer.
  auto require = [&](bool ok, const char* name, const Tensor& t) {
    if (!ok) throw std::invalid_argument(std::string(op) + ": " + name + " " + t.str() + " does not fit u " + u.str());
  };
  require(delta.defined() && delta.shape() == u.shape(), "delta", delta);
  require(!z.defined() || z.shape() == u.shape(), "z", z);
  require(A.shape()[0] == dim, "A", A);
  require(B.defined() && B.numel() == batch * N * L, "B", B);
  require(C.defined() && C.numel() == batch * N * L, "C", C);
  require(!D.defined() || D.numel() == dim, "D", D);
  require(!delta_bias.defined() || delta_bias.numel() == dim, "delta_bias", delta_bias);
  auto f32 = [](const Tensor& t) { return t.defined() ? to_contiguous(convert(t, DType::Float32)) : Tensor(); };
  in.u = to_contiguous(u);
  in.delta = to_contiguous(convert(delta, u.dtype()));
  in.z = z.defined() ? to_contiguous(convert(z, u.dtype())) : Tensor();
  in.A = f32(A);
  in.B = f32(B);
  in.C = f32(C);
  in.D = f32(D);
  in.delta_bias = f32(delta_bias);
  in.args = {batch,
             dim,
             L,
             N,
             chunk_count(L),
             delta_softplus,
             ptr<const float>(in.A),
             ptr<const float>(in.B),
             ptr<const float>(in.C),
             ptr<const float>(in.D),
             ptr<const float>(in.delta_bias)};
  return in;
}

}  // namespace

std::vector<Tensor> selective_scan_forward(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B,
                                           const Tensor& C, const Tensor& D, const Tensor& z,
                                           const Tensor& delta_bias, bool delta_softplus) {
  const ScanInputs in = scan_inputs("selective_scan", u, delta, A, B, C, D, z, delta_bias, delta_softplus);
  const ScanArgs& p = in.args;
  Tensor out = empty(u.shape(), u.dtype(), u.device());
  Tensor last_state = empty({p.batch, p.dim, p.N}, DType::Float32, u.device());
  Tensor saved = empty({p.batch, p.dim, p.chunks, p.N}, DType::Float32, u.device());
  if (p.batch * p.dim * p.N == 0 || p.L == 0) {
    fill(last_state, 0.0);
    if (p.batch * p.dim == 0 || p.L == 0) return {out, last_state, saved};
  }
  const size_t shared = sizeof(float) * kForwardChannels * static_cast<size_t>(p.N);
  storage::dispatch_storage(u.dtype(), [&](auto s) {
    using T = decltype(s);
    dispatch_items(p.L, [&](auto items) {
      EMRRG_LAUNCH((selective_scan_forward_kernel<T, decltype(items)::value>), scan_grid(p, kForwardChannels),
                   dim3(32 * kForwardChannels), shared, nullptr, p,
                   ptr<const T>(in.u), ptr<const T>(in.delta), ptr<const T>(in.z), ptr<T>(out), ptr<float>(last_state),
                   ptr<float>(saved));
    });
  });
  return {out, last_state, saved};
}

std::vector<Tensor> selective_scan_backward(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B,
                                            const Tensor& C, const Tensor& D, const Tensor& z,
                                            const Tensor& delta_bias, bool delta_softplus, const Tensor& saved,
                                            const Tensor& dout) {
  const char* op = "selective_scan backward";
  const ScanInputs in = scan_inputs(op, u, delta, A, B, C, D, z, delta_bias, delta_softplus);
  const ScanArgs& p = in.args;
  const Device dev = u.device();
  if (dout.shape() != u.shape())
    throw std::invalid_argument(std::string(op) + ": dout " + dout.str() + " does not match u " + u.str());
  if (saved.shape() != Shape{p.batch, p.dim, p.chunks, p.N} || saved.dtype() != DType::Float32 ||
      !saved.is_contiguous() || saved.device() != dev)
    throw std::invalid_argument(std::string(op) + ": saved " + saved.str() + " is not the forward's chunk states");
  const Tensor g = to_contiguous(convert(dout, u.dtype()));
  auto like = [&](const Tensor& t) { return t.defined() ? empty(t.shape(), t.dtype(), dev) : Tensor(); };
  Tensor du = like(u), ddelta = like(u), dz = like(z), dA = like(A), dB = like(B), dC = like(C), dD = like(D),
         dbias = like(delta_bias);
  const std::vector<Tensor> grads{du, ddelta, dA, dB, dC, dD, dz, dbias};
  if (p.batch * p.dim == 0 || p.L == 0) {  // the sums are over nothing
    for (const Tensor& t : {dA, dB, dC, dD, dbias})
      if (t.defined()) fill(t, 0.0);
    return grads;
  }
  const dim3 grid = scan_grid(p, kBackwardChannels);
  const int64_t blocks = grid.x;
  Tensor dA_part = empty({1, p.batch, p.dim * p.N}, DType::Float32, dev);
  Tensor dD_part = D.defined() ? empty({1, p.batch, p.dim}, DType::Float32, dev) : Tensor();
  Tensor dbias_part = delta_bias.defined() ? empty({1, p.batch, p.dim}, DType::Float32, dev) : Tensor();
  Tensor dB_part = empty({p.batch, blocks, p.N * p.L}, DType::Float32, dev);
  Tensor dC_part = empty({p.batch, blocks, p.N * p.L}, DType::Float32, dev);
  const size_t shared = 2 * sizeof(float) * kBackwardChannels * static_cast<size_t>(p.N);
  storage::dispatch_storage(u.dtype(), [&](auto s) {
    using T = decltype(s);
    dispatch_items(p.L, [&](auto items) {
      EMRRG_LAUNCH((selective_scan_backward_kernel<T, decltype(items)::value>), grid, dim3(32 * kBackwardChannels),
                   shared, nullptr, p,
                   ptr<const T>(in.u), ptr<const T>(in.delta), ptr<const T>(in.z), ptr<const T>(g),
                   ptr<const float>(saved), ptr<T>(du), ptr<T>(ddelta), ptr<T>(dz), ptr<float>(dA_part),
                   ptr<float>(dD_part), ptr<float>(dbias_part), ptr<float>(dB_part), ptr<float>(dC_part));
    });
  });
  sum_partials(dA_part, dA);
  if (dD.defined()) sum_partials(dD_part, dD);
  if (dbias.defined()) sum_partials(dbias_part, dbias);
  sum_partials(dB_part, dB);
  sum_partials(dC_part, dC);
  return grads;
}

}  // namespace emrrg::cuda
