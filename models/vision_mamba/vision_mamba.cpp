#include "models/vision_mamba/vision_mamba.h"

#include <cmath>
#include <stdexcept>

#include "ops/elementwise.h"
#include "ops/indexing.h"
#include "ops/matmul.h"
#include "ops/shape.h"

namespace emrrg::models {

namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument("VisionMambaConfig: " + message);
}

// N(0, std) truncated to [-2 std, 2 std] by redrawing, as timm's trunc_normal_tf_.
Tensor truncated_normal(const Shape& shape, double std, Generator& gen, DType dtype) {
  std::vector<double> v = randn(shape, 0.0, 1.0, gen, DType::Float64).to_vector<double>();
  for (bool redraw = true; redraw;) {
    redraw = false;
    std::vector<double> fresh =
        randn({static_cast<int64_t>(v.size())}, 0.0, 1.0, gen, DType::Float64).to_vector<double>();
    for (size_t i = 0; i < v.size(); ++i)
      if (std::abs(v[i]) > 2.0) {
        v[i] = fresh[i];
        redraw = redraw || std::abs(v[i]) > 2.0;
      }
  }
  for (double& x : v) x *= std;
  return from_vector(v, shape, dtype);
}

nn::MambaMixerConfig mixer_config(const VisionMambaConfig& c) {
  nn::MambaMixerConfig m;
  m.d_model = c.d_model;
  m.d_state = c.d_state;
  m.expand = c.expand;
  m.bimamba = c.kind == VisionMambaKind::Vim ? nn::BiMamba::V2 : nn::BiMamba::V3;
  m.dtype = c.dtype;
  return m;
}

}  // namespace

void VisionMambaConfig::validate() const {
  require(image_size > 0 && patch_size > 0, "image_size " + std::to_string(image_size) + " and patch_size " +
                                                std::to_string(patch_size) + " must be positive");
  require(image_size % patch_size == 0, "image_size " + std::to_string(image_size) +
                                            " is not a multiple of patch_size " + std::to_string(patch_size));
  require(channels > 0 && d_model > 0 && depth > 0 && d_state > 0 && expand > 0,
          "channels, d_model, depth, d_state and expand must be positive");
  require(num_classes >= 0, "num_classes " + std::to_string(num_classes) + " is negative");
  require(kind != VisionMambaKind::Arm || grid() % 2 == 0,
          "the arm kind needs an even patch grid (the class token sits at the same place in row- and column-major "
          "order), got " +
              std::to_string(grid()) + "x" + std::to_string(grid()));
  if (peft.any_adapter()) {
    require(peft.rank > 0, "peft rank " + std::to_string(peft.rank) + " must be positive");
    require(peft.dropout >= 0.0 && peft.dropout < 1.0,
            "peft dropout " + std::to_string(peft.dropout) + " is not in [0, 1)");
  }
}

VisionMambaConfig VisionMambaConfig::vim_tiny() { return VisionMambaConfig{}; }

VisionMambaConfig VisionMambaConfig::vim_small() {
  VisionMambaConfig c;
  c.d_model = 384;
  return c;
}

VisionMambaConfig VisionMambaConfig::vim_base() {
  VisionMambaConfig c;
  c.d_model = 768;
  return c;
}

VisionMambaConfig VisionMambaConfig::arm_base() {
  VisionMambaConfig c;
  c.kind = VisionMambaKind::Arm;
  c.d_model = 768;
  c.depth = 12;
  c.expand = 1;
  return c;
}

VisionMambaConfig VisionMambaConfig::arm_large() {
  VisionMambaConfig c = arm_base();
  c.d_model = 1024;
  c.depth = 24;
  return c;
}

VisionMambaKind parse_vision_mamba_kind(const std::string& name) {
  if (name == "vim") return VisionMambaKind::Vim;
  if (name == "arm") return VisionMambaKind::Arm;
  throw std::invalid_argument("vision kind '" + name + "' is not \"vim\" or \"arm\"");
}

std::string to_string(VisionMambaKind kind) { return kind == VisionMambaKind::Vim ? "vim" : "arm"; }

