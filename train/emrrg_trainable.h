// The EMRRG network (models/emrrg) as the Trainer's model, built from a TOML config.
//
// Besides [vision], [llm] and [model] (models/emrrg/emrrg_config_toml.h) the config may have
//   [weights]      backbone = "arm_base.pth"   # the encoder's pre-trained weights (MambaXray-VL ARM)
//                  backbone_key = "model", backbone_rename = ["module.="],
//                  backbone_exclude = ['head\..*'], backbone_plain_classes = ["torch.device"]
//                  # how its names map onto the encoder's (runtime/checkpoint.h)
//   [random_init]  llm = {vocab_size = 32000, hidden_size = 4096, ...}, tokenizer = "..."
// With random_init (the --random-init flag) the files are not read: the LLM is built with random
// weights of random_init.llm's dimensions, the prompt is tokenised with random_init.tokenizer and
// the encoder keeps its random initialisation, so the paper-size models can be built and run
// without downloading anything.
#pragma once
#include <memory>
#include <string>
#include <toml++/toml.h>

#include "models/emrrg/emrrg.h"
#include "runtime/checkpoint.h"
#include "train/data/tokenizer.h"
#include "train/trainable.h"

namespace emrrg::train {

class EmrrgTrainable : public Trainable {
 public:
  EmrrgTrainable(std::unique_ptr<models::Emrrg> model, std::shared_ptr<const data::Tokenizer> tokenizer);

  // Mean NLL of the report tokens given the study's views and the prompt. The batch stays on the
  // host; its images are copied to the model's device here (the model moves ids and mask itself).
  Tensor loss(const data::Batch& batch) override;
  // What the model marks as trained (requires_grad); no weight decay on norms, biases, the
  // SSM's A_log and D, the class token, position embeddings and the warm-up gates.
  std::vector<TrainedParameter> trained_parameters() override;
  // Beam search from each study's images with `config`.
  std::vector<std::string> generate(const data::Batch& batch, const GenerateConfig& config) override;
  void set_training(bool on) override { model_->train(on); }

  models::Emrrg& model() { return *model_; }
  const data::Tokenizer& tokenizer() const { return *tokenizer_; }

 private:
  std::unique_ptr<models::Emrrg> model_;
  std::shared_ptr<const data::Tokenizer> tokenizer_;
};

// What a config says about its EMRRG model (see the top of this file), read and checked without
// building it.
struct EmrrgSetup {
  models::EmrrgConfig config;
  std::string backbone;  // [weights] backbone, or empty
  CheckpointOptions backbone_options;  // [weights] backbone_key, _rename, _exclude, _plain_classes
  std::shared_ptr<const data::Tokenizer> tokenizer;
  bool random_init = false;
};
EmrrgSetup read_emrrg_setup(const toml::table& document, const std::string& source, bool random_init);

// The model: parameters drawn from `seed`, then the backbone (`backbone`, else [weights] backbone)
// loaded into the encoder, then all of it moved to `device` (the draws and the files are the same
// whatever the device). An LLM given by its dimensions (no [llm] path and not random_init) has
// nothing pre-trained to keep, so all of it trains.
std::unique_ptr<EmrrgTrainable> build_emrrg_trainable(const EmrrgSetup& setup, uint64_t seed,
                                                      const std::string& backbone = "",
                                                      Device device = Device::cpu());

// The document with random_init applied: [llm] path and tokenizer replaced by random_init's
// dimensions and tokenizer, [weights] dropped. Throws naming the file when random_init is missing.
toml::table with_random_init(const toml::table& document, const std::string& source);

// Norms, biases, the SSM's A_log and D (every scan's), the class token, the position embeddings
// and the warm-up gates are not decayed by AdamW, as timm's and Vim's parameter groups do.
bool takes_weight_decay(const std::string& name);

// Whether the document describes an EMRRG model (has a [vision] or [llm] table).
bool describes_emrrg(const toml::table& document);

}  // namespace emrrg::train
