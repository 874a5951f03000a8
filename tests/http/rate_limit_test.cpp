// The per-client token buckets, their bounded table, and who counts as the client.
#include <easyenclave/http/rate_limit.hpp>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/fields.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace ip = boost::asio::ip;
using ee::http::AddressSet;
using ee::http::RateLimit;
using ee::http::RateLimiter;
using namespace std::chrono_literals;

// A clock the test moves by hand.
struct ManualClock {
  std::shared_ptr<std::atomic<std::int64_t>> ms = std::make_shared<std::atomic<std::int64_t>>(0);
  RateLimiter::Clock fn() const {
    return [ms = ms] {
      return std::chrono::steady_clock::time_point(std::chrono::milliseconds(ms->load()));
    };
  }
  void advance(std::chrono::milliseconds by) const { *ms += by.count(); }
};

ip::address addr(char const* text) { return ip::make_address(text); }

TEST(RateLimiter, AllowsTheBurstThenRefusesWithRetryAfter) {
  ManualClock clock;
  RateLimiter limiter(RateLimit{.per_minute = 60, .burst = 3}, clock.fn());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.take(addr("192.0.2.1")).allowed) << i;
  auto const refused = limiter.take(addr("192.0.2.1"));
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, 1s);  // one token a second
}

TEST(RateLimiter, RefillsAtTheConfiguredRateUpToTheBurst) {
  ManualClock clock;
  RateLimiter limiter(RateLimit{.per_minute = 30, .burst = 2}, clock.fn());  // one per 2 s
  EXPECT_TRUE(limiter.take(addr("192.0.2.1")).allowed);
  EXPECT_TRUE(limiter.take(addr("192.0.2.1")).allowed);
  auto const refused = limiter.take(addr("192.0.2.1"));
  ASSERT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, 2s);
  clock.advance(1500ms);
  EXPECT_FALSE(limiter.take(addr("192.0.2.1")).allowed);  // 0.75 of a token
  clock.advance(500ms);
  EXPECT_TRUE(limiter.take(addr("192.0.2.1")).allowed);
  EXPECT_FALSE(limiter.take(addr("192.0.2.1")).allowed);
  // A long silence refills to the burst, not beyond.
  clock.advance(std::chrono::hours(1));
  EXPECT_TRUE(limiter.take(addr("192.0.2.1")).allowed);
  EXPECT_TRUE(limiter.take(addr("192.0.2.1")).allowed);
  EXPECT_FALSE(limiter.take(addr("192.0.2.1")).allowed);
}

TEST(RateLimiter, KeepsClientsApart) {
  ManualClock clock;
  RateLimiter limiter(RateLimit{.per_minute = 60, .burst = 1}, clock.fn());
  EXPECT_TRUE(limiter.take(addr("127.0.0.1")).allowed);
  EXPECT_FALSE(limiter.take(addr("127.0.0.1")).allowed);
  EXPECT_TRUE(limiter.take(addr("127.0.0.2")).allowed);
  EXPECT_EQ(limiter.tracked_clients(), 2U);
}

TEST(RateLimiter, CountsAnIpv6Slash64AsOneClientAndMappedIpv4AsIpv4) {
  ManualClock clock;
  RateLimiter limiter(RateLimit{.per_minute = 60, .burst = 1}, clock.fn());
  EXPECT_TRUE(limiter.take(addr("2001:db8:1:2::1")).allowed);
  EXPECT_FALSE(limiter.take(addr("2001:db8:1:2:ffff::9")).allowed);  // same /64
  EXPECT_TRUE(limiter.take(addr("2001:db8:1:3::1")).allowed);        // next /64
  EXPECT_TRUE(limiter.take(addr("198.51.100.7")).allowed);
  EXPECT_FALSE(limiter.take(addr("::ffff:198.51.100.7")).allowed);
  EXPECT_EQ(limiter.tracked_clients(), 3U);
}

TEST(RateLimiter, TableStaysBoundedAndForgetsTheLeastRecentlySeenClient) {
  ManualClock clock;
  RateLimiter limiter(RateLimit{.per_minute = 1, .burst = 1, .max_clients = 3}, clock.fn());
  EXPECT_TRUE(limiter.take(addr("10.0.0.1")).allowed);
  EXPECT_TRUE(limiter.take(addr("10.0.0.2")).allowed);
  EXPECT_TRUE(limiter.take(addr("10.0.0.3")).allowed);
  // 10.0.0.1 is seen again (refused), so 10.0.0.2 is now the least recently seen.
  EXPECT_FALSE(limiter.take(addr("10.0.0.1")).allowed);
  EXPECT_TRUE(limiter.take(addr("10.0.0.4")).allowed);  // evicts 10.0.0.2
  EXPECT_EQ(limiter.tracked_clients(), 3U);
  EXPECT_FALSE(limiter.take(addr("10.0.0.1")).allowed);  // still remembered, still empty
  EXPECT_TRUE(limiter.take(addr("10.0.0.2")).allowed);   // forgotten: a fresh bucket

  // An attacker with many addresses cannot grow the table.
  for (unsigned i = 0; i < 5000; ++i) {
    auto const bytes = ip::address_v4::bytes_type{10, 1, static_cast<unsigned char>(i / 256),
                                                  static_cast<unsigned char>(i % 256)};
    (void)limiter.take(ip::address_v4(bytes));
    ASSERT_LE(limiter.tracked_clients(), 3U);
  }
}