SwiGLUMLP::SwiGLUMLP(int64_t dim, int64_t hidden, Generator& gen, DType dtype)
    : w1(register_module("w1", std::make_shared<nn::Linear>(dim, hidden, true, gen, dtype))),
      w2(register_module("w2", std::make_shared<nn::Linear>(dim, hidden, true, gen, dtype))),
      w3(register_module("w3", std::make_shared<nn::Linear>(hidden, dim, true, gen, dtype))) {}

Tensor SwiGLUMLP::forward(const Tensor& x) const { return w3->forward(silu(w1->forward(x)) * w2->forward(x)); }

ArmBlock::ArmBlock(const nn::MambaMixerConfig& m, double norm_eps, Generator& gen)
    : mixer(register_module("mixer", std::make_shared<nn::MambaMixer>(m, gen))),
      mlp(register_module("mlp", std::make_shared<SwiGLUMLP>(m.d_model, m.d_model * 8 / 3, gen, m.dtype))),
      norm1(register_module("norm1", std::make_shared<nn::LayerNorm>(m.d_model, norm_eps, true, m.dtype))),
      norm2(register_module("norm2", std::make_shared<nn::LayerNorm>(m.d_model, norm_eps, true, m.dtype))) {}

Tensor ArmBlock::forward(const Tensor& h) const {
  Tensor x = h + mixer->forward(norm1->forward(h));
  return x + mlp->forward(norm2->forward(x));
}

VisionMamba::VisionMamba(const VisionMambaConfig& config, Generator& gen) : config_(config) {
  config.validate();
  const VisionMambaConfig& c = config_;
  const nn::MambaMixerConfig m = mixer_config(c);
  patch_embed =
      register_module("patch_embed", std::make_shared<PatchEmbed>(c.channels, c.d_model, c.patch_size, gen, c.dtype));
  cls_token = register_parameter("cls_token", zeros({1, 1, c.d_model}, c.dtype));
  pos_embed = register_parameter("pos_embed", zeros({1, c.num_tokens(), c.d_model}, c.dtype));
  for (int64_t i = 0; i < c.depth; ++i) {
    const std::string name = "layers." + std::to_string(i);
    if (c.kind == VisionMambaKind::Vim)
      vim_layers.push_back(register_module(name, std::make_shared<nn::MambaBlock>(m, c.norm_eps, gen)));
    else
      arm_layers.push_back(register_module(name, std::make_shared<ArmBlock>(m, c.norm_eps, gen)));
  }
  if (c.kind == VisionMambaKind::Vim)
    rms_norm_f = register_module("norm_f", std::make_shared<nn::RMSNorm>(c.d_model, c.norm_eps, c.dtype));
  else
    layer_norm_f = register_module("norm_f", std::make_shared<nn::LayerNorm>(c.d_model, c.norm_eps, true, c.dtype));
  if (c.num_classes > 0)
    head = register_module("head", std::make_shared<nn::Linear>(c.d_model, c.num_classes, true, gen, c.dtype));
  init_weights(gen);
  attach_adapters(gen);
  apply_freezing();
}

std::vector<nn::MambaMixer*> VisionMamba::mixers() const {
  std::vector<nn::MambaMixer*> out;
  for (const auto& l : vim_layers) out.push_back(l->mixer.get());
  for (const auto& l : arm_layers) out.push_back(l->mixer.get());
  return out;
}

void VisionMamba::init_weights(Generator& gen) {
  const VisionMambaConfig& c = config_;
  PatchProjection& proj = *patch_embed->proj;
  const double fan_in = static_cast<double>(c.channels * c.patch_size * c.patch_size);
  // lecun_normal_: variance 1/fan_in from a [-2, 2] truncated normal, whose std is 0.8796
  copy_into(proj.weight,
            truncated_normal(proj.weight.shape(), std::sqrt(1.0 / fan_in) / 0.87962566103423978, gen, c.dtype));
  fill(proj.bias, 0.0);
  copy_into(cls_token, randn(cls_token.shape(), 0.0, 0.02, gen, c.dtype));
  copy_into(pos_embed, randn(pos_embed.shape(), 0.0, 0.02, gen, c.dtype));
  if (head) {
    copy_into(head->weight, truncated_normal(head->weight.shape(), 0.02, gen, c.dtype));
    fill(head->bias, 0.0);
  }
  for (nn::MambaMixer* mixer : mixers()) {
    for (size_t i = 1; i < mixer->scans.size(); ++i) fill(mixer->scans[i].dt_proj->bias, 0.0);
    const double bound = 1.0 / std::sqrt(static_cast<double>(mixer->config().d_inner()));
    const double scale = 1.0 / std::sqrt(static_cast<double>(c.depth));
    copy_into(mixer->out_proj->weight,
              rand_uniform(mixer->out_proj->weight.shape(), -bound * scale, bound * scale, gen, c.dtype));
  }
  for (const auto& l : arm_layers)
    for (const auto& w : {l->mlp->w1, l->mlp->w2, l->mlp->w3}) fill(w->bias, 0.0);
}

