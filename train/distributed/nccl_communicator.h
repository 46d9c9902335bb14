// The Communicator on NCCL for CUDA tensors (one process per GPU: the rank's local rank picks
// the device). Collectives run on the communicator's own stream, ordered after the work already
// issued to the caller's current stream (an event), so a gradient bucket's all-reduce overlaps
// the backward that continues on the compute stream; wait() makes the compute stream wait for
// it. NCCL's unique id comes from rank 0 through MPI's broadcast or a shared file
// (--dist-init file:PATH). The communicator is non-blocking: initialisation and every wait poll
// ncclCommGetAsyncError against the timeout, and a failure or a timeout calls ncclCommAbort
// (no rank is left inside a dead collective) and ends the job with an error naming the call.
// Built only with EMRRG_CUDA=ON (nvcc): compile-checked in CI, run on GPU machines.
#pragma once
#include <memory>
#include <string>

#include "train/distributed/communicator.h"

namespace emrrg::train::distributed {

struct NcclBootstrap {
  Communicator* mpi = nullptr;  // broadcasts rank 0's unique id when set
  std::string init_file;        // else: the id through this shared file (--dist-init file:PATH)
};

class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(int rank, int world_size, int device, const NcclBootstrap& bootstrap, double timeout_seconds = 300);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int world_size() const override { return world_; }
  std::string engine() const override { return "nccl"; }
  Device device() const override { return Device::cuda(device_); }

  std::unique_ptr<PendingCollective> all_reduce_async(Tensor& t, ReduceOp op) override;
  void reduce_scatter(const Tensor& input, Tensor& output, ReduceOp op) override;
  void all_gather(const Tensor& input, Tensor& output) override;
  void broadcast(Tensor& t, int root) override;
  void barrier() override;
  [[noreturn]] void abort(const std::string& why) override;

  struct State;  // NCCL and CUDA handles (nccl_communicator.cpp)
  // Waits for the collective `what` whose completion `done_event` (a cudaEvent_t) marks.
  void wait(void* done_event, const char* what);

 private:
  int rank_, world_, device_;
  double timeout_;
  Communicator* mpi_;
  std::unique_ptr<State> state_;
};

}  // namespace emrrg::train::distributed
