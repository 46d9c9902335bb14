// Gradient averaging for data parallelism: the trained parameters are grouped, last first (the
// order the backward produces their gradients), into buckets of about `bucket_bytes`; each
// bucket is one flat buffer whose all-reduce is started as soon as it is packed, so the
// reduction of one bucket overlaps the packing of the next (and, on CUDA, compute: the NCCL
// communicator reduces on its own stream). Averaging over ranks of per-rank mean gradients is
// the mean over the combined batch.
#pragma once
#include <cstddef>
#include <vector>

#include "runtime/tensor.h"
#include "train/distributed/communicator.h"

namespace emrrg::train::distributed {

class GradientBuckets {
 public:
  GradientBuckets(Communicator& comm, const std::vector<Tensor>& params, size_t bucket_bytes = size_t{25} << 20);
  // Every parameter's .grad becomes the mean over ranks (a parameter without a gradient on this
  // rank contributes zeros and gets the mean too, so every rank sends the same buckets).
  void average();
  size_t bucket_count() const { return buckets_.size(); }

 private:
  struct Bucket {
    std::vector<size_t> params;  // indices into params_
    Tensor buffer;               // [sum of their numel], the parameters' dtype
  };
  Communicator& comm_;
  std::vector<Tensor> params_;
  std::vector<Bucket> buckets_;
};

}  // namespace emrrg::train::distributed
