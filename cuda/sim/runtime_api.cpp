// The CUDA runtime API subset the backend uses, implemented on the host for the simulator.
// Signatures are those of <cuda_runtime_api.h>, so the backend links against this instead of
// libcudart unchanged. Work runs synchronously when issued; streams and events keep only what
// callers can observe (validity, timing, and the busy state hold_stream models). Copies and
// memsets check that each device range lies inside one live device buffer and each host range
// outside all of them, and say what is wrong on stderr before returning the error, so a wrong
// copy direction or an overrun in host code is caught like an overrun in a kernel.
#include <cuda_runtime_api.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <set>
#include <stdexcept>
#include <string>

#include "cuda/sim/block_runner.h"
#include "cuda/sim/memory.h"
#include "cuda/sim/sim_device.h"

namespace emrrg::sim {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kDefaultDeviceMemory = size_t{16} << 30;

struct StreamState {
  unsigned flags = cudaStreamDefault;
  bool held = false;
  uint64_t hold_generation = 0;  // bumped by each hold, so a later hold does not revive old events
};

struct EventState {
  unsigned flags = cudaEventDefault;
  bool recorded = false;
  Clock::time_point when{};
  cudaStream_t stream = nullptr;
  uint64_t generation = 0;  // of the stream's hold when recorded, or 0 if it was idle
};

struct State {
  std::mutex mutex;
  size_t limit = 0;
  bool limit_set = false;
  size_t used = 0;
  std::map<const void*, size_t> device_buffers;  // from cudaMalloc
  std::set<const void*> host_buffers;            // from cudaMallocHost
  std::map<cudaStream_t, std::unique_ptr<StreamState>> streams;
  std::map<cudaEvent_t, std::unique_ptr<EventState>> events;
  uint64_t next_generation = 1;
};

// Never destroyed: the backend's pools release memory from static destructors.
State& state() {
  static State* s = new State();
  return *s;
}

thread_local cudaError_t last_error = cudaSuccess;

cudaError_t result(cudaError_t err) {
  if (err != cudaSuccess) last_error = err;
  return err;
}

size_t parse_memory_size(const char* text) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (end == text) return 0;
  size_t scale = 1;
  if (*end == 'K' || *end == 'k') scale = size_t{1} << 10;
  if (*end == 'M' || *end == 'm') scale = size_t{1} << 20;
  if (*end == 'G' || *end == 'g') scale = size_t{1} << 30;
  if (scale != 1) ++end;
  if (*end == 'i' && *(end + 1) == 'B') end += 2;
  else if (*end == 'B') ++end;
  if (*end != '\0') return 0;
  return static_cast<size_t>(v) * scale;
}

size_t limit_locked(State& s) {
  if (!s.limit_set) {
    s.limit = kDefaultDeviceMemory;
    if (const char* env = std::getenv("EMRRG_SIM_DEVICE_MEMORY")) {
      if (const size_t v = parse_memory_size(env))
        s.limit = v;
      else
        std::fprintf(stderr, "emrrg sim: ignoring EMRRG_SIM_DEVICE_MEMORY='%s' (want bytes, or a K/M/G suffix)\n", env);
    }
    s.limit_set = true;
  }
  return s.limit;
}

bool special_stream(cudaStream_t s) { return s == nullptr || s == cudaStreamLegacy || s == cudaStreamPerThread; }

// The state of a stream handle, or nullptr for one that was never created or is destroyed.
// The three built-in handles have state created on first use.
StreamState* find_stream(State& s, cudaStream_t stream) {
  auto it = s.streams.find(stream);
  if (it != s.streams.end()) return it->second.get();
  if (!special_stream(stream)) return nullptr;
  return s.streams.emplace(stream, std::make_unique<StreamState>()).first->second.get();
}

bool blocking(cudaStream_t stream, const StreamState& st) {
  return !special_stream(stream) && !(st.flags & cudaStreamNonBlocking);
}

void release_stream(State& s, cudaStream_t stream, StreamState& st) {
  st.held = false;
  // The legacy default stream waits for every blocking stream, and they for it.
  if (stream == nullptr || stream == cudaStreamLegacy)
    for (auto& [handle, other] : s.streams)
      if (blocking(handle, *other)) other->held = false;
}

