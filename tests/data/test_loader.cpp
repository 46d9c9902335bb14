// The batch loader: shapes, determinism (seed, epoch, worker count), shards, drop_last.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "tests/data/data_test_util.h"
#include "train/data/dataset.h"
#include "train/data/loader.h"

using namespace emrrg::data;
using namespace emrrg::data::testing;

namespace {
const ReportDataset& train_set() {
  static const ReportDataset ds = [] {
    DatasetConfig c;
    c.annotation_path = demo_dir() + "/annotation.json";
    c.split = "train";
    c.image.size = 32;
    c.max_length = 40;
    return ReportDataset(c, llama2_tokenizer());
  }();
  return ds;
}

std::vector<Batch> run_epoch(DataLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<Batch> out;
  Batch b;
  while (loader.next(b)) out.push_back(b);
  return out;
}

std::vector<size_t> flat_indices(const std::vector<Batch>& batches) {
  std::vector<size_t> out;
  for (const auto& b : batches) out.insert(out.end(), b.indices.begin(), b.indices.end());
  return out;
}
}  // namespace

TEST(Loader, BatchShapesAndContents) {
  const ReportDataset& ds = train_set();
  LoaderConfig lc;
  lc.batch_size = 4;
  lc.num_workers = 2;
  DataLoader loader(ds, lc);
  const auto batches = run_epoch(loader, 0);
  ASSERT_EQ(batches.size(), 4u);  // 14 samples: 4 + 4 + 4 + 2
  EXPECT_EQ(loader.batches_per_epoch(), 4u);
  EXPECT_EQ(batches.back().size(), 2u);
  for (const auto& b : batches) {
    const int64_t B = static_cast<int64_t>(b.size());
    EXPECT_EQ(b.images.shape(), (emrrg::Shape{B, 2, 3, 32, 32}));
    EXPECT_EQ(b.images.dtype(), emrrg::DType::Float32);
    EXPECT_EQ(b.report_ids.shape(), (emrrg::Shape{B, 40}));
    EXPECT_EQ(b.report_ids.dtype(), emrrg::DType::Int64);
    EXPECT_EQ(b.report_mask.shape(), (emrrg::Shape{B, 40}));
    ASSERT_TRUE(b.labels.defined());
    EXPECT_EQ(b.labels.shape(), (emrrg::Shape{B, 14}));
    for (int64_t j = 0; j < B; ++j) {
      const size_t i = b.indices[j];
      EXPECT_EQ(b.ids[j], ds.id(i));
      EXPECT_EQ(b.reports[j], ds.clean_text(i));
      std::vector<float> px(ds.image_floats());
      ds.load_images(i, px.data());
      ASSERT_TRUE(std::equal(px.begin(), px.end(), b.images.data<float>() + j * ds.image_floats()));
      const auto& t = ds.tokens(i);
      for (int k = 0; k < 40; ++k) {
        EXPECT_EQ(b.report_ids.data<int64_t>()[j * 40 + k], k < (int)t.size() ? t[k] : 0);
        EXPECT_EQ(b.report_mask.data<float>()[j * 40 + k], k < (int)t.size() ? 1.0f : 0.0f);
      }
      for (int k = 0; k < 14; ++k) EXPECT_EQ(b.labels.data<int64_t>()[j * 14 + k], (*ds.entry(i).labels)[k]);
    }
  }
  // Every sample exactly once per epoch.
  auto idx = flat_indices(batches);
  std::sort(idx.begin(), idx.end());
  std::vector<size_t> all(14);
  std::iota(all.begin(), all.end(), size_t{0});
  EXPECT_EQ(idx, all);
}

