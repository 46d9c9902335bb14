#include "train/distributed/mpi_communicator.h"

#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "train/distributed/mpi_check.h"

namespace emrrg::train::distributed {

namespace {

MPI_Datatype mpi_type(DType dtype, const char* what) {
  switch (dtype) {
    case DType::Float32: return MPI_FLOAT;
    case DType::Float64: return MPI_DOUBLE;
    case DType::Int64: return MPI_INT64_T;
    case DType::Int32: return MPI_INT32_T;
    default: throw std::invalid_argument(std::string("mpi ") + what + ": no MPI type for " + dtype_name(dtype));
  }
}

void check_cpu_contiguous(const Tensor& t, const char* what) {
  if (!t.defined() || !t.device().is_cpu() || !t.is_contiguous())
    throw std::invalid_argument(std::string("mpi ") + what + ": needs a contiguous CPU tensor, got " + (t.defined() ? t.str() : "undefined"));
}

// The mean from the sum, in the buffer's own precision (float32 or float64, contiguous).
void divide(const Tensor& t, int world) {
  const auto n = t.numel();
  if (t.dtype() == DType::Float64) {
    double* p = t.data<double>();
    for (int64_t i = 0; i < n; ++i) p[i] /= world;
  } else {
    float* p = t.data<float>();
    for (int64_t i = 0; i < n; ++i) p[i] /= static_cast<float>(world);
  }
}

// An all-reduce in flight: the buffer MPI reduces (t itself, or a float32 copy of a bfloat16 t),
// and what completing it must do (the mean's division, the copy back).
class MpiAllReduce : public PendingCollective {
 public:
  MpiAllReduce(MpiCommunicator& comm, Tensor target, Tensor buffer, ReduceOp op)
      : comm_(comm), target_(std::move(target)), buffer_(std::move(buffer)), op_(op) {
    EMRRG_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, buffer_.raw_data(), static_cast<int>(buffer_.numel()),
                                   mpi_type(buffer_.dtype(), "all_reduce"), MPI_SUM, MPI_COMM_WORLD, &request_));
  }
  ~MpiAllReduce() override {
    if (!done_) wait();
  }
  void wait() override {
    if (done_) return;
    done_ = true;
    comm_.wait(&request_, "all_reduce");
    if (op_ == ReduceOp::Mean) divide(buffer_, comm_.world_size());
    if (buffer_.impl() != target_.impl()) copy_into(target_, buffer_);
  }

 private:
  MpiCommunicator& comm_;
  Tensor target_, buffer_;
  ReduceOp op_;
  MPI_Request request_ = MPI_REQUEST_NULL;
  bool done_ = false;
};

// float32 and float64 reduce in place; bfloat16 through a float32 copy.
Tensor reduction_buffer(const Tensor& t, const char* what) {
  check_cpu_contiguous(t, what);
  if (t.dtype() == DType::Float32 || t.dtype() == DType::Float64) return t;
  if (t.dtype() == DType::BFloat16) return convert(t, DType::Float32);
  throw std::invalid_argument(std::string("mpi ") + what + ": reduces float32, float64 or bfloat16, got " + t.str());
}

}  // namespace

MpiCommunicator::MpiCommunicator(double timeout_seconds) : timeout_(timeout_seconds) {
  if (timeout_seconds <= 0) throw std::invalid_argument("mpi: the collective timeout must be > 0 s");
  int initialized = 0;
  EMRRG_MPI_CHECK(MPI_Initialized(&initialized));
  if (!initialized) {
    // The loader's decoding threads never call MPI: one calling thread is enough.
    int provided = 0;
    EMRRG_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
    owns_mpi_ = true;
  }
  // Errors come back as codes, so every call is reported with its file and line.
  EMRRG_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  EMRRG_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  EMRRG_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &world_));
}

MpiCommunicator::~MpiCommunicator() {
  if (owns_mpi_) MPI_Finalize();
}

