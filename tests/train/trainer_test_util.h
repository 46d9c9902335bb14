// A small Trainable and BatchSource for the trainer's tests: an MLP classifying points of a
// three-arm spiral, with dropout on its input so checkpoints must carry the random stream.
#pragma once
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "models/mlp.h"
#include "ops/ops.h"
#include "runtime/threading.h"
#include "train/data/demo_data.h"
#include "train/data/rng.h"
#include "train/trainable.h"

namespace emrrg::testing {

// A fresh directory under the test temp dir, removed at the end of the scope.
struct ScratchDir {
  std::string path;
  explicit ScratchDir(const std::string& name)
      : path((std::filesystem::temp_directory_path() / ("emrrg_trainer_" + std::to_string(::getpid()) + "_" + name))
                 .string()) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() { std::filesystem::remove_all(path); }
  std::string operator/(const std::string& child) const { return (std::filesystem::path(path) / child).string(); }
};

// Models this small run best on one thread: OpenMP's barriers next to the loader's workers on a
// loaded 2-core machine cost more than the arithmetic.
struct OneThread {
  int previous = num_threads();
  OneThread() { set_num_threads(1); }
  ~OneThread() { set_num_threads(previous); }
};

// A phantom data set of 30 studies (21 train, 3 val, 6 test) at `size` px; returns its
// annotation.json.
inline std::string make_phantom(const std::string& dir, int size = 32) {
  data::DemoDataConfig c;
  c.out_dir = dir;
  c.n = 30;
  c.size = size;
  c.seed = 3;
  c.threads = 2;
  data::make_demo_data(c);
  return dir + "/annotation.json";
}

#ifdef EMRRG_FIXTURES_DIR  // the GoogleTest programs (emrrg_add_test), not the programs they start
// A tiny report_lm run (1 layer, hidden size 16, the 512-token fixture tokenizer) on a phantom
// data set of 30 studies at 16 px made under `dir`: writes dir/run.toml, whose [train] table
// holds `train_keys` (TOML lines) after batch_size = 4, epochs = 0 and log_every = 1, and
// returns its path.
inline std::string write_report_lm_config(const ScratchDir& dir, const std::string& train_keys, int max_new_tokens) {
  const std::string annotation = make_phantom(dir / "data", 16), path = dir / "run.toml";
  std::ofstream(path) << "[data]\nannotation = \"" << annotation << "\"\ndataset = \"demo\"\nmax_length = 32\nnum_workers = 1\n"
                      << "[train]\nbatch_size = 4\nepochs = 0\nlog_every = 1\n"
                      << train_keys << "[generate]\nbeams = 1\nmax_new_tokens = " << max_new_tokens << "\n"
                      << "[report_lm]\ntokenizer = \"" << EMRRG_FIXTURES_DIR << "/tokenizers/tok512.model\"\n"
                      << "hidden_size = 16\nintermediate_size = 32\nlayers = 1\nheads = 2\nkv_heads = 2\n";
  return path;
}
#endif

class SpiralMlp : public train::Trainable {
 public:
  // `ballast` > 0 adds a trained [ballast] vector under a small L2 penalty, so checkpoints have
  // the size of a real model's and take a while to write.
  SpiralMlp(uint64_t init_seed, double dropout_p = 0.1, int64_t ballast = 0)
      : init_gen_(init_seed), model_(2, 16, 3, init_gen_), dropout_gen_(init_seed + 1000), p_(dropout_p) {
    if (ballast > 0) ballast_ = randn({ballast}, 0.0, 1.0, init_gen_).set_requires_grad();
  }
  Tensor loss(const data::Batch& b) override {
    Tensor loss = cross_entropy(model_.forward(dropout(b.images, p_, model_.is_training(), dropout_gen_)), b.labels);
    return ballast_.defined() ? add(loss, mul(mean(mul(ballast_, ballast_)), 1e-3)) : loss;
  }
  std::vector<train::TrainedParameter> trained_parameters() override {
    std::vector<train::TrainedParameter> out;
    for (auto& [name, t] : model_.named_parameters()) out.push_back({name, t, name.find("bias") == std::string::npos});
    if (ballast_.defined()) out.push_back({"ballast", ballast_, false});
    return out;
  }
  std::vector<std::string> generate(const data::Batch& b, const train::GenerateConfig&) override {
    return std::vector<std::string>(b.size(), "");
  }
  void set_training(bool on) override { model_.train(on); }
  std::vector<std::pair<std::string, Generator*>> generators() override { return {{"dropout", &dropout_gen_}}; }
  models::MLP& model() { return model_; }

 private:
  Generator init_gen_;
  models::MLP model_;
  Generator dropout_gen_;
  double p_;
  Tensor ballast_;
};

// n spiral points in batches, shuffled per epoch from the seed.
class SpiralSource : public train::BatchSource {
 public:
  SpiralSource(int64_t n, size_t batch_size, uint64_t seed, bool shuffle = true)
      : n_(n), batch_size_(batch_size), seed_(seed), shuffle_(shuffle) {
    data::Rng rng(7);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t arm = i % 3;
      const double r = static_cast<double>(i) / static_cast<double>(n);
      const double theta = static_cast<double>(arm) * 4.0 + 4.0 * r + 0.2 * rng.normal();
      points_.push_back(static_cast<float>(r * std::sin(theta)));
      points_.push_back(static_cast<float>(r * std::cos(theta)));
      labels_.push_back(arm);
    }
  }
  size_t batches_per_epoch() const override { return (static_cast<size_t>(n_) + batch_size_ - 1) / batch_size_; }
  void start_epoch(int64_t epoch, size_t first_batch) override {
    order_.resize(static_cast<size_t>(n_));
    std::iota(order_.begin(), order_.end(), size_t{0});
    if (shuffle_) {
      data::Rng rng(data::mix_seed({seed_, static_cast<uint64_t>(epoch)}));
      rng.shuffle(order_);
    }
    position_ = first_batch;
  }
  bool next(data::Batch& b) override {
    if (position_ >= batches_per_epoch()) return false;
    const size_t begin = position_ * batch_size_, end = std::min(order_.size(), begin + batch_size_);
    std::vector<float> x;
    std::vector<int64_t> y;
    b = data::Batch();
    for (size_t k = begin; k < end; ++k) {
      const size_t i = order_[k];
      x.push_back(points_[2 * i]);
      x.push_back(points_[2 * i + 1]);
      y.push_back(labels_[i]);
      b.ids.push_back(std::to_string(i));
      b.indices.push_back(i);
    }
    const auto rows = static_cast<int64_t>(end - begin);
    b.images = from_vector(x, {rows, 2});
    b.labels = from_vector(y, {rows});
    ++position_;
    return true;
  }
  size_t position() const override { return position_; }

 private:
  int64_t n_;
  size_t batch_size_;
  uint64_t seed_;
  bool shuffle_;
  std::vector<float> points_;
  std::vector<int64_t> labels_;
  std::vector<size_t> order_;
  size_t position_ = 0;
};

// The bytes of every trained parameter, for bit-exact comparisons.
inline std::vector<std::vector<char>> parameter_bytes(train::Trainable& m) {
  std::vector<std::vector<char>> out;
  for (const auto& p : m.trained_parameters()) {
    const Tensor c = to_contiguous(p.tensor);
    const auto* bytes = static_cast<const char*>(c.raw_data());
    out.emplace_back(bytes, bytes + c.numel() * static_cast<int64_t>(c.element_size()));
  }
  return out;
}

}  // namespace emrrg::testing
