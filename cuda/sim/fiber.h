// Cooperative fibers (ucontext) for the simulator: every CUDA thread of a block is a fiber;
// a fiber runs until it reaches a barrier or a warp operation and yields back to the block
// runner. One OS thread runs one block's fibers at a time.
#pragma once
#include <ucontext.h>

#include <cstddef>
#include <exception>
#include <functional>

namespace emrrg::sim {

class Fiber {
 public:
  explicit Fiber(size_t stack_bytes);
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // Prepares the fiber to run `body` from the start (the stack is reused).
  void reset(std::function<void()>* body);
  // Runs the fiber until it yields or finishes; returns true while it has not finished.
  bool resume();
  // Called on the fiber: switches back to whoever resumed it.
  void yield();
  bool finished() const { return finished_; }
  // An exception that escaped the body, if any (rethrown by the runner).
  std::exception_ptr error() const { return error_; }

 private:
  static void trampoline();
  void* stack_ = nullptr;
  size_t stack_bytes_;
  ucontext_t context_{};
  ucontext_t caller_{};
  std::function<void()>* body_ = nullptr;
  bool finished_ = true;
  std::exception_ptr error_;
};

}  // namespace emrrg::sim
