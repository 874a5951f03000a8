// The in-memory single-use store (spent nonces, accepted signatures): once per key until it
// expires, a bound it either refuses past or evicts within, and exactly one first use under
// concurrency.
#include <easyenclave/registry/store.hpp>

#include "registry/store_conformance.hpp"

#include <gtest/gtest.h>

namespace {

using ee::registry::errc;
using ee::registry::make_memory_once_store;
using ee::registry::conformance::base_time;
using ee::registry::conformance::seconds_after;
using namespace std::chrono_literals;

TEST(MemoryOnceStore, AKeyIsUsedOnceUntilItExpiresOrIsForgotten) {
  auto store = make_memory_once_store(8, true);
  auto const t0 = base_time();
  EXPECT_TRUE(store->first_use("k", t0 + 60s, t0).value());
  EXPECT_FALSE(store->first_use("k", t0 + 60s, t0 + 1s).value());
  ASSERT_TRUE(store->forget("k"));
  EXPECT_TRUE(store->first_use("k", t0 + 60s, t0 + 2s).value());
  EXPECT_TRUE(store->forget("absent"));
  // Already expired: never a first use.
  EXPECT_FALSE(store->first_use("late", t0, t0).value());
  EXPECT_EQ(store->count().value(), 1u);
  EXPECT_EQ(store->purge(t0 + 59s).value(), 0u);
  EXPECT_EQ(store->purge(t0 + 60s).value(), 1u);
  EXPECT_EQ(store->count().value(), 0u);
}

TEST(MemoryOnceStore, WhenFullItRefusesOrEvictsTheSoonestToExpire) {
  auto const t0 = base_time();
  auto refusing = make_memory_once_store(2, true);
  ASSERT_TRUE(refusing->first_use("a", t0 + 10s, t0).value());
  ASSERT_TRUE(refusing->first_use("b", t0 + 20s, t0).value());
  auto full = refusing->first_use("c", t0 + 30s, t0);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error(), errc::store_full);
  EXPECT_FALSE(refusing->first_use("a", t0 + 10s, t0).value()) << "nothing was forgotten to make room";
  // Once one expires there is room again.
  EXPECT_TRUE(refusing->first_use("c", t0 + 30s, t0 + 10s).value());

  auto evicting = make_memory_once_store(2, false);
  ASSERT_TRUE(evicting->first_use("a", t0 + 10s, t0).value());
  ASSERT_TRUE(evicting->first_use("b", t0 + 20s, t0).value());
  EXPECT_TRUE(evicting->first_use("c", t0 + 30s, t0).value());
  EXPECT_EQ(evicting->count().value(), 2u);
  EXPECT_TRUE(evicting->first_use("a", t0 + 10s, t0).value()) << "a expired soonest and was evicted";
  EXPECT_FALSE(evicting->first_use("c", t0 + 30s, t0).value());
}

TEST(MemoryOnceStore, ConcurrentFirstUsesOfOneKeyHaveExactlyOneWinner) {
  auto store = make_memory_once_store(1000, true);
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> wins{0};
    auto const key = "nonce-" + std::to_string(round);
    ee::registry::conformance::run_threads(8, [&](int) {
      if (store->first_use(key, seconds_after(base_time(), 60), base_time()).value()) ++wins;
    });
    EXPECT_EQ(wins.load(), 1);
  }
}

}  // namespace
