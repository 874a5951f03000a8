#pragma once
/// @file Run a coroutine to completion from synchronous code (CLI mains, Python bindings).
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace ee {

/// Runs `task` on a private `io_context` on the calling thread and returns its value.
/// Rethrows whatever the coroutine throws (library coroutines return `result<T>` and do not
/// throw). Never call it from a thread that is running an `io_context`: it would block that
/// context. Thread-safe in the sense that concurrent calls from different threads are
/// independent.
template <class T>
T block_on(boost::asio::awaitable<T> task) {
  boost::asio::io_context context;
  std::optional<T> out;
  std::exception_ptr failure;
  // A wrapper coroutine stores the value, so T need not be default-constructible (co_spawn's
  // completion signature would otherwise require it).
  auto wrapper = [](boost::asio::awaitable<T> inner, std::optional<T>& slot)
      -> boost::asio::awaitable<void> { slot.emplace(co_await std::move(inner)); };
  boost::asio::co_spawn(context, wrapper(std::move(task), out),
                        [&failure](std::exception_ptr e) { failure = std::move(e); });
  context.run();
  if (failure) std::rethrow_exception(failure);
  return std::move(*out);
}

/// Overload for coroutines that return nothing.
inline void block_on(boost::asio::awaitable<void> task) {
  boost::asio::io_context context;
  std::exception_ptr failure;
  boost::asio::co_spawn(context, std::move(task),
                        [&failure](std::exception_ptr e) { failure = std::move(e); });
  context.run();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace ee
