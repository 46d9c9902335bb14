#include "train/train_run.h"

#include <memory>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include "train/config/run_config.h"
#include "train/config/toml_document.h"
#include "train/data/loader.h"
#include "train/distributed/config_agreement.h"
#include "train/distributed/launch_env.h"
#include "train/distributed/mpi_communicator.h"
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

}  // namespace

TrainerState run_training(const TrainRunOptions& o, std::ostream& main_log) {
  const std::string& source = o.config_path;
  const toml::table doc = config::load_document(source, o.overrides);
  // Launched as several ranks (mpirun, srun): MPI joins them, and they must agree on the run.
  std::unique_ptr<distributed::MpiCommunicator> comm;
  if (distributed::read_launch_env().distributed() || o.zero > 0) {
    comm = std::make_unique<distributed::MpiCommunicator>(o.dist_timeout);
    std::ostringstream resolved;
    resolved << doc << "\nout_dir=" << o.out_dir << "\nresume=" << o.resume_dir << "\nzero=" << o.zero;
    distributed::check_same_config(*comm, resolved.str());
  }
  std::ostringstream quiet;
  std::ostream& log = !comm || comm->rank() == 0 ? main_log : quiet;  // rank 0 speaks for the job
  config::reject_unknown_tables(doc, {"data", "train", "generate", "report_lm"}, source);
  const config::DataConfig data_config = config::read_data_config(doc, source);
  config::TrainConfig train_config = config::read_train_config(doc, source);
  const GenerateConfig generate_config = config::read_generate_config(doc, source);
  ReportLmConfig lm = read_report_lm_config(doc, source);
  if (!o.out_dir.empty()) train_config.trainer.out_dir = o.out_dir;
  if (data_config.annotation.empty()) throw std::runtime_error("config '" + source + "': [data] annotation is required");

  const std::shared_ptr<const data::Tokenizer> tokenizer = data::load_tokenizer(lm.tokenizer);
  lm.llama.vocab_size = tokenizer->vocab_size();
  lm.llama.bos_token_id = tokenizer->bos_id();
  lm.llama.eos_token_id = tokenizer->eos_id();
  data::DatasetConfig train_set_config = config::dataset_config(data_config, "train");
  // The report language model never looks at the images: decode them small.
  train_set_config.image.size = 16;
  data::DatasetConfig val_set_config = train_set_config;
  val_set_config.split = "val";
  const data::ReportDataset train_set(train_set_config, tokenizer), val_set(val_set_config, tokenizer);

  data::LoaderConfig loader;
  loader.batch_size = train_config.batch_size;
  loader.seed = train_config.seed;
  loader.num_workers = data_config.num_workers;
  if (comm) {
    loader.rank = comm->rank();
    loader.world_size = comm->world_size();
    train_config.trainer.communicator = comm.get();
    train_config.trainer.zero_stage = o.zero;
  }
  data::DataLoader train_loader(train_set, loader);
  // Rank 0 validates on the whole split.
  loader.rank = 0;
  loader.world_size = 1;
  loader.shuffle = false;
  data::DataLoader val_loader(val_set, loader);
  LoaderSource train_data(train_loader), val_data(val_loader);

  ReportLanguageModel model(lm.llama, tokenizer, train_config.seed);
  log << "train: report language model (" << model.llama().num_parameters() << " parameters) on " << train_set.size()
      << " training and " << val_set.size() << " validation studies of '" << data_config.annotation << "'";
  if (comm) log << ", data parallel over " << comm->world_size() << " ranks" << (o.zero == 1 ? " with ZeRO-1" : "");
  log << "\n";
  Trainer trainer(model, train_data, train_config.trainer,
                  [&](Trainable& m, int64_t) { return validate_by_generation(m, val_data, generate_config); }, &log);
  if (!o.resume_dir.empty() && !trainer.resume(o.resume_dir))
    log << "resume: no checkpoint under '" << o.resume_dir << "' yet; starting at step 0\n";
  trainer.fit();
  return trainer.state();
}

}  // namespace emrrg::train
