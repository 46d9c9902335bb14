#include "train/emrrg_trainable.h"

#include <filesystem>
#include <stdexcept>

#include "models/emrrg/emrrg_config_toml.h"
#include "models/emrrg/emrrg_step_decoder.h"
#include "runtime/checkpoint.h"
#include "train/config/toml_document.h"
#include "train/emrrg_prompt.h"
#include "train/search_settings.h"

namespace emrrg::train {
namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The LLM folder's tokenizer: tokenizer.model (Llama 2) or tokenizer.json (Qwen).
std::string tokenizer_path(const models::EmrrgConfig& c, const std::string& source) {
  if (!c.tokenizer_path.empty()) return c.tokenizer_path;
  if (c.llm_path.empty()) throw std::runtime_error("config '" + source + "': [llm] tokenizer is required without path");
  for (const char* name : {"tokenizer.model", "tokenizer.json"}) {
    const std::filesystem::path p = std::filesystem::path(c.llm_path) / name;
    if (std::filesystem::exists(p)) return p.string();
  }
  throw std::runtime_error("config '" + source + "': [llm] path '" + c.llm_path +
                           "' has no tokenizer.model or tokenizer.json; set [llm] tokenizer");
}

}  // namespace

bool takes_weight_decay(const std::string& name) {
  const std::string leaf = name.substr(name.rfind('.') + 1);
  if (name.find("norm") != std::string::npos || leaf == "bias" || leaf.rfind("A_log", 0) == 0 ||
      leaf == "D" || leaf.rfind("D_", 0) == 0 || leaf == "cls_token" || leaf == "pos_embed" ||
      ends_with(name, "warm_up_gate"))
    return false;
  return true;
}

EmrrgTrainable::EmrrgTrainable(std::unique_ptr<models::Emrrg> model, std::shared_ptr<const data::Tokenizer> tokenizer)
    : model_(std::move(model)), tokenizer_(std::move(tokenizer)) {
  if (model_->llm->config().vocab_size < tokenizer_->vocab_size())
    throw std::invalid_argument("EMRRG: the LLM's vocabulary (" + std::to_string(model_->llm->config().vocab_size) +
                                ") is smaller than the tokenizer's (" + std::to_string(tokenizer_->vocab_size()) + ")");
}

Tensor EmrrgTrainable::loss(const data::Batch& batch) {
  const Device device = model_->llm->device();
  return model_->loss(to_device(batch.images, device), batch.report_ids, batch.report_mask);
}

std::vector<TrainedParameter> EmrrgTrainable::trained_parameters() {
  std::vector<TrainedParameter> out;
  for (auto& [name, t] : model_->named_parameters())
    if (t.requires_grad()) out.push_back({name, t, takes_weight_decay(name)});
  return out;
}

std::vector<std::string> EmrrgTrainable::generate(const data::Batch& batch, const GenerateConfig& config) {
  const Tensor images = to_device(batch.images, model_->llm->device());
  return decode_reports(*tokenizer_,
                        models::generate_reports(*model_, images, search_settings(config, tokenizer_->eos_id())));
}

bool describes_emrrg(const toml::table& document) {
  return document.contains("vision") || document.contains("llm");
}

toml::table with_random_init(const toml::table& document, const std::string& source) {
  toml::table doc = document;
  const toml::table* init = doc["random_init"].as_table();
  if (init == nullptr) throw std::runtime_error("config '" + source + "': --random-init needs a [random_init] table");
  const toml::table* dims = (*init)["llm"].as_table();
  const auto tokenizer = (*init)["tokenizer"].value<std::string>();
  if (dims == nullptr || !tokenizer)
    throw std::runtime_error("config '" + source + "': [random_init] needs llm (the LLM's dimensions) and tokenizer");
  toml::table* llm = doc["llm"].as_table();
  if (llm == nullptr) throw std::runtime_error("config '" + source + "' has no [llm] table");
  llm->erase("path");
  for (const auto& [key, value] : *dims) llm->insert_or_assign(key, value);
  llm->insert_or_assign("tokenizer", *tokenizer);
  doc.erase("weights");
  doc.erase("random_init");
  return doc;
}

EmrrgSetup read_emrrg_setup(const toml::table& document, const std::string& source, bool random_init) {
  const toml::table doc = random_init ? with_random_init(document, source) : document;
  EmrrgSetup setup;
  setup.random_init = random_init;
  config::TableReader weights(doc, "weights", source);
  if (weights.present()) {
    weights.string("backbone", setup.backbone);
    CheckpointOptions& options = setup.backbone_options;
    weights.string("backbone_key", options.key);
    std::vector<std::string> renames;
    weights.strings("backbone_rename", renames);
    for (const std::string& r : renames) {
      const auto mapping = parse_prefix_rename(r);
      if (!mapping) weights.fail("backbone_rename", "entry \"" + r + "\" is not \"FROM=TO\" (e.g. \"module.=\")");
      options.rename_prefixes.push_back(*mapping);
    }
    weights.strings("backbone_exclude", options.exclude);
    weights.strings("backbone_plain_classes", options.inert_classes);
    weights.reject_unknown();
  }
  if (const toml::table* init = doc["random_init"].as_table())
    for (const auto& [key, value] : *init)
      if (key != "llm" && key != "tokenizer")
        throw std::runtime_error("config '" + source + "': [random_init] unknown key '" + std::string(key.str()) +
                                 "' (known: llm, tokenizer)");
  setup.config = models::emrrg_config_from_toml(doc, source);
  setup.tokenizer = data::load_tokenizer(tokenizer_path(setup.config, source));
  return setup;
}

std::unique_ptr<EmrrgTrainable> build_emrrg_trainable(const EmrrgSetup& setup, uint64_t seed,
                                                      const std::string& backbone, Device device) {
  Generator gen(seed);
  std::unique_ptr<models::Emrrg> model =
      models::build_emrrg(setup.config, emrrg_prompt_tokens(*setup.tokenizer, setup.config.prompt), gen);
  if (setup.config.llm_path.empty() && !setup.random_init) model->llm->unfreeze(".*");
  const std::string& weights = backbone.empty() ? setup.backbone : backbone;
  // A stage-1 encoder (`backbone`) is our own file, under the encoder's names.
  if (!weights.empty()) model->load_backbone(weights, backbone.empty() ? setup.backbone_options : CheckpointOptions{});
  model->to(device);
  return std::make_unique<EmrrgTrainable>(std::move(model), setup.tokenizer);
}

}  // namespace emrrg::train