bool event_pending(State& s, const EventState& ev) {
  if (!ev.recorded || ev.generation == 0) return false;
  StreamState* st = find_stream(s, ev.stream);
  return st && st->held && st->hold_generation == ev.generation;
}

void complain(const char* api, const std::string& what) { std::fprintf(stderr, "emrrg sim: %s: %s\n", api, what.c_str()); }

std::string pointer_str(const void* p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%p", p);
  return buf;
}

// Whether [p, p + n) lies inside one live device buffer.
bool device_range(const char* api, const char* role, const void* p, size_t n) {
  const auto a = find_device_allocation(p);
  const uintptr_t begin = reinterpret_cast<uintptr_t>(p);
  if (!a) {
    complain(api, std::string(role) + " " + pointer_str(p) + " is not device memory: " + describe_address(p));
    return false;
  }
  if (begin + n > a->base + a->size) {
    complain(api, std::string(role) + " range of " + std::to_string(n) + " bytes at " + pointer_str(p) +
                      " runs " + std::to_string(begin + n - (a->base + a->size)) + " bytes past the end of a " +
                      std::to_string(a->size) + "-byte device buffer");
    return false;
  }
  return true;
}

bool host_range(const char* api, const char* role, const void* p, size_t n) {
  if (!p) {
    complain(api, std::string(role) + " is a null host pointer");
    return false;
  }
  if (find_device_allocation(p) || find_device_allocation(static_cast<const char*>(p) + n - 1)) {
    complain(api, std::string(role) + " " + pointer_str(p) + " is device memory, but the copy kind says host");
    return false;
  }
  return true;
}

cudaError_t copy(const char* api, void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  {
    State& s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    if (!find_stream(s, stream)) return result(cudaErrorInvalidResourceHandle);
  }
  if (kind == cudaMemcpyDefault) {
    const bool dst_dev = find_device_allocation(dst).has_value(), src_dev = find_device_allocation(src).has_value();
    kind = dst_dev ? (src_dev ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                   : (src_dev ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  }
  bool ok = false;
  switch (kind) {
    case cudaMemcpyHostToHost:
      ok = host_range(api, "destination", dst, count) && host_range(api, "source", src, count);
      break;
    case cudaMemcpyHostToDevice:
      ok = device_range(api, "destination", dst, count) && host_range(api, "source", src, count);
      break;
    case cudaMemcpyDeviceToHost:
      ok = host_range(api, "destination", dst, count) && device_range(api, "source", src, count);
      break;
    case cudaMemcpyDeviceToDevice:
      ok = device_range(api, "destination", dst, count) && device_range(api, "source", src, count);
      break;
    default:
      return result(cudaErrorInvalidMemcpyDirection);
  }
  if (!ok) return result(cudaErrorInvalidValue);
  std::memmove(dst, src, count);
  return cudaSuccess;
}

cudaError_t set(const char* api, void* dst, int value, size_t count, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  {
    State& s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    if (!find_stream(s, stream)) return result(cudaErrorInvalidResourceHandle);
  }
  if (!device_range(api, "destination", dst, count)) return result(cudaErrorInvalidValue);
  std::memset(dst, value, count);
  return cudaSuccess;
}

// Limits of the simulated device: those the block runner enforces, and an H100 SXM otherwise.
constexpr int kSmCount = 132;
constexpr int kMaxThreadsPerSm = 2048;
constexpr int kMaxBlocksPerSm = 32;
constexpr size_t kSharedPerSm = 228 * 1024;
constexpr int kRegistersPerBlock = 65536;
constexpr int kL2CacheBytes = 50 * 1024 * 1024;
constexpr int kClockKhz = 1980000;
constexpr int kMemoryClockKhz = 2619000;
constexpr int kMemoryBusWidth = 5120;

}  // namespace

size_t device_memory_limit() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return limit_locked(s);
}

void set_device_memory_limit(size_t bytes) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.limit = bytes;
  s.limit_set = true;
}

size_t device_memory_used() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.used;
}

void hold_stream(cudaStream_t stream) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  StreamState* st = find_stream(s, stream);
  if (!st) throw std::invalid_argument("hold_stream: " + pointer_str(stream) + " is not a stream");
  st->held = true;
  st->hold_generation = s.next_generation++;
}

}  // namespace emrrg::sim

