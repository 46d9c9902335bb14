#include "train/train_run.h"

#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <stdexcept>

#include "train/atomic_file.h"
#include "train/baselines.h"
#include "train/config/run_config.h"
#include "train/config/toml_document.h"
#include "train/data/loader.h"
#include "train/metrics_table.h"
#include "train/report_lm.h"
#include "train/report_validation.h"
#include "train/trainer.h"

namespace emrrg::train {

namespace {

struct ReportLmConfig {
  std::string tokenizer;
  models::LlamaConfig llama;
};

// [report_lm]: the text-only report language model's tokenizer and shape.
ReportLmConfig read_report_lm_config(const toml::table& doc, const std::string& source) {
  ReportLmConfig c;
  models::LlamaConfig& l = c.llama;
  l.hidden_size = 64;
  l.intermediate_size = 172;
  l.num_layers = 2;
  l.num_heads = 4;
  l.num_kv_heads = 4;
  config::TableReader r(doc, "report_lm", source);
  if (!r.present()) throw std::runtime_error("config '" + source + "': no model table ([report_lm])");
  r.string("tokenizer", c.tokenizer);
  r.integer("hidden_size", l.hidden_size, 2);
  r.integer("intermediate_size", l.intermediate_size, 1);
  r.integer("layers", l.num_layers, 1);
  r.integer("heads", l.num_heads, 1);
  r.integer("kv_heads", l.num_kv_heads, 1);
  r.reject_unknown();
  if (c.tokenizer.empty()) r.fail("tokenizer", "is required (a SentencePiece .model or llama2.c tokenizer.bin)");
  if (l.hidden_size % l.num_heads != 0) r.fail("heads", "must divide hidden_size");
  l.head_dim = l.hidden_size / l.num_heads;
  return c;
}

// What a config describes: the tables, the tokenizer and the model.
struct RunSetup {
  config::DataConfig data;
  config::TrainConfig train;
  GenerateConfig generate;
  std::shared_ptr<const data::Tokenizer> tokenizer;
  std::unique_ptr<ReportLanguageModel> model;

  RunSetup(const std::string& source, const std::vector<std::string>& overrides) {
    const toml::table doc = config::load_document(source, overrides);
    config::reject_unknown_tables(doc, {"data", "train", "generate", "report_lm"}, source);
    data = config::read_data_config(doc, source);
    train = config::read_train_config(doc, source);
    generate = config::read_generate_config(doc, source);
    ReportLmConfig lm = read_report_lm_config(doc, source);
    if (data.annotation.empty()) throw std::runtime_error("config '" + source + "': [data] annotation is required");
    tokenizer = data::load_tokenizer(lm.tokenizer);
    lm.llama.vocab_size = tokenizer->vocab_size();
    lm.llama.bos_token_id = tokenizer->bos_id();
    lm.llama.eos_token_id = tokenizer->eos_id();
    model = std::make_unique<ReportLanguageModel>(lm.llama, tokenizer, train.seed);
  }

  data::ReportDataset dataset(const std::string& split) const {
    data::DatasetConfig c = config::dataset_config(data, split);
    c.image.size = 16;  // the report language model never looks at the images: decode them small
    return data::ReportDataset(c, tokenizer);
  }
  data::LoaderConfig loader(bool shuffle) const {
    data::LoaderConfig l;
    l.batch_size = train.batch_size;
    l.seed = train.seed;
    l.shuffle = shuffle;
    l.num_workers = data.num_workers;
    return l;
  }
};

}  // namespace

TrainerState run_training(const TrainRunOptions& o, std::ostream& log) {
  RunSetup setup(o.config_path, o.overrides);
  if (!o.out_dir.empty()) setup.train.trainer.out_dir = o.out_dir;
  const data::ReportDataset train_set = setup.dataset("train"), val_set = setup.dataset("val");
  data::DataLoader train_loader(train_set, setup.loader(true)), val_loader(val_set, setup.loader(false));
  LoaderSource train_data(train_loader), val_data(val_loader);
  log << "train: report language model (" << setup.model->llama().num_parameters() << " parameters) on "
      << train_set.size() << " training and " << val_set.size() << " validation studies of '" << setup.data.annotation
      << "'\n";
  Trainer trainer(
      *setup.model, train_data, setup.train.trainer,
      [&](Trainable& m, int64_t) { return validate_by_generation(m, val_data, setup.generate); }, &log);
  if (!o.resume_dir.empty() && !trainer.resume(o.resume_dir))
    log << "resume: no checkpoint under '" << o.resume_dir << "' yet; starting at step 0\n";
  trainer.fit();
  return trainer.state();
}

TestResult run_test(const TestRunOptions& o, std::ostream& log) {
  RunSetup setup(o.config_path, o.overrides);
  load_trained_weights(*setup.model, o.weights);
  const data::ReportDataset train_set = setup.dataset("train"), split = setup.dataset(o.split);
  data::DataLoader loader(split, setup.loader(false));
  LoaderSource source(loader);
  TestResult r;
  r.metrics = evaluate_split(*setup.model, source, setup.generate, &r.reports);
  r.baselines = baseline_metrics(train_set, split, setup.train.seed);
  if (!o.reports_path.empty()) {
    std::string text;
    for (const GeneratedReport& g : r.reports)
      text += nlohmann::json({{"id", g.id}, {"reference", g.reference}, {"generated", g.generated}}).dump() + "\n";
    write_file_atomic(o.reports_path, text);
  }
  log << "test: " << r.reports.size() << " studies of the " << o.split << " split of '" << setup.data.annotation
      << "'\n";
  return r;
}

}  // namespace emrrg::train
