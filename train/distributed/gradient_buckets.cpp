#include "train/distributed/gradient_buckets.h"

#include <memory>

#include "train/distributed/pending_collective.h"

namespace emrrg::train::distributed {

namespace {

// The flat [n] view of `buffer` at `offset` elements.
Tensor flat_slice(const Tensor& buffer, int64_t offset, int64_t n) { return make_view(buffer, {n}, {1}, buffer.offset() + offset); }

Tensor flat(const Tensor& t) { return make_view(t, {t.numel()}, {1}, t.offset()); }

}  // namespace

GradientBuckets::GradientBuckets(Communicator& comm, const std::vector<Tensor>& params, size_t bucket_bytes)
    : comm_(comm), params_(params) {
  std::vector<size_t> current;
  size_t bytes = 0;
  const auto close = [&] {
    if (current.empty()) return;
    int64_t n = 0;
    for (size_t k : current) n += params_[k].numel();
    const Tensor& first = params_[current.front()];
    buckets_.push_back({current, zeros({n}, first.dtype(), first.device())});
    current.clear();
    bytes = 0;
  };
  for (size_t k = params_.size(); k-- > 0;) {
    const Tensor& p = params_[k];
    if (!current.empty() && (p.dtype() != params_[current.front()].dtype() || p.device() != params_[current.front()].device())) close();
    current.push_back(k);
    bytes += static_cast<size_t>(p.numel()) * p.element_size();
    if (bytes >= bucket_bytes) close();
  }
  close();
}

void GradientBuckets::average() {
  std::vector<std::unique_ptr<PendingCollective>> pending;
  for (Bucket& b : buckets_) {
    int64_t offset = 0;
    for (size_t k : b.params) {
      const Tensor& p = params_[k];
      const Tensor slot = flat_slice(b.buffer, offset, p.numel());
      if (p.grad().defined()) copy_into(slot, flat(to_contiguous(p.grad())));
      else fill(slot, 0.0);
      offset += p.numel();
    }
    pending.push_back(comm_.all_reduce_async(b.buffer, ReduceOp::Mean));
  }
  for (size_t i = 0; i < buckets_.size(); ++i) {
    pending[i]->wait();
    int64_t offset = 0;
    for (size_t k : buckets_[i].params) {
      const Tensor& p = params_[k];
      const Tensor mean = make_view(buckets_[i].buffer, p.shape(), contiguous_strides(p.shape()), buckets_[i].buffer.offset() + offset);
      if (p.grad().defined() && p.grad().is_contiguous()) copy_into(p.grad(), mean);
      else Tensor(p).set_grad(to_contiguous(mean));
      offset += p.numel();
    }
  }
}

}  // namespace emrrg::train::distributed