using emrrg::sim::result;
using emrrg::sim::state;

extern "C" {

cudaError_t cudaMalloc(void** devPtr, size_t size) {
  if (!devPtr) return result(cudaErrorInvalidValue);
  *devPtr = nullptr;
  if (size == 0) return cudaSuccess;
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  const size_t limit = emrrg::sim::limit_locked(s);
  if (s.used > limit || size > limit - s.used) return result(cudaErrorMemoryAllocation);
  void* p = nullptr;
  try {
    p = emrrg::sim::device_malloc(size);
  } catch (const std::bad_alloc&) {
    return result(cudaErrorMemoryAllocation);
  }
  s.device_buffers.emplace(p, size);
  s.used += size;
  *devPtr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* devPtr) {
  if (!devPtr) return cudaSuccess;
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.device_buffers.find(devPtr);
  if (it == s.device_buffers.end()) {
    emrrg::sim::complain("cudaFree", emrrg::sim::pointer_str(devPtr) + " did not come from cudaMalloc: " +
                                         emrrg::sim::describe_address(devPtr));
    return result(cudaErrorInvalidValue);
  }
  s.used -= it->second;
  s.device_buffers.erase(it);
  emrrg::sim::device_free(devPtr);
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** ptr, size_t size) {
  if (!ptr) return result(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (size == 0) return cudaSuccess;
  void* p = std::aligned_alloc(256, (size + 255) / 256 * 256);
  if (!p) return result(cudaErrorMemoryAllocation);
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.host_buffers.insert(p);
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void* ptr) {
  if (!ptr) return cudaSuccess;
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.host_buffers.erase(ptr)) {
    emrrg::sim::complain("cudaFreeHost", emrrg::sim::pointer_str(ptr) + " did not come from cudaMallocHost");
    return result(cudaErrorInvalidValue);
  }
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  return emrrg::sim::copy("cudaMemcpy", dst, src, count, kind, nullptr);
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t stream) {
  return emrrg::sim::copy("cudaMemcpyAsync", dst, src, count, kind, stream);
}

cudaError_t cudaMemset(void* devPtr, int value, size_t count) {
  return emrrg::sim::set("cudaMemset", devPtr, value, count, nullptr);
}

cudaError_t cudaMemsetAsync(void* devPtr, int value, size_t count, cudaStream_t stream) {
  return emrrg::sim::set("cudaMemsetAsync", devPtr, value, count, stream);
}

cudaError_t cudaMemGetInfo(size_t* free, size_t* total) {
  if (!free || !total) return result(cudaErrorInvalidValue);
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  *total = emrrg::sim::limit_locked(s);
  *free = *total > s.used ? *total - s.used : 0;
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* pStream, unsigned int flags) {
  if (!pStream || (flags & ~static_cast<unsigned>(cudaStreamNonBlocking))) return result(cudaErrorInvalidValue);
  auto st = std::make_unique<emrrg::sim::StreamState>();
  st->flags = flags;
  // The state's address is a handle no built-in stream or other live stream has.
  auto handle = reinterpret_cast<cudaStream_t>(st.get());
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.streams.emplace(handle, std::move(st));
  *pStream = handle;
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* pStream) { return cudaStreamCreateWithFlags(pStream, cudaStreamDefault); }

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (emrrg::sim::special_stream(stream)) return result(cudaErrorInvalidResourceHandle);
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.streams.erase(stream)) return result(cudaErrorInvalidResourceHandle);
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  emrrg::sim::StreamState* st = emrrg::sim::find_stream(s, stream);
  if (!st) return result(cudaErrorInvalidResourceHandle);
  emrrg::sim::release_stream(s, stream, *st);
  return cudaSuccess;
}

