#include "train/distributed/nccl_communicator.h"

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "cuda/cuda_check.h"
#include "cuda/stream.h"
#include "train/distributed/file_rendezvous.h"
#include "train/distributed/nccl_check.h"

namespace emrrg::train::distributed {

struct NcclCommunicator::State {
  ncclComm_t comm = nullptr;
  cuda::Stream stream;
  explicit State(int device) : stream(device) {}
};

namespace {

ncclDataType_t nccl_type(DType dtype, const char* what) {
  switch (dtype) {
    case DType::Float32: return ncclFloat32;
    case DType::BFloat16: return ncclBfloat16;
    case DType::Float16: return ncclFloat16;
    case DType::Float64: return ncclFloat64;
    case DType::Int64: return ncclInt64;
    case DType::Int32: return ncclInt32;
    case DType::UInt8: return ncclUint8;
    default: throw std::invalid_argument(std::string("nccl ") + what + ": no NCCL type for " + dtype_name(dtype));
  }
}

ncclRedOp_t nccl_op(ReduceOp op) { return op == ReduceOp::Mean ? ncclAvg : ncclSum; }

void check_cuda_contiguous(const Tensor& t, int device, const char* what) {
  if (!t.defined() || t.device() != Device::cuda(device) || !t.is_contiguous())
    throw std::invalid_argument(std::string("nccl ") + what + ": needs a contiguous tensor on cuda:" + std::to_string(device) + ", got " +
                                (t.defined() ? t.str() : "undefined"));
}

// Orders the communicator's stream after the work already issued to the caller's stream.
void follow_compute(cudaStream_t comm_stream, int device) {
  cudaEvent_t ready;
  EMRRG_CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
  EMRRG_CUDA_CHECK(cudaEventRecord(ready, cuda::current_stream(device)));
  EMRRG_CUDA_CHECK(cudaStreamWaitEvent(comm_stream, ready, 0));
  EMRRG_CUDA_CHECK(cudaEventDestroy(ready));
}

cudaEvent_t record_done(cudaStream_t comm_stream) {
  cudaEvent_t done;
  EMRRG_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
  EMRRG_CUDA_CHECK(cudaEventRecord(done, comm_stream));
  return done;
}

class NcclPending : public PendingCollective {
 public:
  NcclPending(NcclCommunicator& comm, cudaEvent_t done, Tensor keep_alive) : comm_(comm), done_(done), keep_alive_(std::move(keep_alive)) {}
  ~NcclPending() override {
    if (done_ != nullptr) wait();
  }
  void wait() override {
    if (done_ == nullptr) return;
    comm_.wait(done_, "all_reduce");
    done_ = nullptr;
  }

 private:
  NcclCommunicator& comm_;
  cudaEvent_t done_;
  Tensor keep_alive_;
};

}  // namespace

NcclCommunicator::NcclCommunicator(int rank, int world_size, int device, const NcclBootstrap& bootstrap, double timeout_seconds)
    : rank_(rank), world_(world_size), device_(device), timeout_(timeout_seconds), mpi_(bootstrap.mpi) {
  if (device < 0 || device >= cuda::device_count())
    throw std::runtime_error("nccl: local rank " + std::to_string(device) + " has no GPU (this node has " + std::to_string(cuda::device_count()) +
                             "): start one rank per GPU");
  EMRRG_CUDA_CHECK(cudaSetDevice(device));
  state_ = std::make_unique<State>(device);
  ncclUniqueId id{};
  if (rank == 0) EMRRG_NCCL_CHECK(ncclGetUniqueId(&id));
  const std::string mine(reinterpret_cast<const char*>(&id), sizeof(id));
  std::string shared;
  if (mpi_ != nullptr) {
    Tensor bytes = from_vector(std::vector<uint8_t>(mine.begin(), mine.end()), {static_cast<int64_t>(sizeof(id))});
    mpi_->broadcast(bytes, 0);
    shared.assign(static_cast<const char*>(bytes.raw_data()), sizeof(id));
  } else if (!bootstrap.init_file.empty()) {
    shared = exchange_through_file(bootstrap.init_file, rank, mine, sizeof(id), timeout_seconds);
  } else {
    throw std::invalid_argument("nccl: no way to share the unique id: run under mpirun, or give --dist-init file:PATH");
  }
  std::memcpy(&id, shared.data(), sizeof(id));
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;  // initialisation and collectives return at once; wait() polls for errors
  EMRRG_NCCL_CHECK(ncclCommInitRankConfig(&state_->comm, world_size, id, rank, &config));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_);
  for (;;) {
    ncclResult_t async = ncclSuccess;
    EMRRG_NCCL_CHECK(ncclCommGetAsyncError(state_->comm, &async));
    if (async == ncclSuccess) break;
    if (async != ncclInProgress) abort(std::string("ncclCommInitRankConfig failed: ") + ncclGetErrorString(async));
    if (std::chrono::steady_clock::now() > deadline) abort("ncclCommInitRankConfig did not complete within the timeout: a rank is missing");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

NcclCommunicator::~NcclCommunicator() {
  if (state_ && state_->comm != nullptr) {
    state_->stream.synchronize();
    ncclCommDestroy(state_->comm);
  }
}

void NcclCommunicator::wait(void* done_event, const char* what) {
  auto done = static_cast<cudaEvent_t>(done_event);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_);
  for (;;) {
    const cudaError_t q = cudaEventQuery(done);
    if (q == cudaSuccess) break;
    if (q != cudaErrorNotReady) EMRRG_CUDA_CHECK(q);
    ncclResult_t async = ncclSuccess;
    EMRRG_NCCL_CHECK(ncclCommGetAsyncError(state_->comm, &async));
    if (async != ncclSuccess && async != ncclInProgress) abort(std::string(what) + " failed: " + ncclGetErrorString(async));
    if (std::chrono::steady_clock::now() > deadline) {
      char why[256];
      std::snprintf(why, sizeof(why), "%s did not complete within %g s (--dist-timeout): another rank died or hangs", what, timeout_);
      abort(why);
    }
    std::this_thread::yield();
  }
  EMRRG_CUDA_CHECK(cudaEventDestroy(done));
}

std::unique_ptr<PendingCollective> NcclCommunicator::all_reduce_async(Tensor& t, ReduceOp op) {
  check_cuda_contiguous(t, device_, "all_reduce");
  const cudaStream_t s = state_->stream.get();
  follow_compute(s, device_);
  EMRRG_NCCL_CHECK(ncclAllReduce(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()), nccl_type(t.dtype(), "all_reduce"), nccl_op(op),
                                 state_->comm, s));
  return std::make_unique<NcclPending>(*this, record_done(s), t);
}

