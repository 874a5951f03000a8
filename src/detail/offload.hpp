#pragma once
// Runs blocking work (SQLite stores) on a worker pool and resumes the awaiting coroutine on its
// own executor, so io threads never block on a database (STYLE.md, stores).
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <type_traits>
#include <utility>

namespace ee::detail {

/// `co_await offload(pool, f)` calls `f()` on a thread of `pool` and yields its value. `f` must
/// not throw (library code returns result<T>).
///
/// `f` must be trivially destructible: capture by reference (`[&]`, `[&s, &id]`) or trivial values
/// only. GCC 12 destroys a closure temporary that owns a std::string (or any non-trivially
/// destructible capture) twice when it appears in a co_await expression (a double free, seen in
/// this code base). References are safe here: the awaiting coroutine's frame is owned by the
/// completion handler inside the posted job, so it outlives `f()`, which runs only before the
/// handler is released.
template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> offload(boost::asio::thread_pool& pool, F f) {
  static_assert(std::is_trivially_destructible_v<F>,
                "capture by reference: GCC 12 double-destroys owning closures in co_await");
  using R = std::invoke_result_t<F&>;
  namespace asio = boost::asio;
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(R)>(
      [&pool, &f](auto handler) {
        asio::post(pool, [fn = std::move(f), handler = std::move(handler)]() mutable {
          R value = fn();
          auto executor = asio::get_associated_executor(handler);
          asio::dispatch(executor, [h = std::move(handler), v = std::move(value)]() mutable {
            std::move(h)(std::move(v));
          });
        });
      },
      asio::use_awaitable);
}

}  // namespace ee::detail