cudaError_t cudaStreamQuery(cudaStream_t stream) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  emrrg::sim::StreamState* st = emrrg::sim::find_stream(s, stream);
  if (!st) return result(cudaErrorInvalidResourceHandle);
  return st->held ? result(cudaErrorNotReady) : cudaSuccess;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int flags) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  emrrg::sim::StreamState* st = emrrg::sim::find_stream(s, stream);
  auto it = s.events.find(event);
  if (!st || it == s.events.end()) return result(cudaErrorInvalidResourceHandle);
  if (flags != 0) return result(cudaErrorInvalidValue);
  // Work queued after the wait cannot finish before the awaited work.
  if (emrrg::sim::event_pending(s, *it->second) && !st->held) {
    st->held = true;
    st->hold_generation = s.next_generation++;
  }
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags) {
  constexpr unsigned known = cudaEventBlockingSync | cudaEventDisableTiming | cudaEventInterprocess;
  if (!event || (flags & ~known)) return result(cudaErrorInvalidValue);
  auto ev = std::make_unique<emrrg::sim::EventState>();
  ev->flags = flags;
  auto handle = reinterpret_cast<cudaEvent_t>(ev.get());
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.events.emplace(handle, std::move(ev));
  *event = handle;
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, cudaEventDefault); }

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.events.erase(event)) return result(cudaErrorInvalidResourceHandle);
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  emrrg::sim::StreamState* st = emrrg::sim::find_stream(s, stream);
  auto it = s.events.find(event);
  if (!st || it == s.events.end()) return result(cudaErrorInvalidResourceHandle);
  emrrg::sim::EventState& ev = *it->second;
  ev.recorded = true;
  ev.when = emrrg::sim::Clock::now();
  ev.stream = stream;
  ev.generation = st->held ? st->hold_generation : 0;
  return cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t event) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.events.find(event);
  if (it == s.events.end()) return result(cudaErrorInvalidResourceHandle);
  return emrrg::sim::event_pending(s, *it->second) ? result(cudaErrorNotReady) : cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.events.find(event);
  if (it == s.events.end()) return result(cudaErrorInvalidResourceHandle);
  emrrg::sim::EventState& ev = *it->second;
  if (emrrg::sim::event_pending(s, ev)) emrrg::sim::find_stream(s, ev.stream)->held = false;
  return cudaSuccess;
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!ms) return result(cudaErrorInvalidValue);
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto a = s.events.find(start), b = s.events.find(end);
  if (a == s.events.end() || b == s.events.end()) return result(cudaErrorInvalidResourceHandle);
  const emrrg::sim::EventState &ea = *a->second, &eb = *b->second;
  if ((ea.flags | eb.flags) & cudaEventDisableTiming) return result(cudaErrorInvalidResourceHandle);
  if (!ea.recorded || !eb.recorded) return result(cudaErrorInvalidResourceHandle);
  if (emrrg::sim::event_pending(s, ea) || emrrg::sim::event_pending(s, eb)) return result(cudaErrorNotReady);
  *ms = std::chrono::duration<float, std::milli>(eb.when - ea.when).count();
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  for (auto& [handle, st] : s.streams) st->held = false;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return result(cudaErrorInvalidValue);
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : result(cudaErrorInvalidDevice); }

