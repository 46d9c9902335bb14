// The collectives data-parallel training needs, over one group of processes (ranks). Two
// engines implement it: MPI for CPU tensors (mpi_communicator.h) and NCCL for CUDA tensors
// (nccl_communicator.h). Every rank must call the same collectives in the same order with
// tensors of the same shapes and dtypes; a collective that does not complete within the
// communicator's timeout (a rank died or hangs) ends the job with an error naming it.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "runtime/tensor.h"
#include "train/distributed/pending_collective.h"

namespace emrrg::train::distributed {

enum class ReduceOp { Sum, Mean };

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual std::string engine() const = 0;  // "mpi", "nccl"
  // Where its tensors live: host values (a loss, a hash) go through a copy there.
  virtual Device device() const = 0;

  // In place: every rank's `t` becomes the sum (or mean) over ranks. t contiguous, float32 or
  // bfloat16 (reduced in float32).
  void all_reduce(Tensor& t, ReduceOp op) { all_reduce_async(t, op)->wait(); }
  // The same, started now and completed by wait() (t must stay alive and untouched until then).
  virtual std::unique_ptr<PendingCollective> all_reduce_async(Tensor& t, ReduceOp op) = 0;
  // input [world * n] (contiguous) -> output [n]: rank r gets the reduction of chunk r.
  virtual void reduce_scatter(const Tensor& input, Tensor& output, ReduceOp op) = 0;
  // input [n] -> output [world * n]: chunk r is rank r's input.
  virtual void all_gather(const Tensor& input, Tensor& output) = 0;
  // In place: every rank's `t` becomes root's.
  virtual void broadcast(Tensor& t, int root) = 0;
  // Root's `value` on every rank (a decision root takes for all: a score, a flag), through a
  // one-element tensor on the communicator's device.
  double broadcast_value(double value, int root) {
    Tensor t = to_device(from_vector(std::vector<double>{value}, {1}), device());
    broadcast(t, root);
    return t.item();
  }
  virtual void barrier() = 0;
  // Ends every rank of the job now, printing `why` (a fault seen by one rank).
  [[noreturn]] virtual void abort(const std::string& why) = 0;
};

}  // namespace emrrg::train::distributed
