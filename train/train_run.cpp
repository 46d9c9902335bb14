#include "train/train_run.h"

#include <filesystem>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include "autograd/tape.h"
#include "train/atomic_file.h"
#include "train/baselines.h"
#include "train/config/run_config.h"
#include "train/config/toml_document.h"
#include "models/emrrg/parameter_count.h"
#include "train/data/image_io.h"
#include "train/data/image_transform.h"
#include "train/data/loader.h"
#include "train/distributed/config_agreement.h"
#include "train/distributed/launch_env.h"
#include "train/distributed/file_rendezvous.h"
#include "train/distributed/mpi_communicator.h"
#include "train/emrrg_trainable.h"
#include "train/encoder_pretraining.h"
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

// What a config describes: the tables, the tokenizer and the model (built by build_model, after a
// [pretrain] stage has made the encoder it starts from).
struct RunSetup {
  std::string source;
  toml::table doc;
  config::DataConfig data;
  config::TrainConfig train;
  GenerateConfig generate;
  std::shared_ptr<const data::Tokenizer> tokenizer;
  std::optional<ReportLmConfig> report_lm;
  std::optional<EmrrgSetup> emrrg;
  std::unique_ptr<Trainable> model;
  std::string description;
  Device device;  // where build_model puts the model

  RunSetup(const std::string& path, const std::vector<std::string>& overrides, bool random_init, Device device)
      : source(path), doc(config::load_document(path, overrides)), device(device) {
    config::reject_unknown_tables(
        doc, {"data", "train", "generate", "report_lm", "vision", "llm", "model", "weights", "random_init", "pretrain"},
        source);
    data = config::read_data_config(doc, source);
    train = config::read_train_config(doc, source);
    generate = config::read_generate_config(doc, source);
    if (data.annotation.empty()) throw std::runtime_error("config '" + source + "': [data] annotation is required");
    if (describes_emrrg(doc)) {
      if (doc.contains("report_lm"))
        throw std::runtime_error("config '" + source + "': [report_lm] cannot be beside [vision]/[llm] (one model per config)");
      emrrg = read_emrrg_setup(doc, source, random_init);
      tokenizer = emrrg->tokenizer;
    } else {
      if (random_init) throw std::runtime_error("config '" + source + "': --random-init is for EMRRG configs");
      if (has_pretrain(doc)) throw std::runtime_error("config '" + source + "': [pretrain] needs an EMRRG model");
      report_lm = read_report_lm_config(doc, source);
      tokenizer = data::load_tokenizer(report_lm->tokenizer);
      report_lm->llama.vocab_size = tokenizer->vocab_size();
      report_lm->llama.bos_token_id = tokenizer->bos_id();
      report_lm->llama.eos_token_id = tokenizer->eos_id();
    }
  }

  // `backbone`, when not empty, replaces [weights] backbone.
  void build_model(const std::string& backbone = "") {
    if (emrrg) {
      auto m = build_emrrg_trainable(*emrrg, train.seed, backbone, device);
      int64_t trained = 0;
      for (const TrainedParameter& p : m->trained_parameters()) trained += p.tensor.numel();
      description = "EMRRG (" + std::to_string(models::count_parameters(m->model()).total()) + " parameters, " +
                    std::to_string(trained) + " trained)";
      model = std::move(m);
    } else {
      auto m = std::make_unique<ReportLanguageModel>(report_lm->llama, tokenizer, train.seed, device);
      description = "report language model (" + std::to_string(m->llama().num_parameters()) + " parameters)";
      model = std::move(m);
    }
  }

