// Streams, events and the per-thread current stream. Work the backend issues (copies, memsets,
// GEMMs, kernels) goes to the current stream of the thread, which is the legacy default stream
// (0) until a StreamGuard or set_current_stream says otherwise.
#pragma once
#include <cuda_runtime_api.h>

namespace emrrg::cuda {

int device_count();
int current_device();

// Makes `device` current for the scope and restores the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_;
  int device_;
};

// An owned stream on one device. Non-blocking by default (no implicit synchronisation with the
// legacy default stream). Destruction waits for the stream's work first, so memory the caching
// allocator holds for it can be handed to other streams safely afterwards.
class Stream {
 public:
  explicit Stream(int device = current_device(), bool non_blocking = true);
  ~Stream();
  Stream(Stream&& other) noexcept;
  Stream& operator=(Stream&& other) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  cudaStream_t get() const { return stream_; }
  int device() const { return device_; }
  void synchronize() const;
  // True when all work issued to the stream has finished.
  bool query() const;

 private:
  void release() noexcept;
  cudaStream_t stream_ = nullptr;
  int device_ = 0;
};

class Event {
 public:
  // Timing events cost a little more to record; pass false for pure synchronisation.
  explicit Event(bool timing = true);
  ~Event();
  Event(Event&& other) noexcept;
  Event& operator=(Event&& other) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  void record(cudaStream_t stream);
  void record();  // on the current stream
  void synchronize() const;
  bool query() const;
  // Makes `stream` wait (on the device) for the work this event captured.
  void block(cudaStream_t stream) const;
  // Milliseconds from this event to `end`; both recorded and complete, timing enabled.
  float elapsed_ms(const Event& end) const;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

// The calling thread's current stream on `device`.
cudaStream_t current_stream(int device);
cudaStream_t current_stream();
void set_current_stream(cudaStream_t stream, int device);

// Makes a stream current on its device for the scope, restoring the previous one.
class StreamGuard {
 public:
  explicit StreamGuard(const Stream& stream);
  StreamGuard(cudaStream_t stream, int device);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  cudaStream_t previous_;
  int device_;
};

}  // namespace emrrg::cuda
