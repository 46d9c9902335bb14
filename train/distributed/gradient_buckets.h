// Gradient averaging for data parallelism: the trained parameters are grouped, last first (the
// order the backward produces their gradients), into buckets of about `bucket_bytes`; each
// bucket is one flat buffer whose all-reduce is started as soon as the backward has finished
// every gradient in it (gradient_ready, from autograd's hook), so the reduction of the last
// layers overlaps the backward of the first (on CUDA the NCCL communicator reduces on its own
// stream). Buckets start in the same order on every rank, whatever order their gradients come
// in: a bucket waits for the ones before it. Averaging over ranks of per-rank mean gradients is
// the mean over the combined batch.
#pragma once
#include <cstddef>
#include <memory>
#include <unordered_map>
#include <vector>

#include "runtime/tensor.h"
#include "train/distributed/communicator.h"

namespace emrrg::train::distributed {

class GradientBuckets {
 public:
  GradientBuckets(Communicator& comm, const std::vector<Tensor>& params, size_t bucket_bytes = size_t{25} << 20);
  // `leaf`'s gradient is final for this step: its bucket's all-reduce starts once all of the
  // bucket's gradients and every earlier bucket are ready. Tensors that are not one of the
  // parameters, and repeats, are ignored.
  void gradient_ready(const Tensor& leaf);
  // Starts the buckets not started yet, waits for all, and makes every parameter's .grad the
  // mean over ranks (a parameter without a gradient on this rank contributes zeros and gets the
  // mean too, so every rank sends the same buckets).
  void average();
  size_t bucket_count() const { return buckets_.size(); }
  // Bucket all-reduces started by gradient_ready, before average(), since construction.
  size_t started_during_backward() const { return started_during_backward_; }

 private:
  struct Bucket {
    std::vector<size_t> params;  // indices into params_
    Tensor buffer;               // [sum of their numel], the parameters' dtype
    size_t ready = 0;            // of params, this step
    std::unique_ptr<PendingCollective> pending;
  };
  void start(Bucket& b);
  Communicator& comm_;
  std::vector<Tensor> params_;
  std::vector<Bucket> buckets_;
  std::unordered_map<const TensorImpl*, size_t> param_index_;
  std::vector<size_t> bucket_of_;   // [params_.size()]
  std::vector<bool> param_ready_;   // this step
  size_t next_to_start_ = 0;
  size_t started_during_backward_ = 0;
};

}  // namespace emrrg::train::distributed
