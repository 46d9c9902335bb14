// The tiny CheXbert of tests/fixtures/chexbert on the (simulated) GPU: embeddings, cuBLAS linear
// layers, the LayerNorm, GELU and non-causal padded attention kernels give the CPU's logits and
// the classes transformers gives.
#include <gtest/gtest.h>

#include "autograd/tape.h"
#include "cuda/cuda_backend.h"
#include "cuda/kernel_registration.h"
#include "models/bert/chexbert.h"
#include "ops/shape.h"
#include "runtime/safetensors.h"

namespace emrrg {
namespace {

TEST(BertOnDevice, ChexbertLogitsFollowTheCpu) {
  cuda::register_cuda_backend();
  cuda::register_cuda_kernels();
  const std::string dir = std::string(EMRRG_FIXTURES_DIR) + "/chexbert";
  const SafetensorsFile golden = SafetensorsFile::open(dir + "/chexbert_golden.safetensors");
  // Reports 0, 7 (empty) and 9, right-padded to the longest.
  const Tensor ids = golden.get("batch_ids"), mask = golden.get("batch_mask");
  const auto model = models::load_chexbert(dir + "/chexbert.pth", 2);
  autograd::NoGradGuard no_grad;
  const std::vector<float> cpu = model->logits(ids, mask).to_vector<float>();
  const auto cpu_classes = model->classify(ids, mask);
  model->to(Device::cuda(0));
  const Tensor logits = model->logits(ids, mask);
  EXPECT_EQ(logits.device(), Device::cuda(0));
  const std::vector<float> gpu = to_device(logits, Device::cpu()).to_vector<float>();
  ASSERT_EQ(gpu.size(), cpu.size());
  for (size_t i = 0; i < cpu.size(); ++i) EXPECT_NEAR(gpu[i], cpu[i], 1e-4) << "logit " << i;
  EXPECT_EQ(model->classify(ids, mask), cpu_classes);
  const int reports[] = {0, 7, 9};
  for (int r = 0; r < 3; ++r) {
    const auto expected = golden.get("report_" + std::to_string(reports[r]) + "_classes").to_vector<int64_t>();
    for (int c = 0; c < models::kNumChexbertConditions; ++c) EXPECT_EQ(cpu_classes[r][c], expected[c]) << r << " " << c;
  }
}

}  // namespace
}  // namespace emrrg
