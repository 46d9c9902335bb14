// The simulated device behind the simulator's CUDA runtime API (runtime_api.cpp): one device,
// "EMRRG SIMT simulator", with the limits of an sm_90 GPU and a configurable memory size, so
// tests can run a program out of device memory. Everything runs synchronously on the host;
// a stream can be held busy to test code that must wait for work in flight.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>

namespace emrrg::sim {

// Device memory cudaMalloc may hand out: EMRRG_SIM_DEVICE_MEMORY (bytes, or with a K, M or G
// suffix) when set, else 16 GiB.
size_t device_memory_limit();
void set_device_memory_limit(size_t bytes);
// Bytes currently allocated with cudaMalloc.
size_t device_memory_used();

// Models unfinished work on `stream`: cudaStreamQuery, and cudaEventQuery of events recorded on
// it meanwhile, report cudaErrorNotReady until the stream, such an event, the device, or (for
// a blocking stream) the legacy default stream is synchronised. The work itself has run.
void hold_stream(cudaStream_t stream);

}  // namespace emrrg::sim
