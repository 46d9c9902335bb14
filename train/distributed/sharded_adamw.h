// ZeRO stage 1: AdamW's moments sharded over the ranks. The trained parameters, in the
// trainer's order, are laid end to end as one flat vector of N elements, cut into world_size
// equal shards of ceil(N / world_size); rank r keeps the moments of shard r only and updates
// those elements (the same AdamW arithmetic, element by element, as the unsharded optimiser),
// then the updated shards are all-gathered so every rank holds every parameter again. The
// gradients are averaged in full before (GradientBuckets), so clipping sees the same norm.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "train/distributed/communicator.h"
#include "train/optimizer.h"
#include "train/trainable.h"

namespace emrrg::train::distributed {

class ShardedAdamW {
 public:
  // Every parameter contiguous and of one dtype.
  ShardedAdamW(Communicator& comm, const std::vector<TrainedParameter>& params, const AdamWOptions& options);
  // One AdamW step at `lr` on this rank's shard, then the all-gather of the parameters.
  void step(double lr);
  int64_t steps() const { return optimizer_->steps(); }
  // The full moments, one tensor per parameter shaped like it (a collective: every rank calls).
  void gather_moments(std::vector<Tensor>& exp_avg, std::vector<Tensor>& exp_avg_sq);
  // Takes this rank's shard of full per-parameter moments (a checkpoint's).
  void load_moments(const std::vector<Tensor>& exp_avg, const std::vector<Tensor>& exp_avg_sq, int64_t steps);
  int64_t shard_size() const { return shard_; }

 private:
  struct Piece {
    size_t param;         // index into params_
    int64_t begin;        // first element of the parameter in this shard
    int64_t length;
    int64_t shard_offset; // where it sits in the shard
  };
  // The flat [world * shard] vector whose shard r is rank r's `piece_values` (one per piece).
  Tensor gather_flat(const std::vector<Tensor>& piece_values, DType dtype);

  Communicator& comm_;
  std::vector<Tensor> params_;
  std::vector<int64_t> offsets_;  // of each parameter in the flat vector
  std::vector<Piece> pieces_;  // in the optimiser's order: decayed, then the others
  std::vector<Tensor> piece_views_;
  std::unique_ptr<AdamW> optimizer_;
  int64_t shard_ = 0;
};

}  // namespace emrrg::train::distributed