TEST(RateLimiter, IsSafeToShareBetweenThreads) {
  RateLimiter limiter(RateLimit{.per_minute = 60, .burst = 100, .max_clients = 64});
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&limiter, &allowed, t] {
      for (unsigned i = 0; i < 2000; ++i) {
        auto const bytes = ip::address_v4::bytes_type{10, static_cast<unsigned char>(t),
                                                      static_cast<unsigned char>(i % 128), 1};
        if (limiter.take(ip::address_v4(bytes)).allowed) ++allowed;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_LE(limiter.tracked_clients(), 64U);
  EXPECT_GT(allowed.load(), 0);
}

TEST(AddressSet, MatchesAddressesAndPrefixes) {
  auto set = AddressSet::parse({"127.0.0.1", "10.0.0.0/8", "192.168.1.128/25", "fd00::/8", " ::1 "});
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_TRUE(set->contains(addr("127.0.0.1")));
  EXPECT_FALSE(set->contains(addr("127.0.0.2")));
  EXPECT_TRUE(set->contains(addr("10.255.1.2")));
  EXPECT_TRUE(set->contains(addr("::ffff:10.1.1.1")));
  EXPECT_TRUE(set->contains(addr("192.168.1.200")));
  EXPECT_FALSE(set->contains(addr("192.168.1.100")));
  EXPECT_TRUE(set->contains(addr("fd12::1")));
  EXPECT_FALSE(set->contains(addr("fe80::1")));
  EXPECT_TRUE(set->contains(addr("::1")));
  EXPECT_TRUE(AddressSet::parse({})->empty());
}

TEST(AddressSet, RefusesEntriesThatAreNotAddressesNamingThem) {
  for (char const* bad : {"localhost", "10.0.0.0/33", "::/129", "10.0.0.1/", "10.0.0.1/x", "",
                          "fe80::1%eth0", "1.2.3.4/8/8"}) {
    auto set = AddressSet::parse({"127.0.0.1", bad});
    ASSERT_FALSE(set) << bad;
    EXPECT_NE(set.error().message().find("'" + std::string(bad) + "'"), std::string::npos)
        << set.error().message();
  }
}

TEST(ClientAddress, IsThePeerUnlessThePeerIsATrustedProxy) {
  boost::beast::http::fields fields;
  fields.set("CF-Connecting-IP", "203.0.113.9");
  fields.set("X-Forwarded-For", "198.51.100.1");
  auto const none = AddressSet::parse({}).value();
  auto const loopback = AddressSet::parse({"127.0.0.1"}).value();
  EXPECT_EQ(ee::http::client_address(addr("127.0.0.1"), fields, none), addr("127.0.0.1"));
  EXPECT_EQ(ee::http::client_address(addr("192.0.2.5"), fields, loopback), addr("192.0.2.5"));
  EXPECT_EQ(ee::http::client_address(addr("127.0.0.1"), fields, loopback), addr("203.0.113.9"));
  EXPECT_EQ(ee::http::client_address(addr("::ffff:127.0.0.1"), fields, loopback),
            addr("203.0.113.9"));
}

TEST(ClientAddress, ReadsForwardedForFromTheRightAndDistrustsAmbiguousHeaders) {
  auto const trusted = AddressSet::parse({"127.0.0.1", "10.0.0.0/8"}).value();
  auto const peer = addr("127.0.0.1");
  {
    boost::beast::http::fields fields;  // the client wrote the first entry; proxies the rest
    fields.insert("X-Forwarded-For", "1.1.1.1, 198.51.100.1");
    fields.insert("X-Forwarded-For", "10.0.0.5");
    EXPECT_EQ(ee::http::client_address(peer, fields, trusted), addr("198.51.100.1"));
  }
  {
    boost::beast::http::fields fields;  // two CF-Connecting-IP: neither is believed
    fields.insert("CF-Connecting-IP", "203.0.113.9");
    fields.insert("CF-Connecting-IP", "203.0.113.10");
    EXPECT_EQ(ee::http::client_address(peer, fields, trusted), peer);
  }
  {
    boost::beast::http::fields fields;  // malformed
    fields.insert("CF-Connecting-IP", "not-an-address");
    fields.insert("X-Forwarded-For", "198.51.100.1, garbage");
    EXPECT_EQ(ee::http::client_address(peer, fields, trusted), peer);
  }
  {
    boost::beast::http::fields fields;  // only trusted hops
    fields.insert("X-Forwarded-For", "10.1.1.1, 127.0.0.1");
    EXPECT_EQ(ee::http::client_address(peer, fields, trusted), peer);
  }
}

}  // namespace
