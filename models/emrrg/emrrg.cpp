#include "models/emrrg/emrrg.h"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "models/llama/llama_loader.h"
#include "nn/state_dict_mismatch.h"
#include "ops/elementwise.h"
#include "ops/indexing.h"
#include "ops/reduce.h"
#include "ops/shape.h"
#include "ops/softmax.h"
#include "runtime/safetensors.h"

namespace emrrg::models {
namespace {

// The hybrid layers see the visual tokens for one forward.
class VisualScope {
 public:
  VisualScope(const Emrrg& model, const Tensor& visual) : model_(model) { model_.set_visual(visual); }
  ~VisualScope() { model_.clear_visual(); }
  VisualScope(const VisualScope&) = delete;
  VisualScope& operator=(const VisualScope&) = delete;

 private:
  const Emrrg& model_;
};

EmrrgConfig with_llm_of(EmrrgConfig config, const Llama& llm) {
  config.llm = llm.config();
  config.validate();
  return config;
}

// ids [1, n] -> their embeddings repeated for `rows` rows [rows, n, hidden] (a view).
Tensor repeated_embeddings(const Llama& llm, const std::vector<int64_t>& ids, int64_t rows) {
  const int64_t n = static_cast<int64_t>(ids.size());
  Tensor e = llm.embed(to_device(from_vector(ids, {1, n}), llm.device()));
  return expand(e, {rows, n, e.size(2)});
}

}  // namespace

Emrrg::Emrrg(const EmrrgConfig& config, std::shared_ptr<Llama> language_model, PromptTokens prompt, Generator& gen)
    : config_(with_llm_of(config, *language_model)), prompt_(std::move(prompt)) {
  const LlamaConfig& lc = config_.llm;
  const DType dtype = language_model->embed_tokens().weight.dtype();
  visual_encoder = register_module("visual_encoder", std::make_shared<VisionMamba>(config_.vision, gen));
  llama_proj = register_module("llama_proj", std::make_shared<nn::Linear>(config_.vision.d_model, lc.hidden_size, true, gen, dtype));
  layer_norm = register_module("layer_norm", std::make_shared<nn::LayerNorm>(lc.hidden_size, 1e-5, true, dtype));
  llm = register_module("llm", std::move(language_model));
  for (int64_t i : config_.hybrid_layers)
    hybrid_layers.push_back(attach_hybrid_layer(*llm->layers()[i], i, gen, dtype));
  if (config_.hybrid_kv_from_self)
    for (const auto& h : hybrid_layers) h->init_kv_from_self_attention();
  if (config_.llm_tuning == LlmTuning::Lora) attach_llm_lora(gen);
  apply_freezing();
}

void Emrrg::attach_llm_lora(Generator& gen) {
  for (const auto& layer : llm->layers()) {
    auto projections = layer->self_attn().projections();
    for (const auto& p : layer->mlp().projections()) projections.push_back(p);
    for (const auto& [name, linear] : projections)
      if (std::find(config_.llm_lora_targets.begin(), config_.llm_lora_targets.end(), name) !=
          config_.llm_lora_targets.end())
        nn::attach_lora(*linear, config_.llm_lora, gen);
  }
}

void Emrrg::apply_freezing() {
  visual_encoder->apply_freezing();
  llm->freeze(".*");
  if (config_.llm_tuning == LlmTuning::Lora) llm->unfreeze(R"(.*\.lora\.(down|up)\.weight)");
  if (config_.llm_tuning == LlmTuning::Hybrid) llm->unfreeze(R"(.*\.self_attn\.cross_attn_.*)");
  llama_proj->unfreeze(".*");
  layer_norm->unfreeze(".*");
}

int64_t Emrrg::prefix_length() const {
  const int64_t visual = config_.visual_prefix ? config_.vision.num_tokens() : 0;
  return 1 + static_cast<int64_t>(prompt_.before.size()) + visual + static_cast<int64_t>(prompt_.after.size());
}

Tensor Emrrg::encode_images(const Tensor& images) const {
  const VisionMambaConfig& vc = config_.vision;
  if (images.dim() != 5 || images.size(2) != vc.channels || images.size(3) != vc.image_size ||
      images.size(4) != vc.image_size || images.size(1) < 1)
    throw std::invalid_argument("Emrrg: images " + shape_str(images.shape()) + " are not [studies, views, " +
                                std::to_string(vc.channels) + ", " + std::to_string(vc.image_size) + ", " +
                                std::to_string(vc.image_size) + "]");
  const int64_t B = images.size(0), V = images.size(1);
  Tensor tokens = visual_encoder->forward(reshape(images, {B * V, vc.channels, vc.image_size, vc.image_size}));
  Tensor visual = mean(reshape(tokens, {B, V, tokens.size(1), tokens.size(2)}), {1});  // [B, N, D_vis]
  return layer_norm->forward(llama_proj->forward(cast(visual, llama_proj->weight.dtype())));
}

Tensor Emrrg::prompt_embeds(const Tensor& visual) const {
  const int64_t B = visual.size(0);
  std::vector<int64_t> before{prompt_.bos};
  before.insert(before.end(), prompt_.before.begin(), prompt_.before.end());
  std::vector<Tensor> parts{repeated_embeddings(*llm, before, B)};
  if (config_.visual_prefix) parts.push_back(visual);
  if (!prompt_.after.empty()) parts.push_back(repeated_embeddings(*llm, prompt_.after, B));
  return cat(parts, 1);
}

Tensor Emrrg::report_logits(const Tensor& images, const Tensor& report_ids, const Tensor& report_mask) const {
  Tensor visual = encode_images(images);  // checks the images' shape
  const int64_t B = images.size(0);
  if (report_ids.dim() != 2 || report_ids.size(0) != B || report_mask.shape() != report_ids.shape())
    throw std::invalid_argument("Emrrg: report ids " + shape_str(report_ids.shape()) + " and mask " +
                                shape_str(report_mask.shape()) + " are not both [" + std::to_string(B) + ", length]");
  const int64_t T = report_ids.size(1), P = prefix_length();
  if (T < 1) throw std::invalid_argument("Emrrg: empty reports");
  VisualScope scope(*this, visual);
  Tensor embeds = cat({prompt_embeds(visual), llm->embed(to_device(report_ids, llm->device()))}, 1);
  std::vector<int64_t> mask(B * (P + T), 1);
  const auto report = report_mask.to_vector<double>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) mask[b * (P + T) + P + t] = report[b * T + t] != 0;
  Tensor hidden = llm->hidden_states(embeds, from_vector(mask, {B, P + T}));
  // position P - 1 + t predicts report token t
  return llm->logits(narrow(hidden, 1, P - 1, T));
}

