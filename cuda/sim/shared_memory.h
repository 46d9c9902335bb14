// Checked shared memory for the simulator. Kernels declare static shared arrays with
// EMRRG_SHARED(T, name, N) and take dynamic shared memory from emrrg::cuda::dynamic_shared<T>();
// with nvcc these are plain __shared__ arrays and pointers, here they are wrappers whose
// element accesses are checked:
//   - an index outside the array,
//   - a read of an element no thread of this block has written (shared memory starts
//     undefined on a GPU),
//   - a data race: two threads touching one element, at least one writing, with no
//     __syncthreads between them (or, for lanes of one warp, no warp operation between them).
// The last is how a missing __syncthreads shows: the simulator runs each thread until it
// blocks, so a read that a barrier should have ordered meets the other thread's write.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace emrrg::sim {

struct SharedAccess {
  uint64_t block_serial = 0;  // the block these records belong to; older ones are stale
  int32_t writer = -1;
  int32_t reader = -1;  // kManyReaders when several threads read since the last write
  uint32_t write_barrier = 0, write_warp = 0;
  uint32_t read_barrier = 0, read_warp = 0;
};
constexpr int32_t kManyReaders = -2;

void check_shared_read(SharedAccess& record, const void* address);
void check_shared_write(SharedAccess& record, const void* address);
[[noreturn]] void shared_index_error(const void* base, long long index, size_t count);

template <typename T> class SharedRef {
 public:
  SharedRef(T* p, SharedAccess* record) : p_(p), record_(record) {}
  operator T() const {
    check_shared_read(*record_, p_);
    return *p_;
  }
  SharedRef& operator=(const T& v) {
    check_shared_write(*record_, p_);
    *p_ = v;
    return *this;
  }
  SharedRef& operator=(const SharedRef& other) { return *this = static_cast<T>(other); }
  SharedRef& operator+=(const T& v) { return *this = static_cast<T>(*this) + v; }
  SharedRef& operator-=(const T& v) { return *this = static_cast<T>(*this) - v; }
  SharedRef& operator*=(const T& v) { return *this = static_cast<T>(*this) * v; }
  SharedRef& operator/=(const T& v) { return *this = static_cast<T>(*this) / v; }
  // Atomics take the address; they are unchecked (they are safe without a barrier).
  T* operator&() const { return p_; }

 private:
  T* p_;
  SharedAccess* record_;
};

template <typename T> class SharedPtr {
 public:
  SharedPtr(T* base, SharedAccess* records, size_t count) : base_(base), records_(records), count_(count) {}
  SharedRef<T> operator[](long long i) const {
    if (i < 0 || static_cast<size_t>(i) >= count_) shared_index_error(base_, i, count_);
    return SharedRef<T>(base_ + i, records_ + i);
  }
  SharedPtr operator+(long long n) const {
    if (n < 0 || static_cast<size_t>(n) > count_) shared_index_error(base_, n, count_);
    return SharedPtr(base_ + n, records_ + n, count_ - static_cast<size_t>(n));
  }

 private:
  T* base_;
  SharedAccess* records_;
  size_t count_;
};

template <typename T, size_t N> struct SharedArray {
  T data[N];
  SharedAccess records[N];
  SharedRef<T> operator[](long long i) {
    if (i < 0 || static_cast<size_t>(i) >= N) shared_index_error(data, i, N);
    return SharedRef<T>(data + i, records + i);
  }
  operator SharedPtr<T>() { return SharedPtr<T>(data, records, N); }
};

// Records for the dynamic shared memory of the running block, one per element of T.
SharedAccess* dynamic_shared_records(size_t count);

}  // namespace emrrg::sim