void MpiCommunicator::wait(void* request, const char* what) {
  auto* req = static_cast<MPI_Request*>(request);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_);
  for (int polls = 0;; ++polls) {
    int done = 0;
    EMRRG_MPI_CHECK(MPI_Test(req, &done, MPI_STATUS_IGNORE));
    if (done) return;
    if (std::chrono::steady_clock::now() > deadline) {
      char why[256];
      std::snprintf(why, sizeof(why), "%s did not complete within %g s (--dist-timeout): another rank died or hangs", what, timeout_);
      abort(why);
    }
    // Spin briefly (a collective between busy ranks completes in microseconds), then yield the
    // core: ranks oversubscribing a CPU must not starve the rank they wait for.
    if (polls > 1000) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

std::unique_ptr<PendingCollective> MpiCommunicator::all_reduce_async(Tensor& t, ReduceOp op) {
  return std::make_unique<MpiAllReduce>(*this, t, reduction_buffer(t, "all_reduce"), op);
}

void MpiCommunicator::reduce_scatter(const Tensor& input, Tensor& output, ReduceOp op) {
  check_cpu_contiguous(output, "reduce_scatter");
  if (input.numel() != output.numel() * world_ || input.dtype() != output.dtype())
    throw std::invalid_argument("mpi reduce_scatter: input " + input.str() + " must hold world_size (" + std::to_string(world_) +
                                ") chunks of output " + output.str());
  Tensor in = reduction_buffer(input, "reduce_scatter");
  Tensor out = reduction_buffer(output, "reduce_scatter");
  MPI_Request request = MPI_REQUEST_NULL;
  EMRRG_MPI_CHECK(MPI_Ireduce_scatter_block(in.raw_data(), out.raw_data(), static_cast<int>(out.numel()),
                                            mpi_type(out.dtype(), "reduce_scatter"), MPI_SUM, MPI_COMM_WORLD, &request));
  wait(&request, "reduce_scatter");
  if (op == ReduceOp::Mean) divide(out, world_);
  if (out.impl() != output.impl()) copy_into(output, out);
}

void MpiCommunicator::all_gather(const Tensor& input, Tensor& output) {
  check_cpu_contiguous(input, "all_gather");
  check_cpu_contiguous(output, "all_gather");
  if (output.numel() != input.numel() * world_ || input.dtype() != output.dtype())
    throw std::invalid_argument("mpi all_gather: output " + output.str() + " must hold world_size (" + std::to_string(world_) +
                                ") copies of input " + input.str());
  // Bytes: any dtype travels unchanged.
  const int bytes = static_cast<int>(input.numel() * static_cast<int64_t>(input.element_size()));
  MPI_Request request = MPI_REQUEST_NULL;
  EMRRG_MPI_CHECK(MPI_Iallgather(input.raw_data(), bytes, MPI_BYTE, output.raw_data(), bytes, MPI_BYTE, MPI_COMM_WORLD, &request));
  wait(&request, "all_gather");
}

void MpiCommunicator::broadcast(Tensor& t, int root) {
  check_cpu_contiguous(t, "broadcast");
  if (root < 0 || root >= world_) throw std::invalid_argument("mpi broadcast: root " + std::to_string(root) + " is not a rank");
  MPI_Request request = MPI_REQUEST_NULL;
  EMRRG_MPI_CHECK(MPI_Ibcast(t.raw_data(), static_cast<int>(t.numel() * static_cast<int64_t>(t.element_size())), MPI_BYTE, root,
                             MPI_COMM_WORLD, &request));
  wait(&request, "broadcast");
}

void MpiCommunicator::barrier() {
  MPI_Request request = MPI_REQUEST_NULL;
  EMRRG_MPI_CHECK(MPI_Ibarrier(MPI_COMM_WORLD, &request));
  wait(&request, "barrier");
}

void MpiCommunicator::abort(const std::string& why) {
  std::fprintf(stderr, "distributed: rank %d of %d: %s; aborting the job\n", rank_, world_, why.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);  // MPI_Abort does not return; this keeps [[noreturn]] honest if it ever does
}

}  // namespace emrrg::train::distributed
