#include "cuda/stream.h"

#include <array>
#include <stdexcept>
#include <string>
#include <utility>

#include "cuda/caching_allocator.h"
#include "cuda/cuda_check.h"

namespace emrrg::cuda {

namespace {

constexpr int kMaxDevices = 64;
thread_local std::array<cudaStream_t, kMaxDevices> current_streams{};

int checked_device(int device) {
  if (device < 0 || device >= kMaxDevices)
    throw std::out_of_range("CUDA device index " + std::to_string(device) + " out of range");
  return device;
}

}  // namespace

int device_count() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  // A machine without a GPU or driver is not an error for a caller asking how many there are.
  if (err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver) {
    (void)cudaGetLastError();
    return 0;
  }
  EMRRG_CUDA_CHECK(err);
  return n;
}

int current_device() {
  int d = 0;
  EMRRG_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

DeviceGuard::DeviceGuard(int device) : previous_(current_device()), device_(device) {
  if (device_ != previous_) EMRRG_CUDA_CHECK(cudaSetDevice(device_));
}

DeviceGuard::~DeviceGuard() {
  if (device_ != previous_) EMRRG_CUDA_CHECK_NOTHROW(cudaSetDevice(previous_));
}

Stream::Stream(int device, bool non_blocking) : device_(checked_device(device)) {
  DeviceGuard guard(device_);
  EMRRG_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, non_blocking ? cudaStreamNonBlocking : cudaStreamDefault));
}

Stream::~Stream() { release(); }

Stream::Stream(Stream&& other) noexcept
    : stream_(std::exchange(other.stream_, nullptr)), device_(other.device_) {}

Stream& Stream::operator=(Stream&& other) noexcept {
  if (this != &other) {
    release();
    stream_ = std::exchange(other.stream_, nullptr);
    device_ = other.device_;
  }
  return *this;
}

void Stream::release() noexcept {
  if (!stream_) return;
  int previous = device_;
  EMRRG_CUDA_CHECK_NOTHROW(cudaGetDevice(&previous));
  if (previous != device_) EMRRG_CUDA_CHECK_NOTHROW(cudaSetDevice(device_));
  // The handle value may be reused by a later stream; nothing may still refer to this one.
  EMRRG_CUDA_CHECK_NOTHROW(cudaStreamSynchronize(stream_));
  if (current_streams[device_] == stream_) current_streams[device_] = nullptr;
  caching_allocator(device_).retire_stream(stream_);
  EMRRG_CUDA_CHECK_NOTHROW(cudaStreamDestroy(stream_));
  if (previous != device_) EMRRG_CUDA_CHECK_NOTHROW(cudaSetDevice(previous));
  stream_ = nullptr;
}

void Stream::synchronize() const { EMRRG_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

bool Stream::query() const {
  const cudaError_t err = cudaStreamQuery(stream_);
  if (err == cudaErrorNotReady) {
    (void)cudaGetLastError();
    return false;
  }
  EMRRG_CUDA_CHECK(err);
  return true;
}

Event::Event(bool timing) {
  EMRRG_CUDA_CHECK(cudaEventCreateWithFlags(&event_, timing ? cudaEventDefault : cudaEventDisableTiming));
}

Event::~Event() {
  if (event_) EMRRG_CUDA_CHECK_NOTHROW(cudaEventDestroy(event_));
}

Event::Event(Event&& other) noexcept : event_(std::exchange(other.event_, nullptr)) {}

Event& Event::operator=(Event&& other) noexcept {
  if (this != &other) {
    if (event_) EMRRG_CUDA_CHECK_NOTHROW(cudaEventDestroy(event_));
    event_ = std::exchange(other.event_, nullptr);
  }
  return *this;
}

void Event::record(cudaStream_t stream) { EMRRG_CUDA_CHECK(cudaEventRecord(event_, stream)); }

void Event::record() { record(current_stream()); }

void Event::synchronize() const { EMRRG_CUDA_CHECK(cudaEventSynchronize(event_)); }

bool Event::query() const {
  const cudaError_t err = cudaEventQuery(event_);
  if (err == cudaErrorNotReady) {
    (void)cudaGetLastError();
    return false;
  }
  EMRRG_CUDA_CHECK(err);
  return true;
}

void Event::block(cudaStream_t stream) const { EMRRG_CUDA_CHECK(cudaStreamWaitEvent(stream, event_, 0)); }

float Event::elapsed_ms(const Event& end) const {
  float ms = 0.0f;
  EMRRG_CUDA_CHECK(cudaEventElapsedTime(&ms, event_, end.event_));
  return ms;
}

cudaStream_t current_stream(int device) { return current_streams[checked_device(device)]; }

cudaStream_t current_stream() { return current_stream(current_device()); }

void set_current_stream(cudaStream_t stream, int device) { current_streams[checked_device(device)] = stream; }

StreamGuard::StreamGuard(const Stream& stream) : StreamGuard(stream.get(), stream.device()) {}

StreamGuard::StreamGuard(cudaStream_t stream, int device)
    : previous_(current_stream(device)), device_(device) {
  set_current_stream(stream, device);
}

StreamGuard::~StreamGuard() { current_streams[device_] = previous_; }

}  // namespace emrrg::cuda
