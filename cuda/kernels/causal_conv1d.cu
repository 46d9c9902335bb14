// Depthwise causal conv1d with the SiLU fused, forward and backward. CPU reference:
// ops/causal_conv1d.cpp.
//   pre[t] = bias + sum_{k<W} weight[k] x[t - (W-1) + k]   (x = 0 before t = 0),  out = silu(pre)
// The backward recomputes pre for d out / d pre = dout silu'(pre); the weight and bias
// gradients are per-(batch, tile) partials summed in a fixed order by sum_partials.h.
#include "cuda/kernels/causal_conv1d.h"

#include <string>

#include "cuda/kernels/row_reduce.h"
#include "cuda/kernels/sum_partials.h"
#include "ops/mamba_math.h"

namespace emrrg::cuda {

namespace {

using storage::load;
using storage::ptr;
using storage::to_storage;

constexpr int kMaxWidth = 4;
constexpr int kConvTile = 128;  // positions per backward block, one per thread

template <typename S>
__device__ __forceinline__ float pre_activation(const S* x_row, const float* w, float bias, int64_t t, int W) {
  float acc = bias;
  for (int k = 0; k < W; ++k) {
    const int64_t s = t - (W - 1) + k;
    if (s >= 0) acc += w[k] * load(x_row + s);
  }
  return acc;
}

// x, out: [batch * dim, L]; weight: [dim, W] float32; bias: [dim] float32 or null
template <typename S>
__global__ void causal_conv1d_forward_kernel(const S* x, const float* weight, const float* bias, S* out, int64_t rows,
                                             int64_t dim, int64_t L, int W, bool silu) {
  const int64_t n = rows * L;
  for (int64_t e = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; e < n; e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = e / L, t = e % L, d = r % dim;
    float v = pre_activation(x + r * L, weight + d * W, bias ? bias[d] : 0.0f, t, W);
    if (silu) v = mamba::silu(v);
    out[e] = to_storage<S>(v);
  }
}

// One block of kConvTile threads per (row, tile of positions): dx at the tile's positions from
// d out / d pre at them and the W - 1 after, staged in shared memory; the tile's weight and
// bias gradients into dweight_part[b * tiles + tile] and dbias_part.
// grid (batch * dim, tiles). x, dout, dx: [batch * dim, L]; weight: [dim, W] float32;
// bias: [dim] float32 or null; dweight_part: [batch * tiles, dim, W]; dbias_part: [batch * tiles, dim] or null
template <typename S>
__global__ void causal_conv1d_backward_kernel(const S* x, const float* weight, const float* bias, const S* dout,
                                              S* dx, float* dweight_part, float* dbias_part, int64_t dim, int64_t L,
                                              int W, bool silu) {
  EMRRG_SHARED(float, dpre, kConvTile + kMaxWidth - 1);
  const int64_t r = blockIdx.x, d = r % dim, t0 = int64_t{blockIdx.y} * kConvTile;
  const S* x_row = x + r * L;
  const float* w = weight + d * W;
  const float b = bias ? bias[d] : 0.0f;
  for (int j = threadIdx.x; j < kConvTile + W - 1; j += blockDim.x) {
    const int64_t t = t0 + j;
    float v = 0.0f;
    if (t < L) {
      v = load(dout + r * L + t);
      if (silu) v *= mamba::silu_derivative(pre_activation(x_row, w, b, t, W));
    }
    dpre[j] = v;
  }
  __syncthreads();
  const int64_t s = t0 + threadIdx.x;
  float dw[kMaxWidth] = {0.0f, 0.0f, 0.0f, 0.0f}, db = 0.0f;
  if (s < L) {
    float acc = 0.0f;  // x[s] meets weight[k] in out[s + W - 1 - k]
    for (int k = 0; k < W; ++k) acc += w[k] * dpre[threadIdx.x + W - 1 - k];
    dx[r * L + s] = to_storage<S>(acc);
    db = dpre[threadIdx.x];
    for (int k = 0; k < W; ++k) {
      const int64_t src = s - (W - 1) + k;
      if (src >= 0) dw[k] = db * load(x_row + src);
    }
  }
  const int64_t group = (r / dim) * gridDim.y + blockIdx.y;
  for (int k = 0; k < W; ++k) {
    const float total = rows::block_reduce(dw[k], rows::Sum{}, 0.0f);
    if (threadIdx.x == 0) dweight_part[(group * dim + d) * W + k] = total;
  }
  if (!dbias_part) return;  // uniform over the block
  const float total = rows::block_reduce(db, rows::Sum{}, 0.0f);
  if (threadIdx.x == 0) dbias_part[group * dim + d] = total;
}

struct ConvInputs {
  Tensor x, weight, bias;  // contiguous; weight and bias float32
  int64_t batch, dim, L;
  int W;
};

ConvInputs conv_inputs(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias) {
  storage::check_cuda_floating(op, x);
  if (x.dim() != 3) throw std::invalid_argument(std::string(op) + ": needs x [batch, dim, L], got " + x.str());
  ConvInputs in;
  in.batch = x.shape()[0];
  in.dim = x.shape()[1];
  in.L = x.shape()[2];
  const int64_t W = weight.defined() && weight.dim() > 0 ? weight.shape().back() : 0;
  if (W < 1 || W > kMaxWidth || weight.numel() != in.dim * W)
    throw std::invalid_argument(std::string(op) + ": weight " + weight.str() + " is not [dim, W] with W <= " +
                                std::to_string(kMaxWidth) + " for x " + x.str());
  if (bias.defined() && bias.numel() != in.dim)
    throw std::invalid_argument(std::string(op) + ": bias " + bias.str() + " is not [dim] for x " + x.str());
  in.W = static_cast<int>(W);
  in.x = to_contiguous(x);
  in.weight = to_contiguous(convert(weight, DType::Float32));
  in.bias = bias.defined() ? to_contiguous(convert(bias, DType::Float32)) : Tensor();
  return in;
}

}  // namespace

Tensor causal_conv1d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, bool silu) {
  const ConvInputs in = conv_inputs("causal_conv1d", x, weight, bias);
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  if (out.numel() == 0) return out;
  storage::dispatch_storage(x.dtype(), [&](auto s) {
    using S = decltype(s);
    EMRRG_LAUNCH(causal_conv1d_forward_kernel<S>, dim3(storage::grid_for(out.numel())), dim3(storage::kBlock), 0,
                 nullptr, ptr<const S>(in.x), ptr<const float>(in.weight), ptr<const float>(in.bias), ptr<S>(out),
                 in.batch * in.dim, in.dim, in.L, in.W, silu);
  });
  return out;
}

