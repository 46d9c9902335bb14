#include "train/report_lm.h"

#include <stdexcept>

#include "models/generation/search.h"
#include "models/llama/llama_step_decoder.h"
#include "ops/ops.h"
#include "train/search_settings.h"

namespace emrrg::train {

ReportLanguageModel::ReportLanguageModel(const models::LlamaConfig& config,
                                         std::shared_ptr<const data::Tokenizer> tokenizer, uint64_t seed, Device device)
    : init_(seed), llama_(config, init_), tokenizer_(std::move(tokenizer)) {
  if (config.vocab_size != tokenizer_->vocab_size())
    throw std::invalid_argument("ReportLanguageModel: vocab_size " + std::to_string(config.vocab_size) +
                                " but the tokenizer has " + std::to_string(tokenizer_->vocab_size()) + " pieces");
  llama_.to(device);
}

Tensor ReportLanguageModel::loss(const data::Batch& batch) {
  const Tensor ids = to_contiguous(convert(batch.report_ids, DType::Int64));
  const Tensor mask = to_contiguous(convert(batch.report_mask, DType::Float32));
  const int64_t B = ids.size(0), L = ids.size(1);
  // Input: BOS then the report shifted right by one; target: the report where the mask is on.
  std::vector<int64_t> input(static_cast<size_t>(B * L)), target(static_cast<size_t>(B * L));
  const int64_t* id = ids.data<int64_t>();
  const float* m = mask.data<float>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < L; ++t) {
      input[b * L + t] = t == 0 ? tokenizer_->bos_id() : id[b * L + t - 1];
      target[b * L + t] = m[b * L + t] > 0 ? id[b * L + t] : -100;
    }
  const Tensor logits = llama_.forward(to_device(from_vector(input, {B, L}), llama_.device()));  // [B, L, vocab]
  return cross_entropy(logits, to_device(from_vector(target, {B, L}), logits.device()));
}

std::vector<TrainedParameter> ReportLanguageModel::trained_parameters() {
  std::vector<TrainedParameter> out;
  for (auto& [name, t] : llama_.named_parameters())
    if (t.requires_grad()) out.push_back({name, t, name.find("norm") == std::string::npos});
  return out;
}

std::vector<std::string> ReportLanguageModel::generate(const data::Batch& batch, const GenerateConfig& c) {
  models::LlamaStepDecoder decoder(llama_);
  const std::vector<std::vector<int64_t>> prompts(batch.size(), std::vector<int64_t>{tokenizer_->bos_id()});
  const Tensor logits = decoder.prefill(prompts);
  return decode_reports(*tokenizer_, generation::generate(decoder, logits, {}, search_settings(c, tokenizer_->eos_id())));
}

}  // namespace emrrg::train
