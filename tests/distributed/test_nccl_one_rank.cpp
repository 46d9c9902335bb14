// The NCCL communicator on one GPU (label gpu, tests/gpu/run.sh): one rank bootstrapped through
// --dist-init's file, its collectives on device tensors (one rank: every result is its input),
// gradient averaging that leaves the gradients bit for bit, and ZeRO-1's sharded AdamW matching
// the plain AdamW on the device bit for bit: a one-rank NCCL run is the non-distributed run.
#include <gtest/gtest.h>

#include "tests/train/trainer_test_util.h"
#include "train/distributed/gradient_buckets.h"
#include "train/distributed/nccl_communicator.h"
#include "train/distributed/sharded_adamw.h"

namespace emrrg::testing {
namespace {

using train::distributed::NcclCommunicator;
using train::distributed::ReduceOp;

const Device kGpu = Device::cuda(0);

std::unique_ptr<NcclCommunicator> one_rank(const ScratchDir& dir) {
  train::distributed::NcclBootstrap b;
  b.init_file = dir / "nccl_id";
  return std::make_unique<NcclCommunicator>(0, 1, 0, b, 60);
}

std::vector<float> host(const Tensor& t) { return to_device(t, Device::cpu()).to_vector<float>(); }

Tensor copy_of(const Tensor& t) {
  Tensor c = empty(t.shape(), t.dtype(), t.device());
  copy_into(c, t);
  return c;
}

TEST(NcclOneRank, CollectivesOnTheDevice) {
  ScratchDir dir("nccl_collectives");
  auto comm = one_rank(dir);
  const std::vector<float> v{1.5f, -2.0f, 3.25f, 8.0f};
  for (DType dtype : {DType::Float32, DType::BFloat16})
    for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Mean}) {
      Tensor t = to_device(convert(from_vector(v, {4}), dtype), kGpu);
      comm->all_reduce(t, op);
      EXPECT_EQ(host(t), v) << dtype_name(dtype);
    }
  Tensor in = to_device(from_vector(v, {4}), kGpu), out = zeros({4}, DType::Float32, kGpu);
  comm->all_gather(in, out);
  EXPECT_EQ(host(out), v);
  Tensor scattered = zeros({4}, DType::Float32, kGpu);
  comm->reduce_scatter(in, scattered, ReduceOp::Sum);
  EXPECT_EQ(host(scattered), v);
  comm->broadcast(in, 0);
  EXPECT_EQ(host(in), v);
  comm->barrier();
  Tensor on_cpu = from_vector(v, {4});
  EXPECT_THROW(comm->all_reduce(on_cpu, ReduceOp::Sum), std::invalid_argument);
}

TEST(NcclOneRank, BucketsAndShardedAdamWAreTheNonDistributedStep) {
  ScratchDir dir("nccl_step");
  auto comm = one_rank(dir);
  Generator gen(5);
  std::vector<train::TrainedParameter> sharded_params, plain_params;
  for (int64_t n : {300, 17, 4096}) {
    Tensor p = to_device(randn({n}, 0.0, 1.0, gen), kGpu), g = to_device(randn({n}, 0.0, 1.0, gen), kGpu);
    Tensor a = copy_of(p), b = copy_of(p);
    a.set_requires_grad().set_grad(copy_of(g));
    b.set_requires_grad().set_grad(copy_of(g));
    const std::string name = std::to_string(n);  // "p" + would trip GCC 12's -Wrestrict false positive
    sharded_params.push_back({name, a, n != 17});
    plain_params.push_back({name, b, n != 17});
  }
  std::vector<Tensor> tensors;
  for (auto& p : sharded_params) tensors.push_back(p.tensor);
  const std::vector<float> grad_before = host(tensors[0].grad());
  train::distributed::GradientBuckets buckets(*comm, tensors, 4096);
  buckets.average();
  EXPECT_EQ(host(tensors[0].grad()), grad_before);

  const train::AdamWOptions o{1e-2, 0.9, 0.999, 1e-8, 0.1};
  train::distributed::ShardedAdamW sharded(*comm, sharded_params, o);
  std::vector<Tensor> decayed, plain;
  for (auto& p : plain_params) (p.weight_decay ? decayed : plain).push_back(p.tensor);
  train::AdamW reference(decayed, o);
  reference.add_param_group(plain, 0.0);
  sharded.step(1e-2);
  reference.set_lr(1e-2);
  reference.step();
  for (size_t k = 0; k < sharded_params.size(); ++k) EXPECT_EQ(host(sharded_params[k].tensor), host(plain_params[k].tensor)) << k;
}

}  // namespace
}  // namespace emrrg::testing
