#include "models/emrrg/emrrg_step_decoder.h"

#include "autograd/tape.h"

namespace emrrg::models {

Tensor EmrrgStepDecoder::prefill(const Tensor& images) {
  autograd::NoGradGuard no_grad;
  Tensor visual = model_.encode_images(images);
  model_.set_visual(visual);
  return llm_.prefill_embeds(model_.prompt_embeds(visual), Tensor());
}

void EmrrgStepDecoder::select_rows(const std::vector<int64_t>& rows) {
  llm_.select_rows(rows);
  model_.select_visual_rows(rows);
}

std::vector<generation::GeneratedSequence> generate_reports(const Emrrg& model, const Tensor& images,
                                                            const generation::GenerationConfig& config) {
  EmrrgStepDecoder decoder(model);
  Tensor logits = decoder.prefill(images);
  return generation::generate(decoder, logits, {}, config);
}

}  // namespace emrrg::models
