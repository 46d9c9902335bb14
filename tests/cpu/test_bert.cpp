// models/bert and the CheXbert labeller against transformers: tests/fixtures/chexbert/ holds a
// tiny random CheXbert (BertModel hidden 32, 2 layers, 2 heads + 14 heads) saved with the
// published checkpoint's layout, and the logits, classes and hidden states transformers computes
// (tests/golden/make_chexbert_golden.py); plus the loader's errors and `emrrg eval --chexbert`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "autograd/tape.h"
#include "models/bert/chexbert.h"
#include "ops/shape.h"
#include "runtime/checkpoint.h"
#include "runtime/safetensors.h"
#include "train/metrics/chexbert_labeller.h"
#include "train/metrics/clinical_efficacy.h"
#include "train/metrics/report_io.h"

namespace emrrg {
namespace {

namespace fs = std::filesystem;
using metrics::ChexpertLabels;

const std::string kDir = std::string(EMRRG_FIXTURES_DIR) + "/chexbert";
constexpr int kReports = 12;
// float32 against transformers' float32 on another summation order; the largest difference seen
// is about 1e-6 (logits up to ~3).
constexpr double kTol = 1e-5;

struct Golden {
  SafetensorsFile file = SafetensorsFile::open(kDir + "/chexbert_golden.safetensors");
  std::vector<int64_t> ids(int i) const { return file.get("report_" + std::to_string(i) + "_ids").to_vector<int64_t>(); }
  std::vector<float> logits(int i) const {
    return file.get("report_" + std::to_string(i) + "_logits").to_vector<float>();
  }
  std::array<int, models::kNumChexbertConditions> classes(int i) const {
    const auto v = file.get("report_" + std::to_string(i) + "_classes").to_vector<int64_t>();
    std::array<int, models::kNumChexbertConditions> out{};
    for (int c = 0; c < models::kNumChexbertConditions; ++c) out[c] = static_cast<int>(v.at(c));
    return out;
  }
};

// The first 8 of the script's reports (it records ids and logits of all 12).
std::vector<std::string> fixture_reports() { return metrics::read_report_file(kDir + "/reports.txt"); }

void expect_close(const std::vector<float>& a, const std::vector<float>& b, double tol, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < a.size() && reported < 5; ++i)
    if (!(std::fabs(a[i] - b[i]) <= tol)) {
      ADD_FAILURE() << what << " at " << i << ": " << a[i] << " vs " << b[i];
      ++reported;
    }
}

TEST(Bert, HiddenStatesMatchTransformersWithPaddingAndTokenTypes) {
  const auto model = models::load_chexbert(kDir + "/chexbert.pth", /*num_heads=*/2);
  const models::BertConfig& c = model->config();
  EXPECT_EQ(c.vocab_size, 235);
  EXPECT_EQ(c.hidden_size, 32);
  EXPECT_EQ(c.num_layers, 2);
  EXPECT_EQ(c.intermediate_size, 64);
  EXPECT_EQ(c.max_position_embeddings, 512);
  const Golden g;
  autograd::NoGradGuard no_grad;
  const Tensor hidden = model->bert->forward(g.file.get("batch_ids"), g.file.get("batch_mask"), g.file.get("batch_types"));
  ASSERT_EQ(hidden.shape(), g.file.get("batch_hidden").shape());
  // Padded positions included: they attend to the tokens in transformers too.
  expect_close(hidden.to_vector<float>(), g.file.get("batch_hidden").to_vector<float>(), kTol, "hidden");
}

// Reports first..last-1 of the fixture in one right-padded batch, against each run alone in PyTorch.
void expect_batch_matches(const models::Chexbert& model, const Golden& g, int first, int last) {
  const int64_t rows = last - first;
  int64_t length = 0;
  for (int i = first; i < last; ++i) length = std::max<int64_t>(length, static_cast<int64_t>(g.ids(i).size()));
  std::vector<int64_t> ids(rows * length, 0), mask(rows * length, 0);
  for (int i = first; i < last; ++i) {
    const auto row = g.ids(i);
    std::copy(row.begin(), row.end(), ids.begin() + (i - first) * length);
    std::fill_n(mask.begin() + (i - first) * length, row.size(), 1);
  }
  autograd::NoGradGuard no_grad;
  const Tensor ids_t = from_vector(ids, {rows, length}), mask_t = from_vector(mask, {rows, length});
  const Tensor logits = model.logits(ids_t, mask_t);
  ASSERT_EQ(logits.shape(), (Shape{rows, models::kChexbertLogits}));
  const auto classes = model.classify(ids_t, mask_t);
  for (int i = first; i < last; ++i) {
    expect_close(emrrg::select(logits, 0, i - first).to_vector<float>(), g.logits(i), kTol, "report " + std::to_string(i));
    EXPECT_EQ(classes[i - first], g.classes(i)) << "report " << i;
  }
}

TEST(Chexbert, BatchedLogitsMatchEachReportRunAlone) {
  const auto model = models::load_chexbert(kDir + "/chexbert.pth", 2);
  const Golden g;
  // Reports 0-10 (2 to about 50 ids, one empty) padded together; the last one is cut at 512 ids.
  expect_batch_matches(*model, g, 0, kReports - 1);
  ASSERT_EQ(g.ids(kReports - 1).size(), 512u);
  expect_batch_matches(*model, g, kReports - 1, kReports);
}

TEST(ChexbertLabeller, TokenisesAndClassifiesAsCheXbert) {
  const metrics::ChexbertLabeller labeller(metrics::chexbert_files_in(kDir));  // config.json: 2 heads
  const Golden g;
  const auto reports = fixture_reports();
  ASSERT_EQ(reports.size(), 8u);
  for (int i = 0; i < 8; ++i) {
    const auto ids = labeller.encode(reports[i]);
    EXPECT_EQ(std::vector<int64_t>(ids.begin(), ids.end()), g.ids(i)) << "report " << i;
  }
  // Batches of 3 mix lengths differently from the script's one-by-one runs.
  const auto classes = labeller.classify(reports, /*batch_size=*/3);
  const auto labels = labeller.label(reports, 3);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(classes[i], g.classes(i)) << "report " << i;
    EXPECT_EQ(labels[i], metrics::chexbert_classes_to_labels(g.classes(i))) << "report " << i;
  }
}

