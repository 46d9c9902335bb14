#include "train/distributed/sharded_adamw.h"

#include <algorithm>
#include <stdexcept>

namespace emrrg::train::distributed {

namespace {

Tensor flat_range(const Tensor& t, int64_t begin, int64_t n) { return make_view(t, {n}, {1}, t.offset() + begin); }

}  // namespace

ShardedAdamW::ShardedAdamW(Communicator& comm, const std::vector<TrainedParameter>& params, const AdamWOptions& options)
    : comm_(comm) {
  int64_t total = 0;
  for (const TrainedParameter& p : params) {
    if (!p.tensor.is_contiguous() || p.tensor.dtype() != params.front().tensor.dtype())
      throw std::invalid_argument("zero 1: trained parameter '" + p.name + "' (" + p.tensor.str() +
                                  ") must be contiguous and of the others' dtype");
    params_.push_back(p.tensor);
    offsets_.push_back(total);
    total += p.tensor.numel();
  }
  const int64_t world = comm_.world_size();
  shard_ = (total + world - 1) / world;
  const int64_t lo = shard_ * comm_.rank(), hi = std::min(total, lo + shard_);
  std::vector<Tensor> decayed, plain;
  for (const bool decay : {true, false})
    for (size_t k = 0; k < params.size(); ++k) {
      if (params[k].weight_decay != decay) continue;
      const int64_t b = std::max(lo, offsets_[k]), e = std::min(hi, offsets_[k] + params_[k].numel());
      if (b >= e) continue;
      pieces_.push_back({k, b - offsets_[k], e - b, b - lo});
      piece_views_.push_back(flat_range(params_[k], b - offsets_[k], e - b));
      (decay ? decayed : plain).push_back(piece_views_.back());
    }
  optimizer_ = std::make_unique<AdamW>(decayed, options);
  if (!plain.empty()) optimizer_->add_param_group(plain, 0.0);
}

void ShardedAdamW::step(double lr) {
  for (size_t i = 0; i < pieces_.size(); ++i) {
    const Tensor& p = params_[pieces_[i].param];
    const Tensor g = p.grad();
    piece_views_[i].set_grad(g.defined() ? flat_range(to_contiguous(g), pieces_[i].begin, pieces_[i].length) : Tensor());
  }
  optimizer_->set_lr(lr);
  optimizer_->step();
  for (Tensor& v : piece_views_) v.set_grad(Tensor());
  const Tensor all = gather_flat(piece_views_, params_.front().dtype());
  for (size_t k = 0; k < params_.size(); ++k) copy_into(flat_range(params_[k], 0, params_[k].numel()), flat_range(all, offsets_[k], params_[k].numel()));
}

Tensor ShardedAdamW::gather_flat(const std::vector<Tensor>& piece_values, DType dtype) {
  const Device device = params_.front().device();
  const Tensor send = zeros({shard_}, dtype, device);
  for (size_t i = 0; i < pieces_.size(); ++i) copy_into(flat_range(send, pieces_[i].shard_offset, pieces_[i].length), piece_values[i]);
  Tensor all = empty({shard_ * comm_.world_size()}, dtype, device);
  comm_.all_gather(send, all);
  return all;
}

void ShardedAdamW::gather_moments(std::vector<Tensor>& exp_avg, std::vector<Tensor>& exp_avg_sq) {
  const DType dtype = optimizer_->exp_avg().empty() ? (params_.front().dtype() == DType::Float64 ? DType::Float64 : DType::Float32)
                                                    : optimizer_->exp_avg().front().dtype();
  for (auto [source, out] : {std::pair{&optimizer_->exp_avg(), &exp_avg}, std::pair{&optimizer_->exp_avg_sq(), &exp_avg_sq}}) {
    const Tensor all = gather_flat(*source, dtype);
    out->clear();
    for (size_t k = 0; k < params_.size(); ++k)
      out->push_back(to_contiguous(make_view(all, params_[k].shape(), contiguous_strides(params_[k].shape()), offsets_[k])));
  }
}

void ShardedAdamW::load_moments(const std::vector<Tensor>& exp_avg, const std::vector<Tensor>& exp_avg_sq, int64_t steps) {
  for (size_t i = 0; i < pieces_.size(); ++i) {
    const Piece& piece = pieces_[i];
    copy_into(optimizer_->exp_avg()[i], flat_range(to_contiguous(exp_avg[piece.param]), piece.begin, piece.length));
    copy_into(optimizer_->exp_avg_sq()[i], flat_range(to_contiguous(exp_avg_sq[piece.param]), piece.begin, piece.length));
  }
  optimizer_->set_steps(steps);
}

}  // namespace emrrg::train::distributed
