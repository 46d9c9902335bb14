// Gradient-norm clipping as torch.nn.utils.clip_grad_norm_: the L2 norm over all gradients
// together; when it exceeds max_norm every gradient is scaled by max_norm / (norm + 1e-6).
#pragma once
#include <vector>

#include "runtime/tensor.h"

namespace emrrg::train {

// Returns the norm before clipping; max_norm <= 0 only measures it. Parameters without a
// gradient are skipped.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

}  // namespace emrrg::train