TEST(ChexbertLabeller, ClassesMapToThisProjectsOrderAndValues) {
  using namespace metrics;
  // CheXbert's order: EC, Cardiomegaly, Lung Opacity, Lung Lesion, Edema, Consolidation, Pneumonia,
  // Atelectasis, Pneumothorax, Effusion, Pleural Other, Fracture, Support Devices, No Finding.
  const ChexpertLabels l = chexbert_classes_to_labels({1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 1});
  EXPECT_EQ(l[kEnlargedCardiomediastinum], kPositive);
  EXPECT_EQ(l[kCardiomegaly], kNegative);
  EXPECT_EQ(l[kLungOpacity], kUncertain);
  EXPECT_FALSE(l[kLungLesion].has_value());
  EXPECT_EQ(l[kEdema], kPositive);
  EXPECT_EQ(l[kConsolidation], kNegative);
  EXPECT_EQ(l[kPneumonia], kUncertain);
  EXPECT_FALSE(l[kAtelectasis].has_value());
  EXPECT_EQ(l[kPneumothorax], kPositive);
  EXPECT_EQ(l[kPleuralEffusion], kNegative);
  EXPECT_EQ(l[kPleuralOther], kUncertain);
  EXPECT_FALSE(l[kFracture].has_value());
  EXPECT_EQ(l[kSupportDevices], kPositive);
  EXPECT_EQ(l[kNoFinding], kPositive);
  EXPECT_FALSE(chexbert_classes_to_labels({})[kNoFinding].has_value());
  EXPECT_THROW(chexbert_classes_to_labels({4}), std::invalid_argument);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("emrrg_bert_" + std::to_string(::getpid()) + "_" + name)).string();
}

TEST(Chexbert, LoaderErrorsNameTheFileAndTensor) {
  EXPECT_NE(error_of([] { models::load_chexbert(kDir + "/missing.pth"); }).find("missing.pth"), std::string::npos);
  // 3 heads do not divide hidden 32.
  EXPECT_NE(error_of([] { models::load_chexbert(kDir + "/chexbert.pth", 3); }).find("num_attention_heads 3"),
            std::string::npos);
  // A state dict without one head's bias.
  CheckpointOptions o;
  o.key = "model_state_dict";
  auto state = read_checkpoint(kDir + "/chexbert.pth", o);
  state.erase("module.linear_heads.13.bias");
  const std::string path = temp_path("no_head_bias.safetensors");
  save_safetensors(path, state);
  const std::string message = error_of([&] { models::load_chexbert(path, 2); });
  fs::remove(path);
  EXPECT_NE(message.find("linear_heads.13.bias"), std::string::npos) << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
  // A vocabulary that is not the checkpoint's.
  const std::string vocab = temp_path("vocab.txt");
  std::ofstream(vocab) << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n";
  metrics::ChexbertFiles files = metrics::chexbert_files_in(kDir);
  files.vocab = vocab;
  const std::string vocab_message = error_of([&] { metrics::ChexbertLabeller{files}; });
  fs::remove(vocab);
  EXPECT_NE(vocab_message.find("235 word embeddings"), std::string::npos) << vocab_message;
  // A config.json that is not JSON, or has no head count.
  const std::string config = temp_path("config.json");
  files = metrics::chexbert_files_in(kDir);
  files.config = config;
  for (const char* text : {"{\"num_attention_heads\": ", "{\"hidden_size\": 32}"}) {
    std::ofstream(config) << text;
    const std::string config_message = error_of([&] { metrics::ChexbertLabeller{files}; });
    EXPECT_NE(config_message.find(config), std::string::npos) << config_message;
  }
  fs::remove(config);
}

