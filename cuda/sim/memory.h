// Device memory of the simulator: host memory with a PROT_NONE guard page right after the end
// of every buffer (and one before the page holding its start), so a kernel reading or writing
// past a buffer faults at once. The fault handler reports the kernel, block and thread that
// did it and where the address lies relative to the nearest buffer, then aborts.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace emrrg::sim {

// Allocates n bytes whose end abuts a guard page. The start is aligned to the largest power of
// two (at most 256) dividing n, so no slack hides an overrun. Throws std::bad_alloc.
void* device_malloc(size_t n);
// Frees a pointer from device_malloc; throws std::invalid_argument for any other pointer.
void device_free(void* p);

struct DeviceAllocation {
  uintptr_t base = 0;
  size_t size = 0;
};
// The live allocation containing addr, if any.
std::optional<DeviceAllocation> find_device_allocation(const void* addr);
// A sentence locating addr: "N bytes past the end of a M-byte device buffer at 0x..." etc.
std::string describe_address(const void* addr);
// Live device bytes and buffers (tests check the caching allocator with these).
size_t device_bytes_in_use();
size_t device_malloc_calls();

// Installs the SIGSEGV/SIGBUS reporter (idempotent; done by the first launch).
void install_fault_handler();

}  // namespace emrrg::sim
