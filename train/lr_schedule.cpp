#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace emrrg::train {

double learning_rate(const LrSchedule& s, int64_t step, int64_t epoch) {
  if (step < s.warmup_steps) return s.lr * static_cast<double>(step + 1) / static_cast<double>(s.warmup_steps);
  double progress;
  if (s.per_epoch) {
    progress = s.epochs > 0 ? static_cast<double>(epoch) / static_cast<double>(s.epochs) : 1.0;
  } else {
    // The first step after warm-up runs at lr, the last one at lr_min.
    const int64_t span = s.total_steps - s.warmup_steps - 1;
    progress = span > 0 ? static_cast<double>(step - s.warmup_steps) / static_cast<double>(span) : 1.0;
  }
  progress = std::clamp(progress, 0.0, 1.0);
  return s.lr_min + 0.5 * (s.lr - s.lr_min) * (1.0 + std::cos(std::numbers::pi * progress));
}

}  // namespace emrrg::train
