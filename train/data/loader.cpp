#include "train/data/loader.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <stdexcept>

#include "train/data/rng.h"

namespace emrrg::data {

DataLoader::DataLoader(const ReportDataset& dataset, const LoaderConfig& config)
    : dataset_(dataset), config_(config) {
  if (config_.batch_size < 1) throw std::invalid_argument("batch_size must be at least 1, got " + std::to_string(config_.batch_size));
  if (config_.world_size < 1) throw std::invalid_argument("world_size must be at least 1, got " + std::to_string(config_.world_size));
  if (config_.rank < 0 || config_.rank >= config_.world_size)
    throw std::invalid_argument("rank " + std::to_string(config_.rank) + " is outside [0, world_size=" +
                                std::to_string(config_.world_size) + ")");
  if (config_.num_workers < 0 || config_.num_workers > 256)
    throw std::invalid_argument("num_workers must be in 0..256, got " + std::to_string(config_.num_workers));
  if (config_.prefetch < 1) config_.prefetch = 1;
}

DataLoader::~DataLoader() { stop_workers(); }

std::vector<size_t> DataLoader::epoch_indices(int64_t epoch) const {
  const size_t n = dataset_.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  if (config_.shuffle) {
    // The same permutation on every rank: it depends only on the seed and the epoch.
    Rng rng(mix_seed({config_.seed, static_cast<uint64_t>(epoch), 0x5348554646ull}));
    rng.shuffle(order);
  }
  const size_t world = static_cast<size_t>(config_.world_size);
  const size_t used = config_.even_shards ? n - n % world : n;
  std::vector<size_t> mine;
  mine.reserve(used / world + 1);
  for (size_t p = static_cast<size_t>(config_.rank); p < used; p += world) mine.push_back(order[p]);
  return mine;
}

size_t DataLoader::batches_per_epoch() const {
  const size_t n = epoch_indices(0).size();
  const size_t b = static_cast<size_t>(config_.batch_size);
  return config_.drop_last ? n / b : (n + b - 1) / b;
}

void DataLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void DataLoader::start_epoch(int64_t epoch, size_t first_batch) {
  stop_workers();
  const std::vector<size_t> order = epoch_indices(epoch);
  const size_t b = static_cast<size_t>(config_.batch_size);
  batches_.clear();
  for (size_t s = 0; s < order.size(); s += b) {
    const size_t e = std::min(order.size(), s + b);
    if (config_.drop_last && e - s < b) break;
    batches_.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(s), order.begin() + static_cast<std::ptrdiff_t>(e));
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = false;
    next_to_claim_ = std::min(first_batch, batches_.size());
    next_to_deliver_ = next_to_claim_;
    ready_.clear();
    bad_messages_.clear();
  }
  started_ = true;
  for (int w = 0; w < config_.num_workers; ++w) workers_.emplace_back([this] { worker_loop(); });
}

void DataLoader::worker_loop() {
  for (;;) {
    size_t k;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_cv_.wait(lock, [&] {
        return stopping_ || (next_to_claim_ < batches_.size() &&
                             next_to_claim_ < next_to_deliver_ + static_cast<size_t>(config_.prefetch));
      });
      if (stopping_) return;
      k = next_to_claim_++;
    }
    Result r = build(k);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ready_.emplace(k, std::move(r));
    }
    ready_cv_.notify_all();
  }
}

DataLoader::Result DataLoader::build(size_t batch_index) {
  Result r;
  try {
    const std::vector<size_t>& idx = batches_[batch_index];
    const size_t per_image = dataset_.image_floats();
    std::vector<float> pixels(idx.size() * per_image);
    std::vector<size_t> good;
    std::vector<std::string> bad;
    for (size_t j = 0; j < idx.size(); ++j) {
      try {
        dataset_.load_images(idx[j], pixels.data() + good.size() * per_image);
        good.push_back(idx[j]);
      } catch (const SampleError& e) {
        if (!dataset_.config().skip_bad) throw;
        bad.push_back(e.what());
      }
    }
    if (!bad.empty()) {
      std::lock_guard<std::mutex> lock(mutex_);
      bad_messages_.insert(bad_messages_.end(), bad.begin(), bad.end());
    }
    if (good.empty()) return r;
    const int64_t B = static_cast<int64_t>(good.size());
    const int64_t L = dataset_.max_length();
    const int64_t S = dataset_.image_size();
    Batch& batch = r.batch;
    batch.images = empty({B, dataset_.views(), 3, S, S}, DType::Float32);
    std::memcpy(batch.images.data<float>(), pixels.data(), static_cast<size_t>(B) * per_image * sizeof(float));
    batch.report_ids = empty({B, L}, DType::Int64);
    batch.report_mask = empty({B, L}, DType::Float32);
    bool all_labelled = true;
    for (int64_t j = 0; j < B; ++j) {
      const size_t i = good[static_cast<size_t>(j)];
      dataset_.report_tensors(i, batch.report_ids.data<int64_t>() + j * L, batch.report_mask.data<float>() + j * L);
      batch.ids.push_back(dataset_.id(i));
      batch.reports.push_back(dataset_.clean_text(i));
      batch.indices.push_back(i);
      all_labelled = all_labelled && dataset_.entry(i).labels.has_value();
    }
    if (all_labelled) {
      batch.labels = empty({B, 14}, DType::Int64);
      for (int64_t j = 0; j < B; ++j) {
        const auto& l = *dataset_.entry(good[static_cast<size_t>(j)]).labels;
        for (int k = 0; k < 14; ++k) batch.labels.data<int64_t>()[j * 14 + k] = l[k];
      }
    }
  } catch (...) {
    r.error = std::current_exception();
  }
  return r;
}

bool DataLoader::next(Batch& batch) {
  if (!started_) throw std::logic_error("DataLoader::next called before start_epoch");
  for (;;) {
    Result r;
    if (config_.num_workers == 0) {
      if (next_to_deliver_ >= batches_.size()) return false;
      r = build(next_to_deliver_++);
    } else {
      std::unique_lock<std::mutex> lock(mutex_);
      if (next_to_deliver_ >= batches_.size()) return false;
      ready_cv_.wait(lock, [&] { return ready_.count(next_to_deliver_) > 0; });
      auto it = ready_.find(next_to_deliver_);
      r = std::move(it->second);
      ready_.erase(it);
      ++next_to_deliver_;
      lock.unlock();
      work_cv_.notify_all();
    }
    if (r.error) std::rethrow_exception(r.error);
    if (r.batch.size() == 0) continue;  // every sample of this batch was bad (skip_bad)
    batch = std::move(r.batch);
    return true;
  }
}

size_t DataLoader::position() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return next_to_deliver_;
}

size_t DataLoader::bad_samples() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bad_messages_.size();
}

std::vector<std::string> DataLoader::bad_sample_messages() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bad_messages_;
}

}  // namespace emrrg::data
