// The error text for a state dict that does not fit a model: the missing, unexpected and
// mis-shaped names, each list counted, and, when one name prefix would map the checkpoint's names
// onto the model's (DDP's "module.", a wrapper's "model."), a hint naming that mapping in the
// "FROM=TO" form that --rename and the configs' backbone_rename take (runtime/checkpoint.h).
#pragma once
#include <string>
#include <vector>

namespace emrrg::nn {

// "\n  missing keys (2): a b\n  unexpected keys (2): module.a module.b\n  hint: ..."; empty
// lists are left out.
std::string describe_state_dict_mismatch(const std::vector<std::string>& missing,
                                         const std::vector<std::string>& unexpected,
                                         const std::vector<std::string>& misshaped = {});

}  // namespace emrrg::nn
