// The batch loader: deterministic per-epoch order (shuffled from the seed and the epoch),
// sharded by rank and world size, with worker threads that decode and resize the images of the
// next batches while the caller trains (a bounded prefetch queue). Batches come out in the
// same order and with the same contents whatever the number of workers.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/tensor.h"
#include "train/data/dataset.h"

namespace emrrg::data {

struct Batch {
  Tensor images;       // float32 [B, views, 3, size, size]
  Tensor report_ids;   // int64 [B, max_length]: report tokens, EOS, then pad id
  Tensor report_mask;  // float32 [B, max_length]: 1 on report tokens (EOS included), 0 on padding
  Tensor labels;       // int64 [B, 14] when every sample has CheXpert labels, else undefined
  std::vector<std::string> ids;
  std::vector<std::string> reports;  // cleaned reference text
  std::vector<size_t> indices;       // dataset indices
  size_t size() const { return ids.size(); }
};

struct LoaderConfig {
  int batch_size = 4;
  bool shuffle = true;
  uint64_t seed = 42;
  int rank = 0;
  int world_size = 1;
  // Cut every rank's shard to the same length (floor(N / world_size)), as data-parallel
  // training needs; false gives ranks shards differing by at most one sample. Shards never
  // overlap either way.
  bool even_shards = true;
  bool drop_last = false;  // drop a final batch smaller than batch_size
  int num_workers = 2;     // 0: decode in next() on the calling thread
  int prefetch = 4;        // batches decoded ahead of the consumer
};

class DataLoader {
 public:
  DataLoader(const ReportDataset& dataset, const LoaderConfig& config);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // The dataset indices this rank visits in `epoch`, in order.
  std::vector<size_t> epoch_indices(int64_t epoch) const;
  size_t batches_per_epoch() const;

  // Starts (or restarts) an epoch at batch `first_batch` (a resumed run skips the batches it
  // trained on without decoding them); workers begin decoding at once. Call before next().
  void start_epoch(int64_t epoch, size_t first_batch = 0);
  // The next batch of the current epoch; false when the epoch is over. A bad sample throws
  // SampleError here (skip_bad off) or is dropped from its batch and counted (skip_bad on; a
  // batch whose samples are all bad is skipped).
  bool next(Batch& batch);
  // Batches of the current epoch delivered or skipped so far: where a resumed run starts.
  size_t position() const;

  // Bad samples skipped so far in the current epoch (skip_bad), and their messages.
  size_t bad_samples() const;
  std::vector<std::string> bad_sample_messages() const;

 private:
  struct Result {
    Batch batch;
    std::exception_ptr error;
  };
  Result build(size_t batch_index);
  void stop_workers();
  void worker_loop();

  const ReportDataset& dataset_;
  LoaderConfig config_;
  std::vector<std::vector<size_t>> batches_;  // current epoch
  bool started_ = false;

  mutable std::mutex mutex_;
  std::condition_variable work_cv_, ready_cv_;
  std::vector<std::thread> workers_;
  bool stopping_ = false;
  size_t next_to_claim_ = 0;
  size_t next_to_deliver_ = 0;
  std::map<size_t, Result> ready_;
  std::vector<std::string> bad_messages_;
};

}  // namespace emrrg::data
