// A model's weights from a checkpoint file, whatever its format: safetensors, or a torch.save
// zip (runtime/torch_checkpoint.h), recognised by content. A nested torch checkpoint (Vim's
// {"model": ..., "args": Namespace}, Lightning's {"state_dict": ...}, DDP's "module.") is
// narrowed to its state dict and its names mapped explicitly, never guessed.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/tensor.h"

namespace emrrg {

struct CheckpointOptions {
  // The top-level entry that holds the state dict in a torch checkpoint. Empty: the top level
  // itself when every value there is a tensor, else the first of "model", "state_dict", "module"
  // present, looked for again inside it while it is not a plain state dict.
  std::string key;
  // Name mappings {from, to}: a name starting with `from` has that prefix replaced by `to`
  // (e.g. {"module.", ""}); the first matching mapping applies.
  std::vector<std::pair<std::string, std::string>> rename_prefixes;
  // ECMAScript regexes matched against whole (mapped) names; matching tensors are left out
  // (a classification head the encoder does not have, say).
  std::vector<std::string> exclude;
  // Plain-record classes allowed in a torch checkpoint besides argparse.Namespace.
  std::vector<std::string> inert_classes;
};

// A rename_prefixes entry from its "FROM=TO" spelling (e.g. "module.=" strips DDP's prefix,
// "=visual." adds one); nullopt without an '='. The command line and the configs share it.
std::optional<std::pair<std::string, std::string>> parse_prefix_rename(const std::string& from_to);

// Name -> tensor (CPU). Throws std::runtime_error naming the file and the problem: no state
// dict where one was expected (listing the keys present), a non-tensor or non-string entry,
// two names mapped to one, an invalid pattern.
std::map<std::string, Tensor> read_checkpoint(const std::string& path, const CheckpointOptions& options = {});

}  // namespace emrrg
