// CheXbert as a labeller of the 14 CheXpert observations: reports tokenised as CheXbert does
// (uncased WordPiece, [CLS] ... [SEP], at most 512 ids), run through the model in batches with
// padding masks, the heads' argmax mapped to CheXpert's values (class 1 positive, 2 negative,
// 3 uncertain, 0 blank; No Finding 1 positive, 0 blank) and to this project's label order
// (kChexpertLabelNames). Lives in the emrrg_chexbert library: emrrg_metrics itself depends on
// nothing else in the project.
#pragma once
#include <array>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "models/bert/chexbert.h"
#include "runtime/device.h"
#include "train/data/wordpiece_tokenizer.h"
#include "train/metrics/chexpert_labeller.h"

namespace emrrg::metrics {

struct ChexbertFiles {
  std::string checkpoint;  // chexbert.pth
  std::string vocab;       // bert-base-uncased's vocab.txt
  // A Hugging Face BertConfig config.json, read for num_attention_heads only (the tensors give
  // every other size); empty: hidden / 64 heads, which is bert-base's 12.
  std::string config;
};

// DIR/chexbert.pth, DIR/vocab.txt and DIR/config.json when it exists.
ChexbertFiles chexbert_files_in(const std::string& dir);

// The CheXbert classes of one report (CheXbert's condition order) as CheXpert labels in this
// project's order.
ChexpertLabels chexbert_classes_to_labels(const std::array<int, models::kNumChexbertConditions>& classes);

class ChexbertLabeller {
 public:
  // Throws std::runtime_error naming the file that is missing or malformed.
  explicit ChexbertLabeller(const ChexbertFiles& files, Device device = Device::cpu());
  // A model already built (random weights for a benchmark, say); throws std::invalid_argument
  // when its vocabulary size is not the tokenizer's.
  ChexbertLabeller(data::WordPieceTokenizer tokenizer, std::unique_ptr<models::Chexbert> model);

  // Token ids of one report as CheXbert's tokenize(): [CLS] ... [SEP], truncated at 512.
  std::vector<int> encode(const std::string& report) const;
  // The argmax class of every head, per report; reports of similar length share a batch of at
  // most batch_size.
  std::vector<std::array<int, models::kNumChexbertConditions>> classify(std::span<const std::string> reports,
                                                                        int batch_size = 32) const;
  std::vector<ChexpertLabels> label(std::span<const std::string> reports, int batch_size = 32) const;

  const models::Chexbert& model() const { return *model_; }
  const data::WordPieceTokenizer& tokenizer() const { return tokenizer_; }

 private:
  data::WordPieceTokenizer tokenizer_;
  std::unique_ptr<models::Chexbert> model_;
};

}  // namespace emrrg::metrics
