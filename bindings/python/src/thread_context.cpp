#include "thread_context.hpp"

#include <pthread.h>

#include <atomic>
#include <memory>

namespace ee::python {
namespace {

// Bumped in the child of every fork (pthread_atfork), so each thread's context is made again
// there instead of sharing the parent's epoll set and pooled sockets.
std::atomic<unsigned> g_fork_generation{0};

void on_fork_child() noexcept { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

struct Slot {
  std::unique_ptr<boost::asio::io_context> context;
  unsigned generation = 0;
  bool busy = false;
};

thread_local Slot t_slot;

}  // namespace

boost::asio::io_context* acquire_thread_context() {
  static bool const registered = [] {
    ::pthread_atfork(nullptr, nullptr, &on_fork_child);
    return true;
  }();
  (void)registered;
  auto& slot = t_slot;
  if (slot.busy) return nullptr;
  auto const generation = g_fork_generation.load(std::memory_order_relaxed);
  if (!slot.context || slot.generation != generation) {
    // Destroying an inherited context closes only the child's copies of its descriptors (Asio
    // leaves a closed socket's epoll registration to the kernel, which keeps the parent's).
    slot.context.reset();
    slot.context = std::make_unique<boost::asio::io_context>(1);
    slot.generation = generation;
  }
  slot.busy = true;
  return slot.context.get();
}

void release_thread_context(bool failed) noexcept {
  auto& slot = t_slot;
  if (failed) slot.context.reset();
  slot.busy = false;
}

}  // namespace ee::python