TEST(Bert, ConfigValidation) {
  const models::BertConfig base = models::BertConfig::base();
  EXPECT_EQ(base.hidden_size, 768);
  EXPECT_EQ(base.num_layers, 12);
  EXPECT_EQ(base.num_heads, 12);
  EXPECT_NO_THROW(base.validate("base"));
  models::BertConfig bad = base;
  bad.num_heads = 5;
  EXPECT_THROW(bad.validate("bad"), std::invalid_argument);
  const auto model = models::load_chexbert(kDir + "/chexbert.pth", 2);
  EXPECT_THROW(model->bert->forward(zeros({1, 513}, DType::Int64)), std::invalid_argument);
  EXPECT_THROW(model->bert->forward(zeros({2, 4}, DType::Int64), zeros({2, 5}, DType::Int64)), std::invalid_argument);
}

// `emrrg eval`'s stdout, and whether it exited 0; stderr goes to `stderr_path`.
std::string run_eval(const std::string& args, const std::string& stderr_path, int& status) {
  const std::string command = std::string(EMRRG_BINARY) + " eval " + args + " 2> " + stderr_path;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  status = ::pclose(pipe);
  return out;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(EvalCommand, ChexbertLabelsAndTheFallback) {
  const auto refs = fixture_reports();
  const std::vector<std::string> hyps(refs.rbegin(), refs.rend());
  const std::string hyps_path = temp_path("hyps.txt"), err = temp_path("stderr.txt");
  {
    std::ofstream out(hyps_path);
    for (const auto& h : hyps) out << h << "\n";
  }
  const std::string files = "--refs " + kDir + "/reports.txt --hyps " + hyps_path + " --json";

  const metrics::ChexbertLabeller labeller(metrics::chexbert_files_in(kDir));
  const auto ref_labels = labeller.label(refs), hyp_labels = labeller.label(hyps);
  for (const auto uncertain : {metrics::UncertainAs::Negative, metrics::UncertainAs::Positive}) {
    const bool positive = uncertain == metrics::UncertainAs::Positive;
    int status = -1;
    const std::string out =
        run_eval(files + " --chexbert " + kDir + " --ce-uncertain " + (positive ? "positive" : "negative"), err, status);
    ASSERT_EQ(status, 0) << read_all(err);
    const auto j = nlohmann::json::parse(out);
    EXPECT_EQ(j["CE_labeller"], "CheXbert");
    EXPECT_EQ(j["CE_uncertain"], positive ? "positive" : "negative");
    const auto ce = metrics::clinical_efficacy(std::span<const ChexpertLabels>(ref_labels),
                                               std::span<const ChexpertLabels>(hyp_labels), uncertain);
    EXPECT_DOUBLE_EQ(j["CE_f1_micro"].get<double>(), ce.micro.f1);
    EXPECT_DOUBLE_EQ(j["CE_precision_macro"].get<double>(), ce.macro.precision);
    EXPECT_DOUBLE_EQ(j["CE_f1_micro_5"].get<double>(), ce.micro_five.f1);
    EXPECT_DOUBLE_EQ(j["CE_recall_macro_5"].get<double>(), ce.macro_five.recall);
    EXPECT_TRUE(j.contains("BLEU_4") && j.contains("CIDEr"));
  }

  // Without the files: the rule-based labeller, said on stderr and in the output.
  int status = -1;
  const std::string out = run_eval(files + " --chexbert " + temp_path("no_such_dir"), err, status);
  ASSERT_EQ(status, 0) << read_all(err);
  EXPECT_NE(read_all(err).find("rule-based"), std::string::npos) << read_all(err);
  EXPECT_NE(read_all(err).find("chexbert.pth"), std::string::npos) << read_all(err);
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["CE_labeller"], "rule-based");
  const auto rule = metrics::clinical_efficacy(std::span<const std::string>(refs), std::span<const std::string>(hyps));
  EXPECT_DOUBLE_EQ(j["CE_f1_micro"].get<double>(), rule.micro.f1);

  // The table names the labeller too.
  const std::string table = run_eval("--refs " + kDir + "/reports.txt --hyps " + hyps_path + " --chexbert " + kDir, err, status);
  EXPECT_EQ(status, 0);
  EXPECT_NE(table.find("CheXbert"), std::string::npos) << table;
  EXPECT_NE(table.find("CE_f1_macro_5"), std::string::npos) << table;
  fs::remove(hyps_path);
  fs::remove(err);
}

}  // namespace
}  // namespace emrrg
