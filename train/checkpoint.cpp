#include "train/checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "runtime/safetensors.h"
#include "train/atomic_file.h"
#include "train/crc32c.h"

namespace emrrg::train {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "emrrg-trainer-checkpoint";
constexpr int kVersion = 1;
constexpr const char* kStateFile = "trainer_state.json";
constexpr const char* kTempPrefix = ".tmp-";
const std::vector<std::string> kTensorFiles = {"model.safetensors", "optimizer.safetensors"};

std::string step_name(int64_t step) {
  char name[32];
  std::snprintf(name, sizeof(name), "step_%08lld", static_cast<long long>(step));
  return name;
}

// The step of a complete checkpoint directory's name, or -1.
int64_t parse_step_name(const std::string& name) {
  if (name.size() != 13 || name.rfind("step_", 0) != 0) return -1;
  int64_t step = 0;
  for (size_t i = 5; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    step = step * 10 + (name[i] - '0');
  }
  return step;
}

nlohmann::json file_record(const std::string& path) {
  const std::string bytes = read_file(path);
  return {{"bytes", bytes.size()}, {"crc32c", crc32c(bytes)}};
}

std::map<std::string, Tensor> read_tensors(const std::string& path) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  std::map<std::string, Tensor> out;
  for (const std::string& name : file.names()) out.emplace(name, file.get(name));
  return out;
}

[[noreturn]] void refuse(const std::string& dir, const std::string& what) {
  throw std::runtime_error("checkpoint '" + dir + "' refused: " + what);
}

}  // namespace

std::string checkpoint_dir(const std::string& checkpoints_dir, int64_t step) {
  return (fs::path(checkpoints_dir) / step_name(step)).string();
}

std::string save_checkpoint(const std::string& checkpoints_dir, const TrainerState& state,
                            const std::map<std::string, Tensor>& weights,
                            const std::map<std::string, Tensor>& optimizer) {
  fs::create_directories(checkpoints_dir);
  const std::string name = step_name(state.step);
  const fs::path final_dir = checkpoint_dir(checkpoints_dir, state.step);
  const fs::path tmp_dir = fs::path(checkpoints_dir) / (kTempPrefix + name + "." + std::to_string(getpid()));
  fs::remove_all(tmp_dir);
  fs::create_directory(tmp_dir);

  nlohmann::json files = nlohmann::json::object();
  const std::map<std::string, Tensor>* contents[] = {&weights, &optimizer};
  for (size_t i = 0; i < kTensorFiles.size(); ++i) {
    const std::string path = (tmp_dir / kTensorFiles[i]).string();
    save_safetensors(path, *contents[i], {{"format", kFormat}});
    fsync_path(path);
    files[kTensorFiles[i]] = file_record(path);
  }
  nlohmann::json gens = nlohmann::json::array();
  for (const GeneratorState& g : state.generators)
    gens.push_back({{"name", g.name}, {"seed", g.seed}, {"offset", g.offset}});
  nlohmann::json j = {{"format", kFormat},
                      {"version", kVersion},
                      {"step", state.step},
                      {"epoch", state.epoch},
                      {"batch_in_epoch", state.batch_in_epoch},
                      {"optimizer_steps", state.optimizer_steps},
                      {"world_size", state.world_size},
                      {"generators", gens},
                      {"best_step", state.best_step},
                      {"files", files}};
  if (state.best_step >= 0) j["best_score"] = state.best_score;
  write_file_atomic((tmp_dir / kStateFile).string(), j.dump(2) + "\n");
  fsync_directory(tmp_dir.string());
  // A checkpoint of this step from a run that was killed after its rename is replaced whole.
  if (fs::exists(final_dir)) {
    fs::remove_all(final_dir);
    fsync_directory(checkpoints_dir);
  }
  rename_durably(tmp_dir.string(), final_dir.string());
  return final_dir.string();
}

