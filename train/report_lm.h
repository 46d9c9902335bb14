// A text-only report model: a small Llama trained as a language model on the cleaned reports
// ([BOS] + report tokens + EOS, loss on the report tokens). It never looks at the images, so it
// is the report prior an image-conditioned model has to beat, and a real model on the real data
// path (loader, tokenizer, generation, metrics) for the trainer's tests.
#pragma once
#include <memory>

#include "models/llama/llama.h"
#include "train/data/tokenizer.h"
#include "train/trainable.h"

namespace emrrg::train {

class ReportLanguageModel : public Trainable {
 public:
  // config.vocab_size must be the tokenizer's; parameters are drawn from `seed` on the host, then
  // moved to `device`.
  ReportLanguageModel(const models::LlamaConfig& config, std::shared_ptr<const data::Tokenizer> tokenizer,
                      uint64_t seed, Device device = Device::cpu());

  // Mean NLL of the report tokens (report_mask) given BOS and the tokens before them; the batch
  // stays on the host, the inputs and targets made from it go to the model's device.
  Tensor loss(const data::Batch& batch) override;
  // Every parameter; the RMSNorm weights without weight decay.
  std::vector<TrainedParameter> trained_parameters() override;
  // From BOS alone, so every study of a batch gets the same report under beam search or greedy.
  std::vector<std::string> generate(const data::Batch& batch, const GenerateConfig& config) override;
  void set_training(bool on) override { llama_.train(on); }

  models::Llama& llama() { return llama_; }

 private:
  Generator init_;
  models::Llama llama_;
  std::shared_ptr<const data::Tokenizer> tokenizer_;
};

}  // namespace emrrg::train