std::vector<Tensor> causal_conv1d_backward(const Tensor& x, const Tensor& weight, const Tensor& bias, bool silu,
                                           const Tensor& dout) {
  const char* op = "causal_conv1d backward";
  const ConvInputs in = conv_inputs(op, x, weight, bias);
  if (dout.shape() != x.shape())
    throw std::invalid_argument(std::string(op) + ": dout " + dout.str() + " does not match x " + x.str());
  const Device dev = x.device();
  const Tensor g = to_contiguous(convert(dout, x.dtype()));
  Tensor dx = empty(x.shape(), x.dtype(), dev), dweight = empty(weight.shape(), weight.dtype(), dev);
  Tensor dbias = bias.defined() ? empty(bias.shape(), bias.dtype(), dev) : Tensor();
  if (x.numel() == 0) {  // the parameter gradients are sums over nothing
    fill(dweight, 0.0);
    if (dbias.defined()) fill(dbias, 0.0);
    return {dx, dweight, dbias};
  }
  const int64_t rows = in.batch * in.dim, tiles = (in.L + kConvTile - 1) / kConvTile;
  if (tiles > 65535) throw std::invalid_argument(std::string(op) + ": " + x.str() + " is too long for the CUDA grid");
  Tensor dweight_part = empty({1, in.batch * tiles, in.dim * in.W}, DType::Float32, dev);
  Tensor dbias_part = bias.defined() ? empty({1, in.batch * tiles, in.dim}, DType::Float32, dev) : Tensor();
  storage::dispatch_storage(x.dtype(), [&](auto s) {
    using S = decltype(s);
    EMRRG_LAUNCH(causal_conv1d_backward_kernel<S>, dim3(static_cast<unsigned>(rows), static_cast<unsigned>(tiles)),
                 dim3(kConvTile), 0, nullptr, ptr<const S>(in.x), ptr<const float>(in.weight),
                 ptr<const float>(in.bias), ptr<const S>(g), ptr<S>(dx), ptr<float>(dweight_part),
                 ptr<float>(dbias_part), in.dim, in.L, in.W, silu);
  });
  sum_partials(dweight_part, dweight);
  if (dbias.defined()) sum_partials(dbias_part, dbias);
  return {dx, dweight, dbias};
}

}  // namespace emrrg::cuda
