// The MPI communicator's collectives on known values, and the config agreement check.
#include <gtest/gtest.h>

#include <stdexcept>

#include "tests/distributed/mpi_test_env.h"
#include <unistd.h>

#include <filesystem>

#include "autograd/tape.h"
#include "ops/ops.h"
#include "train/distributed/config_agreement.h"
#include "train/distributed/file_rendezvous.h"
#include "train/distributed/gradient_buckets.h"

namespace emrrg::testing {
namespace {

using train::distributed::ReduceOp;

// Rank r's vector: r * 10 + i, i < n.
Tensor rank_values(int64_t n, DType dtype = DType::Float32) {
  std::vector<float> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(static_cast<float>(g_comm->rank() * 10 + i));
  return convert(from_vector(v, {n}), dtype);
}

TEST(MpiCollectives, AllReduceSumAndMeanFloat32AndBfloat16) {
  const int w = g_comm->world_size();
  ASSERT_GE(w, 2) << "run under mpirun -np 2";
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Mean}) {
      Tensor t = rank_values(5, dtype);
      g_comm->all_reduce(t, op);
      EXPECT_EQ(t.dtype(), dtype);
      const std::vector<float> got = t.to_vector<float>();
      for (int64_t i = 0; i < 5; ++i) {
        double sum = 0;
        for (int r = 0; r < w; ++r) sum += r * 10 + static_cast<double>(i);
        EXPECT_EQ(got[static_cast<size_t>(i)], op == ReduceOp::Sum ? sum : sum / w) << dtype_name(dtype) << " element " << i;
      }
    }
  }
}

TEST(MpiCollectives, ReduceScatterAllGatherBroadcast) {
  const int w = g_comm->world_size(), r = g_comm->rank();
  Tensor in = rank_values(3 * w);
  Tensor out = zeros({3});
  g_comm->reduce_scatter(in, out, ReduceOp::Sum);
  for (int64_t i = 0; i < 3; ++i) {
    double sum = 0;
    for (int q = 0; q < w; ++q) sum += q * 10 + static_cast<double>(r * 3 + i);
    EXPECT_EQ(out.to_vector<float>()[static_cast<size_t>(i)], sum);
  }
  Tensor gathered = zeros({2 * w}, DType::Int64);
  g_comm->all_gather(from_vector(std::vector<int64_t>{r, 100 + r}, {2}), gathered);
  for (int q = 0; q < w; ++q) {
    EXPECT_EQ(gathered.to_vector<int64_t>()[static_cast<size_t>(2 * q)], q);
    EXPECT_EQ(gathered.to_vector<int64_t>()[static_cast<size_t>(2 * q + 1)], 100 + q);
  }
  Tensor b = rank_values(4, DType::BFloat16);
  g_comm->broadcast(b, 1);
  EXPECT_EQ(b.to_vector<float>(), (std::vector<float>{10, 11, 12, 13}));
}

TEST(MpiCollectives, MisshapedBuffersAreRefusedNamingThem) {
  Tensor out = zeros({2});
  try {
    g_comm->all_gather(zeros({3}), out);
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("all_gather"), std::string::npos) << e.what();
  }
}

TEST(ConfigAgreement, SameConfigPassesAndADifferentOneStopsEveryRank) {
  EXPECT_NO_THROW(train::distributed::check_same_config(*g_comm, "[train]\nlr = 0.001\n"));
  const std::string mine = g_comm->rank() == 1 ? "[train]\nlr = 0.002\n" : "[train]\nlr = 0.001\n";
  try {
    train::distributed::check_same_config(*g_comm, mine);
    FAIL() << "no error on rank " << g_comm->rank();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("rank(s) 1 differs from rank 0"), std::string::npos) << e.what();
  }
}

TEST(FileRendezvous, RankZerosIdReachesEveryRankAndAStaleFileIsRefused) {
  Tensor pid = from_vector(std::vector<int64_t>{::getpid()}, {1});
  g_comm->broadcast(pid, 0);
  const std::string path = (std::filesystem::temp_directory_path() / ("emrrg_ncclid_" + std::to_string(pid.item()))).string();
  EXPECT_EQ(train::distributed::parse_dist_init("file:" + path), path);
  EXPECT_THROW(train::distributed::parse_dist_init("tcp://host:1234"), std::invalid_argument);
  const std::string rank0_id("\x01\x00" "abcdefghijklmn", 16);  // binary, with a NUL
  const std::string id = g_comm->rank() == 0 ? rank0_id : std::string(16, 'x');
  EXPECT_EQ(train::distributed::exchange_through_file(path, g_comm->rank(), id, 16, 10), rank0_id);
  g_comm->barrier();
  if (g_comm->rank() == 0) {
    EXPECT_THROW(train::distributed::exchange_through_file(path, 0, id, 16, 10), std::runtime_error);  // left from this "job"
    std::filesystem::remove(path);
  }
  g_comm->barrier();
}

// A chain of three weights, one bucket each (4-byte buckets): the backward finishes w3's
// gradient first, so its bucket's all-reduce starts while w2's and w1's are still being
// computed; average() then gives every rank the mean of the ranks' gradients.
TEST(GradientBuckets, AllReducesStartDuringTheBackwardAndAverageOverRanks) {
  const double scale = g_comm->rank() + 1.0;  // rank r's gradients are (r + 1) times rank 0's
  std::vector<Tensor> w;
  for (int i = 0; i < 3; ++i) {
    w.push_back(from_vector<float>({0.5f + 0.25f * static_cast<float>(i), -1.0f}, {2}));
    w.back().set_requires_grad();
  }
  train::distributed::GradientBuckets buckets(*g_comm, w, 4);
  ASSERT_EQ(buckets.bucket_count(), 3u);
  std::vector<size_t> started_when_ready;  // buckets started, after each ready gradient
  Tensor h = from_vector<float>({1.0f, 2.0f}, {2});
  for (const Tensor& wi : w) h = tanh(mul(h, wi));
  autograd::backward(mul(sum(h), scale), Tensor(), [&](const Tensor& leaf) {
    buckets.gradient_ready(leaf);
    started_when_ready.push_back(buckets.started_during_backward());
  });
  // w3 is ready first and its bucket starts at once; w1's last.
  EXPECT_EQ(started_when_ready, (std::vector<size_t>{1, 2, 3}));
  std::vector<std::vector<float>> unscaled;
  for (const Tensor& wi : w) {
    std::vector<float> g = wi.grad().to_vector<float>();
    for (float& x : g) x = static_cast<float>(x / scale);
    unscaled.push_back(g);
  }
  buckets.average();
  double mean_scale = 0;
  for (int r = 0; r < g_comm->world_size(); ++r) mean_scale += (r + 1.0) / g_comm->world_size();
  for (size_t i = 0; i < w.size(); ++i) {
    const std::vector<float> got = w[i].grad().to_vector<float>();
    for (size_t j = 0; j < got.size(); ++j) EXPECT_NEAR(got[j], unscaled[i][j] * mean_scale, 1e-6) << "w" << i + 1 << "[" << j << "]";
  }
  // The next step's backward starts afresh: all buckets start during it again.
  buckets.average();
  EXPECT_EQ(buckets.started_during_backward(), 3u);
}

}  // namespace
}  // namespace emrrg::testing