  data::ReportDataset dataset(const std::string& split) const {
    data::DatasetConfig c = config::dataset_config(data, split);
    // the report language model never looks at the images: decode them small
    c.image.size = emrrg ? static_cast<int>(emrrg->config.vision.image_size) : 16;
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

// The stage-1 encoder of the run that wrote `weights` (a checkpoint folder or its
// model.safetensors): <run>/pretrain/encoder.safetensors, <run> being the folder above checkpoints/.
std::string stage1_encoder_of(const std::string& weights) {
  std::filesystem::path dir = std::filesystem::absolute(weights);
  if (!std::filesystem::is_directory(dir)) dir = dir.parent_path();
  for (int up = 0; up < 3 && !dir.empty(); ++up, dir = dir.parent_path()) {
    const std::filesystem::path encoder = dir / "pretrain" / "encoder.safetensors";
    if (std::filesystem::exists(encoder)) return encoder.string();
  }
  throw std::runtime_error("weights '" + weights +
                           "': the config pre-trains its encoder ([pretrain]) but no pretrain/encoder.safetensors "
                           "is in the run folder above them");
}

// A trained model from `weights`: the stage-1 encoder (with [pretrain]) and the trained parameters.
void load_trained_model(RunSetup& setup, const std::string& weights) {
  setup.build_model(has_pretrain(setup.doc) ? stage1_encoder_of(weights) : "");
  load_trained_weights(*setup.model, weights);
}

}  // namespace

TrainerState run_training(const TrainRunOptions& o, std::ostream& main_log) {
  RunSetup setup(o.config_path, o.overrides, o.random_init, o.device);
  if (!o.resume_dir.empty()) setup.train.trainer.out_dir = o.resume_dir;
  if (!o.out_dir.empty()) setup.train.trainer.out_dir = o.out_dir;
  setup.train.trainer.profile = o.profile;
  // Launched as several ranks (mpirun, srun): MPI joins them (or, with --dist-init, NCCL alone
  // through a shared file), and they must agree on the run.
  std::unique_ptr<distributed::MpiCommunicator> mpi;
  std::unique_ptr<distributed::Communicator> nccl;
  distributed::Communicator* comm = nullptr;
  Device device = o.device;
  const distributed::LaunchEnv env = distributed::read_launch_env();
  if (!o.dist_init.empty() && !env.distributed())
    throw std::runtime_error("distributed: --dist-init joins the ranks of a job, but this process was not started as "
                             "one (by srun or mpirun)");
  if (!o.dist_init.empty() && device.type != DeviceType::CUDA)
    throw std::runtime_error("distributed: --dist-init bootstraps NCCL, which averages GPU tensors; this run is on " +
                             device.str() + " (pass --device cuda, or leave --dist-init out to average with MPI)");
  if (env.distributed() || o.zero > 0) {
    if (o.dist_init.empty()) {
      mpi = std::make_unique<distributed::MpiCommunicator>(o.dist_timeout);
      // srun without MPI support starts N programs that each start MPI alone: N separate runs.
      if (env.distributed() && mpi->world_size() != env.world_size)
        throw std::runtime_error("distributed: the launcher (" + env.launcher + ") started " +
                                 std::to_string(env.world_size) + " ranks but MPI joined " +
                                 std::to_string(mpi->world_size()) +
                                 " (under srun, pass --mpi=pmix or --dist-init file:PATH, or start the job with mpirun)");
      comm = mpi.get();
    }
    if (device.type == DeviceType::CUDA) {
      if (!o.gpu_communicator)
        throw std::runtime_error("distributed: data parallelism on " + device.str() +
                                 " needs NCCL, which this build does not link (configure with -DEMRRG_CUDA=ON), or "
                                 "pass --device cpu");
      // One process per GPU: a rank takes its node's GPU number local_rank.
      device = Device::cuda(env.local_rank);
      distributed::NcclBootstrap bootstrap;
      bootstrap.mpi = mpi.get();
      if (!o.dist_init.empty()) bootstrap.init_file = distributed::parse_dist_init(o.dist_init);
      nccl = o.gpu_communicator(mpi ? mpi->rank() : env.rank, mpi ? mpi->world_size() : env.world_size, env.local_rank,
                                bootstrap, o.dist_timeout);
      comm = nccl.get();
    }
    std::ostringstream resolved;
    resolved << config::load_document(o.config_path, o.overrides) << "\nout_dir=" << o.out_dir << "\nresume=" << o.resume_dir
             << "\nzero=" << o.zero;
    distributed::check_same_config(*comm, resolved.str());
    setup.train.trainer.communicator = comm;
    setup.train.trainer.zero_stage = o.zero;
  }
  setup.device = device;
  std::ostringstream quiet;
  std::ostream& log = !comm || comm->rank() == 0 ? main_log : quiet;  // rank 0 speaks for the job
  const data::ReportDataset train_set = setup.dataset("train"), val_set = setup.dataset("val");
  std::string backbone;
  if (has_pretrain(setup.doc)) {
    PretrainConfig stage1 = read_pretrain_config(setup.doc, setup.source);
    stage1.precision = setup.train.trainer.precision;
    backbone = pretrain_encoder(setup.emrrg->config.vision, stage1, train_set, setup.data.num_workers, setup.train.seed,
                                (std::filesystem::path(setup.train.trainer.out_dir) / "pretrain").string(), device,
                                log, comm);
  }
  setup.build_model(backbone);
  setup.train.trainer.device_memory_mb = device_memory_reporter(device);
  data::LoaderConfig shard = setup.loader(true);
  if (comm) {
    shard.rank = comm->rank();
    shard.world_size = comm->world_size();
  }
  // Rank 0 validates on the whole split.
  data::DataLoader train_loader(train_set, shard), val_loader(val_set, setup.loader(false));
  LoaderSource train_data(train_loader), val_data(val_loader);
  log << "train: " << setup.description << " on " << device.str() << ", " << train_set.size() << " training and "
      << val_set.size() << " validation studies of '" << setup.data.annotation << "'";
  if (comm)
    log << ", data parallel over " << comm->world_size() << " ranks" << (o.zero == 1 ? " with ZeRO-1" : "") << " ("
        << comm->engine() << ")";
  log << "\n";
  Trainer trainer(
      *setup.model, train_data, setup.train.trainer,
      [&](Trainable& m, int64_t) { return validate_by_generation(m, val_data, setup.generate); }, &log);
  if (!o.resume_dir.empty() && !trainer.resume(o.resume_dir))
    log << "resume: no checkpoint under '" << o.resume_dir << "' yet; starting at step 0\n";
  trainer.fit();
  return trainer.state();
}

TestResult run_test(const TestRunOptions& o, std::ostream& log) {
  RunSetup setup(o.config_path, o.overrides, o.random_init, o.device);
  load_trained_model(setup, o.weights);
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
      << "' on " << o.device.str() << "\n";
  return r;
}

std::string generate_report(const ReportGenerationOptions& o) {
  RunSetup setup(o.config_path, o.overrides, o.random_init, o.device);
  if (!setup.emrrg) throw std::runtime_error("generate --config: '" + o.config_path + "' is not an EMRRG config");
  if (o.images.empty()) throw std::runtime_error("generate --config: no images");
  load_trained_model(setup, o.weights);
  const int size = static_cast<int>(setup.emrrg->config.vision.image_size);
  const data::ImageTransform transform(data::ImageTransformConfig{size});
  const auto views = static_cast<int64_t>(o.images.size());
  data::Batch study;
  study.images = empty({1, views, 3, size, size});  // [1, views, 3, size, size]
  for (int64_t v = 0; v < views; ++v)
    transform.apply(data::read_image(o.images[static_cast<size_t>(v)]),
                    study.images.data<float>() + v * static_cast<int64_t>(transform.output_size()));
  study.ids = {"study"};
  autograd::NoGradGuard no_grad;
  setup.model->set_training(false);
  return setup.model->generate(study, setup.generate).at(0);
}

}  // namespace emrrg::train
