// The spiral points of trainer_test_util.h, sharded over ranks as the DataLoader shards: in
// each epoch's shuffled order rank r takes positions r, r + world, ... (the order cut to a
// multiple of world), in batches of `batch`. In reference mode one source delivers every
// rank's batch s in rank order before any batch s + 1: with grad_accum = world, one process
// sees per step exactly the samples the ranks of a data-parallel step see together.
#pragma once
#include <string>
#include <vector>

#include "tests/train/trainer_test_util.h"

namespace emrrg::testing {

class ShardedSpiral : public train::BatchSource {
 public:
  ShardedSpiral(int64_t n, size_t batch, uint64_t seed, int rank, int world, bool reference = false)
      : singles_(n, 1, seed), n_(static_cast<size_t>(n)), batch_(batch), rank_(static_cast<size_t>(rank)), world_(static_cast<size_t>(world)), reference_(reference) {}

  size_t per_rank_batches() const { return (n_ / world_ + batch_ - 1) / batch_; }
  size_t batches_per_epoch() const override { return reference_ ? per_rank_batches() * world_ : per_rank_batches(); }
  void start_epoch(int64_t epoch, size_t first_batch) override {
    singles_.start_epoch(epoch, 0);
    samples_.clear();
    data::Batch one;
    while (singles_.next(one)) samples_.push_back(one);
    position_ = first_batch;
  }
  bool next(data::Batch& b) override {
    if (position_ >= batches_per_epoch()) return false;
    const size_t rank = reference_ ? position_ % world_ : static_cast<size_t>(rank_);
    const size_t s = reference_ ? position_ / world_ : position_;
    const size_t per_rank = n_ / world_;
    std::vector<float> x;
    std::vector<int64_t> y;
    b = data::Batch();
    for (size_t i = s * batch_; i < std::min(per_rank, (s + 1) * batch_); ++i) {
      const data::Batch& one = samples_[i * world_ + rank];
      for (float v : one.images.to_vector<float>()) x.push_back(v);
      y.push_back(one.labels.to_vector<int64_t>()[0]);
      b.ids.push_back(one.ids[0]);
      b.indices.push_back(one.indices[0]);
    }
    const auto rows = static_cast<int64_t>(y.size());
    b.images = from_vector(x, {rows, 2});
    b.labels = from_vector(y, {rows});
    ++position_;
    return true;
  }
  size_t position() const override { return position_; }

 private:
  SpiralSource singles_;
  size_t n_, batch_;
  size_t rank_, world_;
  bool reference_;
  std::vector<data::Batch> samples_;
  size_t position_ = 0;
};

}  // namespace emrrg::testing
