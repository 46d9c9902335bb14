#include "train/metrics/chexbert_labeller.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <stdexcept>

#include "autograd/tape.h"

namespace emrrg::metrics {

namespace {

// CheXbert's condition c is this project's label kChexbertToChexpert[c].
constexpr std::array<ChexpertLabel, models::kNumChexbertConditions> kChexbertToChexpert = {
    kEnlargedCardiomediastinum, kCardiomegaly, kLungOpacity, kLungLesion, kEdema, kConsolidation, kPneumonia,
    kAtelectasis, kPneumothorax, kPleuralEffusion, kPleuralOther, kFracture, kSupportDevices, kNoFinding};

// num_attention_heads of a Hugging Face BertConfig.
int64_t heads_from_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open CheXbert config '" + path + "'");
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error("CheXbert config '" + path + "' is not valid JSON: " + e.what());
  }
  const auto it = config.find("num_attention_heads");
  if (it == config.end() || !it->is_number_integer() || it->get<int64_t>() <= 0)
    throw std::runtime_error("CheXbert config '" + path + "': num_attention_heads is missing or not a positive integer");
  if (const auto act = config.find("hidden_act"); act != config.end() && *act != "gelu")
    throw std::runtime_error("CheXbert config '" + path + "': hidden_act " + act->dump() +
                             " is not implemented (BERT's \"gelu\", the erf form, is)");
  return it->get<int64_t>();
}

}  // namespace

ChexbertFiles chexbert_files_in(const std::string& dir) {
  const std::filesystem::path d(dir);
  ChexbertFiles files{(d / "chexbert.pth").string(), (d / "vocab.txt").string(), ""};
  if (std::filesystem::exists(d / "config.json")) files.config = (d / "config.json").string();
  return files;
}

ChexpertLabels chexbert_classes_to_labels(const std::array<int, models::kNumChexbertConditions>& classes) {
  ChexpertLabels labels{};
  for (int c = 0; c < models::kNumChexbertConditions; ++c) {
    std::optional<int>& label = labels[kChexbertToChexpert[c]];
    switch (classes[c]) {
      case 0: label.reset(); break;
      case 1: label = kPositive; break;
      case 2: label = kNegative; break;
      case 3: label = kUncertain; break;
      default:
        throw std::invalid_argument("CheXbert class " + std::to_string(classes[c]) + " of " +
                                    std::string(models::kChexbertConditions[c]) + " is not in 0..3");
    }
  }
  return labels;
}

ChexbertLabeller::ChexbertLabeller(const ChexbertFiles& files, Device device)
    : tokenizer_(data::WordPieceTokenizer::from_file(files.vocab)),
      model_(models::load_chexbert(files.checkpoint, files.config.empty() ? 0 : heads_from_config(files.config))) {
  if (model_->config().vocab_size != tokenizer_.vocab_size())
    throw std::runtime_error("CheXbert checkpoint '" + files.checkpoint + "' has " +
                             std::to_string(model_->config().vocab_size) + " word embeddings but vocabulary '" +
                             files.vocab + "' has " + std::to_string(tokenizer_.vocab_size()) + " tokens");
  model_->to(device);
}

ChexbertLabeller::ChexbertLabeller(data::WordPieceTokenizer tokenizer, std::unique_ptr<models::Chexbert> model)
    : tokenizer_(std::move(tokenizer)), model_(std::move(model)) {
  if (model_->config().vocab_size != tokenizer_.vocab_size())
    throw std::invalid_argument("CheXbert labeller: the model has " + std::to_string(model_->config().vocab_size) +
                                " word embeddings, the vocabulary " + std::to_string(tokenizer_.vocab_size()) + " tokens");
  model_->eval();
}

std::vector<int> ChexbertLabeller::encode(const std::string& report) const {
  return tokenizer_.encode(report, static_cast<std::size_t>(std::min<int64_t>(512, model_->config().max_position_embeddings)));
}

std::vector<std::array<int, models::kNumChexbertConditions>> ChexbertLabeller::classify(
    std::span<const std::string> reports, int batch_size) const {
  if (batch_size < 1) throw std::invalid_argument("CheXbert labeller: batch_size " + std::to_string(batch_size) + " < 1");
  std::vector<std::vector<int>> ids;
  ids.reserve(reports.size());
  for (const std::string& r : reports) ids.push_back(encode(r));
  // Batches of similar lengths waste little on padding; results do not depend on the grouping.
  std::vector<std::size_t> order(reports.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return ids[a].size() < ids[b].size(); });
  autograd::NoGradGuard no_grad;
  std::vector<std::array<int, models::kNumChexbertConditions>> out(reports.size());
  for (std::size_t start = 0; start < order.size(); start += static_cast<std::size_t>(batch_size)) {
    const std::size_t rows = std::min(order.size() - start, static_cast<std::size_t>(batch_size));
    std::size_t length = 0;
    for (std::size_t r = 0; r < rows; ++r) length = std::max(length, ids[order[start + r]].size());
    std::vector<int64_t> batch(rows * length, tokenizer_.pad_id()), mask(rows * length, 0);
    for (std::size_t r = 0; r < rows; ++r) {
      const std::vector<int>& row = ids[order[start + r]];
      std::copy(row.begin(), row.end(), batch.begin() + static_cast<std::ptrdiff_t>(r * length));
      std::fill_n(mask.begin() + static_cast<std::ptrdiff_t>(r * length), row.size(), 1);
    }
    const Shape shape{static_cast<int64_t>(rows), static_cast<int64_t>(length)};
    const auto classes = model_->classify(from_vector(batch, shape), from_vector(mask, shape));
    for (std::size_t r = 0; r < rows; ++r) out[order[start + r]] = classes[r];
  }
  return out;
}

std::vector<ChexpertLabels> ChexbertLabeller::label(std::span<const std::string> reports, int batch_size) const {
  std::vector<ChexpertLabels> out;
  out.reserve(reports.size());
  for (const auto& classes : classify(reports, batch_size)) out.push_back(chexbert_classes_to_labels(classes));
  return out;
}

}  // namespace emrrg::metrics
