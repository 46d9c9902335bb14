// Report generation for EMRRG: the prompt (with the visual prefix when configured) is prefilled as
// input embeddings, the hybrid layers keep the studies' visual keys and values, and
// models/generation's search (beam search etc.) drives the LLM's KV cache one token at a time.
// As the reference generates from inputs_embeds, the search gets no prompt ids (NOTES §8): the
// repetition penalty and min_new_tokens count generated tokens only.
#pragma once
#include <vector>

#include "models/emrrg/emrrg.h"
#include "models/generation/search.h"
#include "models/llama/llama_step_decoder.h"

namespace emrrg::models {

class EmrrgStepDecoder final : public generation::StepDecoder {
 public:
  // Holds the model's hybrid layers for itself until destroyed (one decoder per model at a time).
  explicit EmrrgStepDecoder(const Emrrg& model) : model_(model), llm_(*model.llm) {}
  ~EmrrgStepDecoder() override { model_.clear_visual(); }
  EmrrgStepDecoder(const EmrrgStepDecoder&) = delete;
  EmrrgStepDecoder& operator=(const EmrrgStepDecoder&) = delete;

  // images [studies, views, C, H, W] -> the logits after each study's prompt, [studies, vocab]
  // float32 on the CPU; one row per study. Starts a new cache.
  Tensor prefill(const Tensor& images);

  int64_t vocab_size() const override { return llm_.vocab_size(); }
  Tensor step(const std::vector<int64_t>& tokens) override { return llm_.step(tokens); }
  void select_rows(const std::vector<int64_t>& rows) override;

 private:
  const Emrrg& model_;
  LlamaStepDecoder llm_;
};

// The generated report tokens of each study (EOS included when it ended with it).
std::vector<generation::GeneratedSequence> generate_reports(const Emrrg& model, const Tensor& images,
                                                            const generation::GenerationConfig& config);

}  // namespace emrrg::models
