#include "nn/mamba_block.h"

#include "ops/elementwise.h"
#include "ops/shape.h"
#include "runtime/profiler.h"

namespace emrrg::nn {

MambaBlock::MambaBlock(const MambaMixerConfig& mixer_config, double norm_eps, Generator& gen)
    : norm(register_module("norm", std::make_shared<RMSNorm>(mixer_config.d_model, norm_eps, mixer_config.dtype))),
      mixer(register_module("mixer", std::make_shared<MambaMixer>(mixer_config, gen))) {}

Tensor MambaBlock::forward(const Tensor& h) const {
  const profiler::Range layer("MambaBlock", "layer");
  return h + cast(mixer->forward(norm->forward(cast(h, norm->weight.dtype()))), DType::Float32);
}

}  // namespace emrrg::nn