cudaError_t cudaGetDevice(int* device) {
  if (!device) return result(cudaErrorInvalidValue);
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (!prop) return result(cudaErrorInvalidValue);
  if (device != 0) return result(cudaErrorInvalidDevice);
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof prop->name, "%s", "EMRRG SIMT simulator");
  prop->totalGlobalMem = emrrg::sim::device_memory_limit();
  prop->sharedMemPerBlock = emrrg::sim::kDefaultSharedLimit;
  prop->sharedMemPerBlockOptin = emrrg::sim::kOptInSharedLimit;
  prop->sharedMemPerMultiprocessor = emrrg::sim::kSharedPerSm;
  prop->reservedSharedMemPerBlock = 1024;
  prop->regsPerBlock = emrrg::sim::kRegistersPerBlock;
  prop->regsPerMultiprocessor = emrrg::sim::kRegistersPerBlock;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = emrrg::sim::kMaxThreadsPerBlock;
  prop->maxThreadsDim[0] = 1024;
  prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 2147483647;
  prop->maxGridSize[1] = 65535;
  prop->maxGridSize[2] = 65535;
  prop->totalConstMem = 64 * 1024;
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = emrrg::sim::kSmCount;
  prop->maxThreadsPerMultiProcessor = emrrg::sim::kMaxThreadsPerSm;
  prop->maxBlocksPerMultiProcessor = emrrg::sim::kMaxBlocksPerSm;
  prop->l2CacheSize = emrrg::sim::kL2CacheBytes;
  prop->memoryBusWidth = emrrg::sim::kMemoryBusWidth;
  prop->concurrentKernels = 1;
  prop->asyncEngineCount = 2;
  prop->unifiedAddressing = 1;
  prop->managedMemory = 0;
  prop->canMapHostMemory = 0;
  prop->cooperativeLaunch = 0;
  prop->memPitch = 2147483647;
  prop->textureAlignment = 512;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (!value) return result(cudaErrorInvalidValue);
  if (device != 0) return result(cudaErrorInvalidDevice);
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = emrrg::sim::kMaxThreadsPerBlock; break;
    case cudaDevAttrMaxBlockDimX: *value = 1024; break;
    case cudaDevAttrMaxBlockDimY: *value = 1024; break;
    case cudaDevAttrMaxBlockDimZ: *value = 64; break;
    case cudaDevAttrMaxGridDimX: *value = 2147483647; break;
    case cudaDevAttrMaxGridDimY: *value = 65535; break;
    case cudaDevAttrMaxGridDimZ: *value = 65535; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = static_cast<int>(emrrg::sim::kDefaultSharedLimit); break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = static_cast<int>(emrrg::sim::kOptInSharedLimit); break;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor: *value = static_cast<int>(emrrg::sim::kSharedPerSm); break;
    case cudaDevAttrWarpSize: *value = 32; break;
    case cudaDevAttrMaxRegistersPerBlock: *value = emrrg::sim::kRegistersPerBlock; break;
    case cudaDevAttrClockRate: *value = emrrg::sim::kClockKhz; break;
    case cudaDevAttrMultiProcessorCount: *value = emrrg::sim::kSmCount; break;
    case cudaDevAttrMemoryClockRate: *value = emrrg::sim::kMemoryClockKhz; break;
    case cudaDevAttrGlobalMemoryBusWidth: *value = emrrg::sim::kMemoryBusWidth; break;
    case cudaDevAttrL2CacheSize: *value = emrrg::sim::kL2CacheBytes; break;
    case cudaDevAttrMaxThreadsPerMultiProcessor: *value = emrrg::sim::kMaxThreadsPerSm; break;
    case cudaDevAttrMaxBlocksPerMultiprocessor: *value = emrrg::sim::kMaxBlocksPerSm; break;
    case cudaDevAttrComputeCapabilityMajor: *value = 9; break;
    case cudaDevAttrComputeCapabilityMinor: *value = 0; break;
    case cudaDevAttrUnifiedAddressing: *value = 1; break;
    default: return result(cudaErrorNotSupported);
  }
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  if (!func) return result(cudaErrorInvalidDeviceFunction);
  switch (attr) {
    case cudaFuncAttributeMaxDynamicSharedMemorySize:
      if (value < 0 || static_cast<size_t>(value) > emrrg::sim::kOptInSharedLimit) return result(cudaErrorInvalidValue);
      emrrg::sim::set_max_dynamic_shared_memory(func, value);
      return cudaSuccess;
    case cudaFuncAttributePreferredSharedMemoryCarveout:
      // Only a hint to the hardware; the simulator has no L1/shared split to tune.
      return value < -1 || value > 100 ? result(cudaErrorInvalidValue) : cudaSuccess;
    default:
      return result(cudaErrorNotSupported);
  }
}

cudaError_t cudaGetLastError(void) {
  const cudaError_t e = emrrg::sim::last_error;
  emrrg::sim::last_error = cudaSuccess;
  return e;
}

cudaError_t cudaPeekAtLastError(void) { return emrrg::sim::last_error; }

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError: return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorInvalidDeviceFunction: return "cudaErrorInvalidDeviceFunction";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
    case cudaErrorNotSupported: return "cudaErrorNotSupported";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    case cudaErrorUnknown: return "cudaErrorUnknown";
    default: return "unrecognized error code";
  }
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInitializationError: return "initialization error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInvalidDeviceFunction: return "invalid device function";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorNotSupported: return "operation not supported";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    case cudaErrorUnknown: return "unknown error";
    default: return "unrecognized error code";
  }
}

}  // extern "C"