TEST(Loader, DeterministicForSeedEpochAndAnyWorkerCount) {
  const ReportDataset& ds = train_set();
  LoaderConfig lc;
  lc.batch_size = 3;
  lc.seed = 11;
  lc.num_workers = 0;
  DataLoader sync(ds, lc);
  lc.num_workers = 3;
  lc.prefetch = 1;
  DataLoader threaded(ds, lc);
  const auto a = run_epoch(sync, 2), b = run_epoch(threaded, 2);
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].indices, b[k].indices);
    EXPECT_EQ(a[k].images.to_vector<float>(), b[k].images.to_vector<float>());
    EXPECT_EQ(a[k].report_ids.to_vector<int64_t>(), b[k].report_ids.to_vector<int64_t>());
  }
  // Same epoch again: same order; another epoch or seed: another order.
  EXPECT_EQ(flat_indices(run_epoch(sync, 2)), flat_indices(a));
  EXPECT_NE(flat_indices(run_epoch(sync, 3)), flat_indices(a));
  lc.seed = 12;
  DataLoader other(ds, lc);
  EXPECT_NE(flat_indices(run_epoch(other, 2)), flat_indices(a));
  EXPECT_EQ(sync.epoch_indices(2), flat_indices(a));
  // No shuffling: dataset order.
  lc.shuffle = false;
  DataLoader plain(ds, lc);
  std::vector<size_t> all(14);
  std::iota(all.begin(), all.end(), size_t{0});
  EXPECT_EQ(flat_indices(run_epoch(plain, 5)), all);
}

TEST(Loader, ShardsAreDisjoint) {
  const ReportDataset& ds = train_set();
  for (bool even : {true, false}) {
    std::vector<size_t> seen;
    size_t smallest = 100, largest = 0;
    for (int rank = 0; rank < 3; ++rank) {
      LoaderConfig lc;
      lc.world_size = 3;
      lc.rank = rank;
      lc.even_shards = even;
      lc.seed = 4;
      DataLoader loader(ds, lc);
      const auto mine = loader.epoch_indices(7);
      smallest = std::min(smallest, mine.size());
      largest = std::max(largest, mine.size());
      seen.insert(seen.end(), mine.begin(), mine.end());
    }
    std::set<size_t> unique(seen.begin(), seen.end());
    EXPECT_EQ(unique.size(), seen.size()) << "shards overlap";
    if (even) {
      EXPECT_EQ(seen.size(), 12u);  // 14 - 14 % 3
      EXPECT_EQ(smallest, largest);
    } else {
      EXPECT_EQ(seen.size(), 14u);
      EXPECT_LE(largest - smallest, 1u);
    }
  }
  LoaderConfig bad;
  bad.world_size = 2;
  bad.rank = 2;
  EXPECT_THROW(DataLoader(ds, bad), std::invalid_argument);
}

TEST(Loader, DropLast) {
  const ReportDataset& ds = train_set();
  LoaderConfig lc;
  lc.batch_size = 4;
  lc.drop_last = true;
  DataLoader loader(ds, lc);
  const auto batches = run_epoch(loader, 0);
  EXPECT_EQ(batches.size(), 3u);
  EXPECT_EQ(loader.batches_per_epoch(), 3u);
  for (const auto& b : batches) EXPECT_EQ(b.size(), 4u);
}

TEST(Loader, StopsCleanlyMidEpoch) {
  const ReportDataset& ds = train_set();
  LoaderConfig lc;
  lc.batch_size = 1;
  lc.num_workers = 2;
  lc.prefetch = 2;
  for (int k = 0; k < 3; ++k) {
    DataLoader loader(ds, lc);
    loader.start_epoch(0);
    Batch b;
    ASSERT_TRUE(loader.next(b));
    loader.start_epoch(1);  // restart while workers are busy
    ASSERT_TRUE(loader.next(b));
  }  // destroyed with batches pending
  DataLoader unstarted(ds, lc);
  Batch b;
  EXPECT_THROW(unstarted.next(b), std::logic_error);
}

TEST(Loader, StartingAtABatchGivesTheRestOfTheEpoch) {
  const ReportDataset& ds = train_set();
  for (int workers : {0, 2}) {
    LoaderConfig lc;
    lc.batch_size = 4;
    lc.num_workers = workers;
    DataLoader loader(ds, lc);
    const std::vector<size_t> whole = flat_indices(run_epoch(loader, 3));
    EXPECT_EQ(loader.position(), 4u);
    loader.start_epoch(3, 2);  // a resumed run that trained on batches 0 and 1
    EXPECT_EQ(loader.position(), 2u);
    std::vector<Batch> rest;
    Batch b;
    while (loader.next(b)) rest.push_back(b);
    EXPECT_EQ(flat_indices(rest), std::vector<size_t>(whole.begin() + 8, whole.end())) << workers << " workers";
    EXPECT_EQ(loader.position(), 4u);
    loader.start_epoch(3, 9);  // past the end: an empty epoch
    EXPECT_FALSE(loader.next(b));
  }
}
