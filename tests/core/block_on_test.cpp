#include <easyenclave/block_on.hpp>
#include <easyenclave/error.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>

namespace {

namespace asio = boost::asio;

asio::awaitable<ee::result<int>> add_later(int a, int b) {
  asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(5));
  co_await timer.async_wait(asio::use_awaitable);
  co_return a + b;
}

asio::awaitable<std::unique_ptr<int>> move_only() { co_return std::make_unique<int>(42); }

asio::awaitable<void> throws() {
  throw std::runtime_error("boom");
  co_return;
}

struct NoDefault {
  explicit NoDefault(int v) : value(v) {}
  int value;
};
asio::awaitable<NoDefault> no_default() { co_return NoDefault(7); }

TEST(BlockOn, ReturnsTheCoroutinesValue) {
  auto r = ee::block_on(add_later(2, 3));
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 5);
  EXPECT_EQ(*ee::block_on(move_only()), 42);
  EXPECT_EQ(ee::block_on(no_default()).value, 7);
}

TEST(BlockOn, RethrowsExceptions) { EXPECT_THROW(ee::block_on(throws()), std::runtime_error); }

}  // namespace
