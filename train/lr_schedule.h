// The learning rate of each optimiser step: linear warm-up from lr / warmup_steps to lr, then a
// half cosine from lr down to lr_min at the last step (NOTES §8: 1e-4 to 1e-6). With per_epoch the
// cosine moves once per epoch, as R2GenGPT's CosineAnnealingLR(T_max = epochs) stepped by
// Lightning at each epoch end does; warm-up stays per step.
#pragma once
#include <cstdint>

namespace emrrg::train {

struct LrSchedule {
  double lr = 1e-4;
  double lr_min = 1e-6;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;  // optimiser steps of the whole run
  bool per_epoch = false;
  int64_t epochs = 1;  // used when per_epoch
};

// `step` counts optimiser steps taken before this one (0 for the first), `epoch` is 0-based.
double learning_rate(const LrSchedule& schedule, int64_t step, int64_t epoch);

}  // namespace emrrg::train
