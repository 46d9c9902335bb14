// The Communicator on MPI (OpenMPI from Debian) for CPU tensors. Collectives are MPI's
// non-blocking ones, completed by polling against a deadline: a collective that has not
// completed `timeout_seconds` after its wait began (a rank died or hangs) prints which one and
// calls MPI_Abort, which ends every rank of the job. bfloat16 is reduced through float32
// staging buffers. Every MPI call is checked (file:line in the error).
#pragma once
#include <memory>

#include "train/distributed/communicator.h"

namespace emrrg::train::distributed {

class MpiCommunicator : public Communicator {
 public:
  // Initialises MPI unless already initialised (then it is left to its owner to finalise).
  explicit MpiCommunicator(double timeout_seconds = 300);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int world_size() const override { return world_; }
  std::string engine() const override { return "mpi"; }
  Device device() const override { return Device::cpu(); }
  double timeout_seconds() const { return timeout_; }
  // Waits for `request` (the collective `what`), aborting the job past the timeout.
  void wait(void* request, const char* what);

  std::unique_ptr<PendingCollective> all_reduce_async(Tensor& t, ReduceOp op) override;
  void reduce_scatter(const Tensor& input, Tensor& output, ReduceOp op) override;
  void all_gather(const Tensor& input, Tensor& output) override;
  void broadcast(Tensor& t, int root) override;
  void barrier() override;
  [[noreturn]] void abort(const std::string& why) override;

 private:
  int rank_ = 0, world_ = 1;
  double timeout_;
  bool owns_mpi_ = false;
};

}  // namespace emrrg::train::distributed
