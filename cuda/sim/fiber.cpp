#include "cuda/sim/fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <new>
#include <stdexcept>

namespace emrrg::sim {

namespace {
// makecontext passes only ints; the fiber being started is handed over through this.
thread_local Fiber* starting_fiber = nullptr;
}  // namespace

Fiber::Fiber(size_t stack_bytes) : stack_bytes_(stack_bytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  // One PROT_NONE page below the stack turns a kernel's stack overflow into a fault.
  void* mem = mmap(nullptr, stack_bytes_ + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw std::bad_alloc();
  mprotect(mem, page, PROT_NONE);
  stack_ = mem;
}

Fiber::~Fiber() {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  munmap(stack_, stack_bytes_ + page);
}

void Fiber::reset(std::function<void()>* body) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  body_ = body;
  finished_ = false;
  error_ = nullptr;
  if (getcontext(&context_) != 0) throw std::runtime_error("simulator: getcontext failed");
  context_.uc_stack.ss_sp = static_cast<char*>(stack_) + page;
  context_.uc_stack.ss_size = stack_bytes_;
  context_.uc_link = &caller_;
  makecontext(&context_, &Fiber::trampoline, 0);
  starting_fiber = nullptr;
}

void Fiber::trampoline() {
  Fiber* self = starting_fiber;
  try {
    (*self->body_)();
  } catch (...) {
    self->error_ = std::current_exception();
  }
  self->finished_ = true;
  // Returning switches to uc_link, the context that last resumed this fiber.
}

bool Fiber::resume() {
  if (finished_) return false;
  starting_fiber = this;
  swapcontext(&caller_, &context_);
  return !finished_;
}

void Fiber::yield() { swapcontext(&context_, &caller_); }

}  // namespace emrrg::sim
