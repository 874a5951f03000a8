#pragma once
// Running library coroutines on the calling thread's own io_context, kept between calls.
//
// The process's HTTP client (shared.hpp) pools keep-alive connections per origin and executor,
// and drops a context's connections when the context is destroyed. ee::block_on makes a context
// per call, so every connect() used to open new connections to the control plane and the agent.
// run_on_thread_context keeps one context per thread instead: a connect(), the requests of its
// Connection and the next connect() from the same thread reuse the same sockets (the client
// still keys them by scheme, host and port, checks an idle one is alive before reuse, and closes
// it after its idle timeout). The context runs only while a call runs on its thread.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <easyenclave/block_on.hpp>

#include <exception>
#include <optional>
#include <utility>

namespace ee::python {

/// The calling thread's context, marked busy until `release_thread_context`; nullptr when it is
/// busy already (a call nested in another on this thread, e.g. from a log handler), and then the
/// caller uses a private one. In the child of a fork the thread's context is replaced on first
/// use: the inherited one shares its reactor and pooled sockets with the parent.
boost::asio::io_context* acquire_thread_context();
/// Ends the call that acquired the context. `failed`: the context stopped on an exception and
/// may hold stale work; it is replaced.
void release_thread_context(bool failed) noexcept;

/// ee::block_on on this thread's kept context (see above). Rethrows what the coroutine throws
/// (library coroutines return result<T> and do not). Never call it from an io thread.
template <class T>
T run_on_thread_context(boost::asio::awaitable<T> task) {
  auto* context = acquire_thread_context();
  if (context == nullptr) return block_on(std::move(task));
  std::optional<T> out;
  std::exception_ptr failure;
  bool ran = false;
  struct Release {
    bool const& ran;
    ~Release() { release_thread_context(!ran); }
  } release{ran};
  auto wrapper = [](boost::asio::awaitable<T> inner,
                    std::optional<T>& slot) -> boost::asio::awaitable<void> {
    slot.emplace(co_await std::move(inner));
  };
  context->restart();
  boost::asio::co_spawn(*context, wrapper(std::move(task), out),
                        [&failure](std::exception_ptr e) { failure = std::move(e); });
  context->run();
  ran = !failure;
  if (failure) std::rethrow_exception(failure);
  return std::move(*out);
}

}  // namespace ee::python
