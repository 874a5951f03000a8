// JwksCache over the fake HTTP client: TTL, refresh on unknown kid, rate limit, single-flight
// under concurrency, bounded stale serving.
#include <easyenclave/block_on.hpp>
#include <easyenclave/jwt/jwks_cache.hpp>

#include "detail/time.hpp"
#include "fakes/jws_signer.hpp"
#include "support/fake_http_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace {

using ee::jwt::errc;
using verb = boost::beast::http::verb;
using namespace std::chrono_literals;

struct Keys {
  ee::test::SigningKey k1 = ee::test::SigningKey::ec("P-256", "k1");
  ee::test::SigningKey k2 = ee::test::SigningKey::ec("P-256", "k2");
  std::string set1 = ee::test::jwks_json({k1.jwk_json("ES256")});
  std::string set12 = ee::test::jwks_json({k1.jwk_json("ES256"), k2.jwk_json("ES256")});
};
Keys& keys() {
  static Keys k;
  return k;
}

struct Fixture {
  std::shared_ptr<ee::test::FakeHttpClient> http = std::make_shared<ee::test::FakeHttpClient>();
  std::shared_ptr<std::atomic<std::int64_t>> now = std::make_shared<std::atomic<std::int64_t>>(1'750'000'000);
  ee::jwt::JwksCache cache{http,
                           {.url = "https://issuer.test/jwks", .ttl = 3600s, .min_refresh_interval = 60s,
                            .max_stale = 600s},
                           [now = now] { return ee::detail::from_unix_seconds(now->load()); }};
  void advance(std::int64_t seconds) { *now += seconds; }
};

TEST(JwksCache, CachesWithinTtlAndRefetchesAfter) {
  Fixture f;
  f.http->on(verb::get, "/jwks", 200, keys().set1);
  auto a = ee::block_on(f.cache.get());
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->size(), 1u);
  EXPECT_TRUE(ee::block_on(f.cache.get()));
  EXPECT_EQ(f.http->request_count(), 1u);
  auto const req = f.http->requests().at(0);
  EXPECT_EQ(req.target(), "https://issuer.test/jwks");
  f.advance(3601);
  EXPECT_TRUE(ee::block_on(f.cache.get()));
  EXPECT_EQ(f.http->request_count(), 2u);
  EXPECT_EQ(f.cache.fetch_count(), 2u);
}

TEST(JwksCache, RefreshesOnUnknownKid) {
  Fixture f;
  f.http->on(verb::get, "/jwks", 200, keys().set1);
  f.http->on(verb::get, "/jwks", 200, keys().set12);
  ASSERT_TRUE(ee::block_on(f.cache.get_for("k1")));
  EXPECT_EQ(f.http->request_count(), 1u);
  f.advance(61);
  auto r = ee::block_on(f.cache.get_for("k2"));  // rotated key: refetch although fresh
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->contains_kid("k2"));
  EXPECT_EQ(f.http->request_count(), 2u);
  // A token signed by the new key verifies through the cache.
  ee::jwt::VerifyOptions options;
  options.algorithms = {ee::jwt::Algorithm::es256};
  options.issuers = {"https://issuer.test"};
  auto token = keys().k2.mint("ES256", R"({"iss":"https://issuer.test","exp":1750000300})");
  auto verified = ee::block_on(f.cache.verify(token, options));
  ASSERT_TRUE(verified) << verified.error().message();
  EXPECT_EQ(verified->kid(), "k2");
}

TEST(JwksCache, UnknownKidRefreshIsRateLimited) {
  Fixture f;
  f.http->on(verb::get, "/jwks", 200, keys().set1);
  ASSERT_TRUE(ee::block_on(f.cache.get()));
  f.advance(61);
  for (int i = 0; i < 5; ++i) {
    auto r = ee::block_on(f.cache.get_for("made-up-" + std::to_string(i)));
    ASSERT_TRUE(r);  // the current set; verification then fails with unknown_kid
    EXPECT_FALSE(r->contains_kid("made-up-0"));
  }
  EXPECT_EQ(f.http->request_count(), 2u);  // one refresh for the first unknown kid, then none
  f.advance(59);
  ASSERT_TRUE(ee::block_on(f.cache.get_for("made-up-9")));
  EXPECT_EQ(f.http->request_count(), 2u);
  f.advance(2);
  ASSERT_TRUE(ee::block_on(f.cache.get_for("made-up-9")));
  EXPECT_EQ(f.http->request_count(), 3u);
}

TEST(JwksCache, ConcurrentCallersShareOneFetch) {
  Fixture f;
  std::atomic<int> in_handler{0};
  f.http->on(verb::get, "/jwks", [&](ee::http::Request const&) -> ee::result<ee::http::Response> {
    ++in_handler;
    std::this_thread::sleep_for(300ms);  // the fetch is in flight while the others arrive
    ee::http::Response response{boost::beast::http::status::ok, 11};
    response.body() = keys().set1;
    response.prepare_payload();
    return response;
  });
  boost::asio::io_context context(4);
  std::atomic<int> ok{0};
  constexpr int kCallers = 16;
  for (int i = 0; i < kCallers; ++i) {
    boost::asio::co_spawn(
        context,
        [&]() -> boost::asio::awaitable<void> {
          auto r = co_await f.cache.get_for("k1");
          if (r && r->contains_kid("k1")) ++ok;
        },
        boost::asio::detached);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([&] { context.run(); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kCallers);
  EXPECT_EQ(in_handler.load(), 1);
  EXPECT_EQ(f.cache.fetch_count(), 1u);
}

TEST(JwksCache, ServesTheLastGoodSetForABoundedTime) {
  Fixture f;
  f.http->on(verb::get, "/jwks", 200, keys().set1);
  f.http->on(verb::get, "/jwks", 503, "down");
  ASSERT_TRUE(ee::block_on(f.cache.get()));
  f.advance(3600 + 10);  // expired: refetch fails, the old set is served
  auto stale = ee::block_on(f.cache.get());
  ASSERT_TRUE(stale) << stale.error().message();
  EXPECT_TRUE(stale->contains_kid("k1"));
  EXPECT_EQ(f.http->request_count(), 2u);
  f.advance(30);  // failed recently: no new attempt, still served
  EXPECT_TRUE(ee::block_on(f.cache.get()));
  EXPECT_EQ(f.http->request_count(), 2u);
  f.advance(600);  // past ttl + max_stale: the error surfaces
  auto gone = ee::block_on(f.cache.get());
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error(), errc::jwks_fetch_failed);
  EXPECT_EQ(gone.error(), ee::condition::upstream_failure);
  EXPECT_NE(gone.error().message().find("503"), std::string::npos);
}

TEST(JwksCache, FailsWithoutAnySet) {
  Fixture f;
  f.http->on(verb::get, "/jwks", 200, "not json");
  auto r = ee::block_on(f.cache.get());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::jwks_fetch_failed);
  f.http->fail(verb::get, "/jwks", ee::Error(ee::http::errc::timeout, "deadline"));
  f.advance(61);
  EXPECT_EQ(ee::block_on(f.cache.get()).error(), errc::jwks_fetch_failed);
}

}  // namespace
