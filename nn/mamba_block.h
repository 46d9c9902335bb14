// Mamba's residual block as mamba_ssm, Vim and Hugging Face build it: h + mixer(RMSNorm(h)), the
// residual stream h kept in float32 whatever the parameters' dtype (residual_in_fp32).
// Parameter names: norm.weight, mixer.* (nn/mamba_mixer.h).
#pragma once
#include <memory>

#include "nn/layers.h"
#include "nn/mamba_mixer.h"

namespace emrrg::nn {

class MambaBlock : public Module {
 public:
  MambaBlock(const MambaMixerConfig& mixer, double norm_eps, Generator& gen = default_generator());
  // h [B, L, d_model] float32 -> h + mixer(norm(h in the parameters' dtype)), float32.
  Tensor forward(const Tensor& h) const;
  std::shared_ptr<RMSNorm> norm;
  std::shared_ptr<MambaMixer> mixer;
};

}  // namespace emrrg::nn
