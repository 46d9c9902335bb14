// One fused AdamW step per parameter: decoupled weight decay, both moments, bias correction
// and the update in one pass over (param, grad, m, v). The arithmetic is the CPU's expression
// for expression (train/optimizer.cpp), so results agree to float32 rounding (nvcc may fuse a
// multiply-add where the host compiler rounds twice).
#include "cuda/kernels/adamw.h"

#include "cuda/kernels/storage.h"

namespace emrrg::cuda {

namespace {

using storage::kBlock;
using storage::load;
using storage::ptr;
using storage::to_storage;

// p, g: [n] in their storage types P, G; m, v: [n] float32.
template <typename P, typename G>
__global__ void adamw_step_kernel(P* p, const G* g, float* m, float* v, int64_t n, DeviceKernels::AdamWScalars s) {
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const float gi = load(g + i);
    float pi = load(p + i) * s.decay;
    const float mi = s.beta1 * m[i] + s.one_minus_beta1 * gi;
    const float vi = s.beta2 * v[i] + s.one_minus_beta2 * gi * gi;
    const float denom = sqrtf(vi) / s.bias_correction2_sqrt + s.eps;
    pi -= s.step_size * mi / denom;
    m[i] = mi;
    v[i] = vi;
    p[i] = to_storage<P>(pi);
  }
}

}  // namespace

void adamw_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                const DeviceKernels::AdamWScalars& s) {
  storage::check_cuda_floating("AdamW", param);
  storage::check_cuda_floating("AdamW", grad);
  const int64_t n = param.numel();
  if (!param.is_contiguous()) throw std::invalid_argument("AdamW: parameter " + param.str() + " is not contiguous");
  if (grad.shape() != param.shape())
    throw std::invalid_argument("AdamW: gradient " + grad.str() + " does not match parameter " + param.str());
  for (const Tensor* state : {&m, &v})
    if (state->dtype() != DType::Float32 || !state->is_contiguous() || state->numel() != n ||
        state->device() != param.device())
      throw std::invalid_argument("AdamW: state " + state->str() + " must be contiguous float32 like " + param.str());
  if (n == 0) return;
  // A gradient in the parameter's dtype is read as is; any other goes to float32, which holds
  // every bfloat16/float16 value exactly, as the CPU's float32 working copy does.
  const bool same = grad.dtype() == param.dtype();
  Tensor gc = to_contiguous(same ? grad : convert(grad, DType::Float32));
  storage::dispatch_storage(param.dtype(), [&](auto ptag) {
    using P = decltype(ptag);
    auto launch = [&](auto gtag) {
      using G = decltype(gtag);
      EMRRG_LAUNCH((adamw_step_kernel<P, G>), dim3(storage::grid_for(n)), dim3(kBlock), 0, nullptr, ptr<P>(param),
                   ptr<G>(gc), ptr<float>(m), ptr<float>(v), n, s);
    };
    if (same) launch(P{});
    else launch(float{});
  });
}

}  // namespace emrrg::cuda