Tensor Emrrg::loss(const Tensor& images, const Tensor& report_ids, const Tensor& report_mask) const {
  Tensor logits = report_logits(images, report_ids, report_mask);
  std::vector<int64_t> labels = report_ids.to_vector<int64_t>();
  const auto mask = report_mask.to_vector<double>();
  for (size_t i = 0; i < labels.size(); ++i)
    if (mask[i] == 0) labels[i] = -100;
  Tensor target = to_device(from_vector(labels, report_ids.shape()), logits.device());
  return cross_entropy(cast(logits, DType::Float32), target, -100);
}

void Emrrg::set_visual(const Tensor& visual) const {
  for (const auto& h : hybrid_layers) h->set_visual(visual);
}
void Emrrg::clear_visual() const {
  for (const auto& h : hybrid_layers) h->clear_visual();
}
void Emrrg::select_visual_rows(const std::vector<int64_t>& rows) const {
  for (const auto& h : hybrid_layers) h->select_rows(rows);
}

void Emrrg::load_backbone(const std::string& path, const CheckpointOptions& options) {
  const std::map<std::string, Tensor> state = read_checkpoint(path, options);
  std::vector<std::string> missing;
  for (const auto& [name, t] : visual_encoder->named_parameters())
    if (!state.count(name) && name.find(".lora") == std::string::npos) missing.push_back(name);
  std::vector<std::string> unexpected;
  const auto mine = visual_encoder->state_dict();
  for (const auto& [name, t] : state)
    if (!mine.count(name)) unexpected.push_back(name);
  if (!missing.empty() || !unexpected.empty()) {
    throw std::runtime_error("backbone '" + path + "':" + nn::describe_state_dict_mismatch(missing, unexpected));
  }
  try {
    visual_encoder->load_state_dict(state, /*strict=*/false);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("backbone '" + path + "': " + e.what());
  }
}

void Emrrg::save_trainable(const std::string& path) const {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : named_parameters())
    if (t.requires_grad()) out.emplace(name, t);
  save_safetensors(path, out);
}

void Emrrg::load_trainable(const std::string& path) {
  SafetensorsFile file = SafetensorsFile::open(path);
  const auto mine = state_dict();
  std::map<std::string, Tensor> state;
  std::string unexpected;
  for (const auto& name : file.names()) {
    if (!mine.count(name)) unexpected += " " + name;
    state.emplace(name, file.get(name));
  }
  if (!unexpected.empty()) throw std::runtime_error("'" + path + "': not parameters of this model:" + unexpected);
  try {
    load_state_dict(state, /*strict=*/false);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("'" + path + "': " + e.what());
  }
}

std::unique_ptr<Emrrg> build_emrrg(const EmrrgConfig& config, PromptTokens prompt, Generator& gen) {
  std::shared_ptr<Llama> llm;
  if (!config.llm_path.empty())
    llm = load_hf_llama(config.llm_path, config.llm_dtype);
  else
    llm = std::make_shared<Llama>(config.llm, gen, config.llm_dtype.value_or(DType::Float32));
  return std::make_unique<Emrrg>(config, std::move(llm), std::move(prompt), gen);
}

}  // namespace emrrg::models