Checkpoint load_checkpoint(const std::string& dir) {
  Checkpoint ck;
  ck.dir = dir;
  const std::string state_path = (fs::path(dir) / kStateFile).string();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(state_path));
  } catch (const std::exception& e) {
    refuse(dir, std::string(kStateFile) + " is unreadable or not JSON (" + e.what() + ")");
  }
  try {
    if (j.value("format", "") != kFormat) refuse(dir, std::string(kStateFile) + " is not an emrrg trainer state");
    if (j.value("version", 0) != kVersion)
      refuse(dir, std::string(kStateFile) + " has version " + j.value("version", nlohmann::json()).dump() +
                      ", this program reads version " + std::to_string(kVersion));
    for (const std::string& f : kTensorFiles) {
      const std::string path = (fs::path(dir) / f).string();
      if (!j["files"].contains(f)) refuse(dir, std::string(kStateFile) + " does not list " + f);
      const uint64_t want_bytes = j["files"][f].at("bytes").get<uint64_t>();
      const uint32_t want_crc = j["files"][f].at("crc32c").get<uint32_t>();
      std::string bytes;
      try {
        bytes = read_file(path);
      } catch (const std::exception&) {
        refuse(dir, f + " is missing");
      }
      if (bytes.size() != want_bytes)
        refuse(dir, f + " has " + std::to_string(bytes.size()) + " bytes, the state records " +
                        std::to_string(want_bytes) + " (truncated or replaced)");
      if (crc32c(bytes) != want_crc) refuse(dir, f + " does not match its CRC-32C (corrupted)");
    }
    TrainerState& s = ck.state;
    s.step = j.at("step").get<int64_t>();
    s.epoch = j.at("epoch").get<int64_t>();
    s.batch_in_epoch = j.at("batch_in_epoch").get<uint64_t>();
    s.optimizer_steps = j.at("optimizer_steps").get<int64_t>();
    s.world_size = j.value("world_size", 1);  // checkpoints from before data parallelism: one process
    s.best_step = j.at("best_step").get<int64_t>();
    if (s.best_step >= 0) s.best_score = j.at("best_score").get<double>();
    for (const auto& g : j.at("generators"))
      s.generators.push_back(
          {g.at("name").get<std::string>(), g.at("seed").get<uint64_t>(), g.at("offset").get<uint64_t>()});
    if (s.step < 0 || s.epoch < 0) refuse(dir, "negative step or epoch in " + std::string(kStateFile));
  } catch (const nlohmann::json::exception& e) {
    refuse(dir, std::string(kStateFile) + ": " + e.what());
  }
  ck.weights = read_tensors((fs::path(dir) / kTensorFiles[0]).string());
  ck.optimizer = read_tensors((fs::path(dir) / kTensorFiles[1]).string());
  return ck;
}

std::vector<std::string> list_checkpoints(const std::string& checkpoints_dir) {
  std::vector<std::pair<int64_t, std::string>> found;
  if (!fs::is_directory(checkpoints_dir)) return {};
  for (const auto& entry : fs::directory_iterator(checkpoints_dir)) {
    const int64_t step = parse_step_name(entry.path().filename().string());
    if (step >= 0 && entry.is_directory()) found.emplace_back(step, entry.path().string());
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

void remove_incomplete_checkpoints(const std::string& checkpoints_dir) {
  if (!fs::is_directory(checkpoints_dir)) return;
  std::vector<fs::path> stale;
  for (const auto& entry : fs::directory_iterator(checkpoints_dir))
    if (entry.path().filename().string().rfind(kTempPrefix, 0) == 0) stale.push_back(entry.path());
  for (const fs::path& p : stale) fs::remove_all(p);
  if (!stale.empty()) fsync_directory(checkpoints_dir);
}

void prune_checkpoints(const std::string& checkpoints_dir, int keep, int64_t protected_step) {
  const std::vector<std::string> all = list_checkpoints(checkpoints_dir);
  bool removed = false;
  for (size_t i = static_cast<size_t>(std::max(keep, 1)); i < all.size(); ++i) {
    if (parse_step_name(fs::path(all[i]).filename().string()) == protected_step) continue;
    fs::remove_all(all[i]);
    removed = true;
  }
  if (removed) fsync_directory(checkpoints_dir);
}

}  // namespace emrrg::train
