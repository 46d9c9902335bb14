// A collective started without waiting for it (a gradient bucket's all-reduce while the next
// bucket is packed or the backward continues); wait() completes it or ends the job when it
// does not complete within the communicator's timeout.
#pragma once

namespace emrrg::train::distributed {

class PendingCollective {
 public:
  virtual ~PendingCollective() = default;
  virtual void wait() = 0;
};

}  // namespace emrrg::train::distributed