void NcclCommunicator::reduce_scatter(const Tensor& input, Tensor& output, ReduceOp op) {
  check_cuda_contiguous(input, device_, "reduce_scatter");
  check_cuda_contiguous(output, device_, "reduce_scatter");
  if (input.numel() != output.numel() * world_ || input.dtype() != output.dtype())
    throw std::invalid_argument("nccl reduce_scatter: input " + input.str() + " must hold world_size chunks of output " + output.str());
  const cudaStream_t s = state_->stream.get();
  follow_compute(s, device_);
  EMRRG_NCCL_CHECK(ncclReduceScatter(input.raw_data(), output.raw_data(), static_cast<size_t>(output.numel()),
                                     nccl_type(output.dtype(), "reduce_scatter"), nccl_op(op), state_->comm, s));
  wait(record_done(s), "reduce_scatter");
}

void NcclCommunicator::all_gather(const Tensor& input, Tensor& output) {
  check_cuda_contiguous(input, device_, "all_gather");
  check_cuda_contiguous(output, device_, "all_gather");
  if (output.numel() != input.numel() * world_ || input.dtype() != output.dtype())
    throw std::invalid_argument("nccl all_gather: output " + output.str() + " must hold world_size copies of input " + input.str());
  const cudaStream_t s = state_->stream.get();
  follow_compute(s, device_);
  EMRRG_NCCL_CHECK(ncclAllGather(input.raw_data(), output.raw_data(), static_cast<size_t>(input.numel()), nccl_type(input.dtype(), "all_gather"),
                                 state_->comm, s));
  wait(record_done(s), "all_gather");
}

void NcclCommunicator::broadcast(Tensor& t, int root) {
  check_cuda_contiguous(t, device_, "broadcast");
  const cudaStream_t s = state_->stream.get();
  follow_compute(s, device_);
  EMRRG_NCCL_CHECK(ncclBroadcast(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()), nccl_type(t.dtype(), "broadcast"), root,
                                 state_->comm, s));
  wait(record_done(s), "broadcast");
}

void NcclCommunicator::barrier() {
  // NCCL has no barrier: a one-element all-reduce is one.
  Tensor one = zeros({1}, DType::Float32, Device::cuda(device_));
  all_reduce(one, ReduceOp::Sum);
}

void NcclCommunicator::abort(const std::string& why) {
  std::fprintf(stderr, "distributed: rank %d of %d (nccl, cuda:%d): %s; aborting the job\n", rank_, world_, device_, why.c_str());
  std::fflush(stderr);
  if (state_ && state_->comm != nullptr) ncclCommAbort(state_->comm);
  if (mpi_ != nullptr) mpi_->abort(why);
  std::_Exit(1);
}

}  // namespace emrrg::train::distributed
