// torch.save files read without Python. The zip format (PyTorch >= 1.6): <name>/data.pkl is a
// pickle of the saved object whose tensors refer, by persistent id, to raw little-endian storages
// <name>/data/<key>. The pickle goes through the restricted unpickler (runtime/pickle.h): it
// knows only what a checkpoint needs (torch._utils._rebuild_tensor_v2, _rebuild_parameter, the
// typed storages, plain containers, argparse.Namespace as an inert object) and executes nothing;
// any other global is an error naming it. Tensors are views of their storages with the saved
// sizes, strides and offset, so tensors that shared a storage share it here too. The legacy
// (pre-1.6, non-zip) format and TorchScript archives are refused with a message saying so.
#pragma once
#include <string>
#include <vector>

#include "runtime/pickle.h"

namespace emrrg {

struct TorchCheckpointOptions {
  // Further classes (as "module.QualName") the caller knows to be plain records, rebuilt as inert
  // objects like argparse.Namespace whether the pickle instantiates or calls them (a Lightning
  // AttributeDict, torch.device, a numpy scalar beside the weights); their code never runs.
  std::vector<std::string> inert_classes;
};

class TorchCheckpoint {
 public:
  // Reads the whole file; throws std::runtime_error naming `path` and what is wrong.
  static TorchCheckpoint open(const std::string& path, const TorchCheckpointOptions& options = {});

  const std::string& path() const { return path_; }
  const PickleValue& root() const { return *data_.root; }

 private:
  std::string path_;
  Unpickled data_;
};

// Whether the file starts like something torch.save wrote: a zip archive (PyTorch >= 1.6) or
// a bare pickle (the legacy format, which open() refuses with a message saying so).
bool looks_like_torch_save(const std::string& path);

}  // namespace emrrg