void VisionMamba::attach_adapters(Generator& gen) {
  const VisionPeftConfig& p = config_.peft;
  const nn::LoraOptions opt{p.rank, p.scale, p.dropout};
  // MambaPEFT merges the x_proj and dt_proj adapters into those weights: no dropout there
  const nn::LoraOptions merged{p.rank, p.scale, 0.0};
  if (p.lora_patch_embed) patch_embed->proj->attach_lora(opt, gen);
  for (nn::MambaMixer* mixer : mixers()) {
    const int64_t di = mixer->config().d_inner(), R = mixer->config().resolved_dt_rank(), N = mixer->config().d_state;
    nn::Linear& in_proj = *mixer->in_proj;
    if (p.lora_in_proj) nn::attach_lora(in_proj, opt, gen);
    if (p.lora_p_x) nn::attach_partial_lora(in_proj, "lora_x", 0, di, opt, gen);
    if (p.lora_p_z) nn::attach_partial_lora(in_proj, "lora_z", di, 2 * di, opt, gen);
    for (const nn::MambaScan& scan : mixer->scans) {
      nn::Linear& x_proj = *scan.x_proj;
      if (p.lora_x_proj) nn::attach_lora(x_proj, merged, gen);
      if (p.lora_p_dt) nn::attach_partial_lora(x_proj, "lora_dt", 0, R, merged, gen);
      if (p.lora_p_b) nn::attach_partial_lora(x_proj, "lora_b", R, R + N, merged, gen);
      if (p.lora_p_c) nn::attach_partial_lora(x_proj, "lora_c", R + N, R + 2 * N, merged, gen);
      if (p.lora_dt_proj) nn::attach_lora(*scan.dt_proj, merged, gen);
    }
    if (p.lora_out_proj) nn::attach_lora(*mixer->out_proj, opt, gen);
  }
}

int VisionMamba::apply_freezing() {
  if (config_.peft.full_finetune) {
    unfreeze(".*");
  } else {
    freeze(".*");
    unfreeze(R"(.*\.lora(_x|_z|_dt|_b|_c)?\.(down|up)\.weight)");
  }
  return static_cast<int>(trainable_parameters().size());
}

Tensor VisionMamba::forward(const Tensor& images) const {
  const VisionMambaConfig& c = config_;
  if (images.dim() != 4 || images.shape()[1] != c.channels || images.shape()[2] != c.image_size ||
      images.shape()[3] != c.image_size)
    throw std::invalid_argument("VisionMamba: images " + shape_str(images.shape()) + " are not [batch, " +
                                std::to_string(c.channels) + ", " + std::to_string(c.image_size) + ", " +
                                std::to_string(c.image_size) + "]");
  const int64_t B = images.shape()[0], M = c.num_patches(), mid = c.class_token_index();
  Tensor patches = patch_embed->forward(cast(images, c.dtype));  // [B, M, D]
  Tensor x =
      cat({narrow(patches, 1, 0, mid), expand(cls_token, {B, 1, c.d_model}), narrow(patches, 1, mid, M - mid)}, 1) +
      pos_embed;
  if (c.kind == VisionMambaKind::Vim) {
    Tensor h = cast(x, DType::Float32);
    for (const auto& layer : vim_layers) h = layer->forward(h);
    return rms_norm_f->forward(cast(h, c.dtype));
  }
  for (const auto& layer : arm_layers) x = layer->forward(x);
  return layer_norm_f->forward(x);
}

Tensor VisionMamba::classify(const Tensor& tokens) const {
  if (!head) throw std::logic_error("VisionMamba::classify: the model has no head (num_classes = 0)");
  return head->forward(select(tokens, 1, config_.class_token_index()));
}

}  // namespace emrrg::models
