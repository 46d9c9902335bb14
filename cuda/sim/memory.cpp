#include "cuda/sim/memory.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <sstream>
#include <stdexcept>

#include "cuda/sim/thread_context.h"

namespace emrrg::sim {

namespace {

struct Mapping {
  uintptr_t map_base;
  size_t map_size;
  size_t size;  // the user's bytes, ending at the trailing guard page
};

// Keyed by the user pointer. Read by the fault handler, which takes no lock: a fault while
// another thread is changing the map is accepted as a reporting risk, not a correctness one.
std::map<uintptr_t, Mapping>& mappings() {
  static auto* m = new std::map<uintptr_t, Mapping>();
  return *m;
}
std::mutex mappings_mutex;
size_t bytes_in_use = 0;
size_t malloc_calls = 0;

size_t page_size() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

size_t alignment_for(size_t n) {
  size_t a = 1;
  while (a < 256 && n % (a * 2) == 0) a *= 2;
  return a;
}

void write_all(const std::string& s) {
  const char* p = s.data();
  size_t left = s.size();
  while (left) {
    const ssize_t w = ::write(2, p, left);
    if (w <= 0) return;
    p += w;
    left -= static_cast<size_t>(w);
  }
}

void fault_handler(int sig, siginfo_t* info, void*) {
  std::string msg = "SIMT simulator: invalid device memory access";
  try {
    ThreadContext& t = current_thread();
    msg += " by kernel '" + std::string(t.kernel_name) + "' block " + dim_str(t.block_idx) + " thread " +
           dim_str(t.thread_idx);
  } catch (...) {
    msg += " outside a kernel";
  }
  msg += ": address " + describe_address(info->si_addr) + "\n";
  write_all(msg);
  signal(sig, SIG_DFL);
  raise(sig);
}

}  // namespace

void* device_malloc(size_t n) {
  const size_t page = page_size();
  const size_t body = (n + page - 1) / page * page;
  const size_t total = body + 2 * page;
  void* mem = mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) throw std::bad_alloc();
  const uintptr_t base = reinterpret_cast<uintptr_t>(mem);
  if (body && mprotect(reinterpret_cast<void*>(base + page), body, PROT_READ | PROT_WRITE) != 0) {
    munmap(mem, total);
    throw std::bad_alloc();
  }
  // The buffer ends exactly where the trailing guard page begins.
  uintptr_t user = base + page + body - n;
  user -= user % alignment_for(n);
  if (n == 0) user = base + page;
  // Fresh device memory reads as NaN (0xff bytes), not as zeros, so an output element a kernel
  // never writes stands out.
  std::memset(reinterpret_cast<void*>(user), 0xff, n);
  std::lock_guard<std::mutex> lock(mappings_mutex);
  mappings()[user] = {base, total, n};
  bytes_in_use += n;
  ++malloc_calls;
  return reinterpret_cast<void*>(user);
}

void device_free(void* p) {
  if (!p) return;
  std::lock_guard<std::mutex> lock(mappings_mutex);
  auto it = mappings().find(reinterpret_cast<uintptr_t>(p));
  if (it == mappings().end()) {
    std::ostringstream o;
    o << "simulator: device_free of " << p << ", which is not a live device allocation";
    throw std::invalid_argument(o.str());
  }
  munmap(reinterpret_cast<void*>(it->second.map_base), it->second.map_size);
  bytes_in_use -= it->second.size;
  mappings().erase(it);
}

std::optional<DeviceAllocation> find_device_allocation(const void* addr) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  std::lock_guard<std::mutex> lock(mappings_mutex);
  auto it = mappings().upper_bound(a);
  if (it == mappings().begin()) return std::nullopt;
  --it;
  if (a < it->first + it->second.size) return DeviceAllocation{it->first, it->second.size};
  return std::nullopt;
}

std::string describe_address(const void* addr) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  std::ostringstream o;
  o << addr << " ";
  // Nearest mapping whose guard pages contain the address.
  for (const auto& [user, m] : mappings()) {
    if (a < m.map_base || a >= m.map_base + m.map_size) continue;
    if (a >= user + m.size)
      o << "is " << (a - user - m.size) << " bytes past the end of a " << m.size << "-byte device buffer at 0x"
        << std::hex << user;
    else if (a < user)
      o << "is " << (user - a) << " bytes before the start of a " << m.size << "-byte device buffer at 0x" << std::hex
        << user;
    else
      o << "lies inside a " << m.size << "-byte device buffer at 0x" << std::hex << user;
    return o.str();
  }
  o << "is not in or next to any device buffer";
  return o.str();
}

size_t device_bytes_in_use() {
  std::lock_guard<std::mutex> lock(mappings_mutex);
  return bytes_in_use;
}

size_t device_malloc_calls() {
  std::lock_guard<std::mutex> lock(mappings_mutex);
  return malloc_calls;
}

void install_fault_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = fault_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, nullptr);
    sigaction(SIGBUS, &sa, nullptr);
  });
}

}  // namespace emrrg::sim
