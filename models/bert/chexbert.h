// CheXbert (Smit et al. 2020, stanfordmlgroup/CheXbert's bert_labeler): a BERT encoder and 14
// linear heads on the [CLS] token's last hidden state, one per condition in CheXbert's order
// (kChexbertConditions). The first 13 heads have 4 classes (0 blank, 1 positive, 2 negative,
// 3 uncertain), No Finding 2 (0 blank, 1 positive). Parameter names are those of the published
// checkpoint without DataParallel's "module." (bert.embeddings..., linear_heads.13.weight).
// Inference only: the dropout before the heads is off, as in eval mode.
#pragma once
#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "models/bert/bert.h"

namespace emrrg::models {

inline constexpr int kNumChexbertConditions = 14;
inline constexpr std::array<std::string_view, kNumChexbertConditions> kChexbertConditions = {
    "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema", "Consolidation",
    "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other", "Fracture",
    "Support Devices", "No Finding"};
// Classes of each head: 4 for the 13 conditions, 2 for No Finding.
inline constexpr int chexbert_head_classes(int condition) { return condition == kNumChexbertConditions - 1 ? 2 : 4; }
inline constexpr int kChexbertLogits = 13 * 4 + 2;

// nn.ModuleList of the heads: children "0" ... "13".
class ChexbertHeads : public nn::Module {
 public:
  ChexbertHeads(int64_t hidden, Generator* gen, DType dtype);
  std::vector<std::shared_ptr<nn::Linear>> heads;
};

class Chexbert : public nn::Module {
 public:
  Chexbert(const BertConfig& config, Generator& gen, DType dtype = DType::Float32);
  Chexbert(const BertConfig& config, DType dtype, nn::Uninitialized);

  const BertConfig& config() const { return bert->config(); }
  // ids int [B, L] ([CLS] first), attention_mask [B, L] (nonzero = token) -> the heads' logits
  // concatenated in condition order [B, 54] (13 x 4, then No Finding's 2), on the model's device.
  Tensor logits(const Tensor& ids, const Tensor& attention_mask) const;
  // Argmax per head: [B][14] classes, condition order.
  std::vector<std::array<int, kNumChexbertConditions>> classify(const Tensor& ids, const Tensor& attention_mask) const;

  std::shared_ptr<BertModel> bert;
  std::shared_ptr<ChexbertHeads> linear_heads;

 private:
  Chexbert(const BertConfig& config, Generator* gen, DType dtype);
};

// Loads CheXbert's published checkpoint (chexbert.pth: {"model_state_dict": {"module.bert.*",
// "module.linear_heads.{0..13}.*"}, "optimizer_state_dict", "epoch"}), or a safetensors state
// dict with those names (with or without "module."). The sizes (vocabulary, hidden, layers,
// intermediate, positions, token types) come from the tensors; the head count, which tensors do
// not show, is `num_heads`, or hidden / 64 when 0 (BERT's head size: 12 for bert-base). The
// pooler and the position_ids buffer are left out. Throws std::runtime_error naming the file and
// the tensor when one is missing, unexpected or mis-shaped.
std::unique_ptr<Chexbert> load_chexbert(const std::string& path, int64_t num_heads = 0);

}  // namespace emrrg::models
