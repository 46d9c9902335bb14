#include "train/distributed/gradient_buckets.h"

#include <algorithm>
#include <memory>

#include "train/distributed/pending_collective.h"

namespace emrrg::train::distributed {

namespace {

// The flat [n] view of `buffer` at `offset` elements.
Tensor flat_slice(const Tensor& buffer, int64_t offset, int64_t n) { return make_view(buffer, {n}, {1}, buffer.offset() + offset); }

Tensor flat(const Tensor& t) { return make_view(t, {t.numel()}, {1}, t.offset()); }

}  // namespace

GradientBuckets::GradientBuckets(Communicator& comm, const std::vector<Tensor>& params, size_t bucket_bytes)
    : comm_(comm), params_(params), bucket_of_(params.size()), param_ready_(params.size(), false) {
  for (size_t k = 0; k < params_.size(); ++k) param_index_.emplace(params_[k].impl(), k);
  std::vector<size_t> current;
  size_t bytes = 0;
  const auto close = [&] {
    if (current.empty()) return;
    int64_t n = 0;
    for (size_t k : current) n += params_[k].numel();
    const Tensor& first = params_[current.front()];
    for (size_t k : current) bucket_of_[k] = buckets_.size();
    buckets_.push_back({current, zeros({n}, first.dtype(), first.device()), 0, nullptr});
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

void GradientBuckets::start(Bucket& b) {
  int64_t offset = 0;
  for (size_t k : b.params) {
    const Tensor& p = params_[k];
    const Tensor slot = flat_slice(b.buffer, offset, p.numel());
    if (p.grad().defined()) copy_into(slot, flat(to_contiguous(p.grad())));
    else fill(slot, 0.0);
    offset += p.numel();
  }
  b.pending = comm_.all_reduce_async(b.buffer, ReduceOp::Mean);
}

void GradientBuckets::gradient_ready(const Tensor& leaf) {
  const auto it = param_index_.find(leaf.impl());
  if (it == param_index_.end() || param_ready_[it->second]) return;
  param_ready_[it->second] = true;
  ++buckets_[bucket_of_[it->second]].ready;
  while (next_to_start_ < buckets_.size() && buckets_[next_to_start_].ready == buckets_[next_to_start_].params.size()) {
    start(buckets_[next_to_start_++]);
    ++started_during_backward_;
  }
}

void GradientBuckets::average() {
  for (; next_to_start_ < buckets_.size(); ++next_to_start_) start(buckets_[next_to_start_]);
  for (Bucket& b : buckets_) {
    b.pending->wait();
    b.pending.reset();
    int64_t offset = 0;
    for (size_t k : b.params) {
      const Tensor& p = params_[k];
      const Tensor mean = make_view(b.buffer, p.shape(), contiguous_strides(p.shape()), b.buffer.offset() + offset);
      if (p.grad().defined() && p.grad().is_contiguous()) copy_into(p.grad(), mean);
      else Tensor(p).set_grad(to_contiguous(mean));
      offset += p.numel();
    }
    b.ready = 0;
  }
  std::fill(param_ready_.begin(), param_ready_.end(), false);
  next_to_start_ = 0;
}

}  // namespace emrrg::train::distributed
