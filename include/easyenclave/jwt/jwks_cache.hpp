#pragma once
/// @file A cache of one JWK set fetched from a configured URL (never from a token's `jku`): TTL,
/// a refresh when a token names an unknown `kid` (at most once per interval, single-flight under
/// concurrency), and, when a refresh fails, the last good set served for a bounded time.
#include <easyenclave/error.hpp>
#include <easyenclave/http/client.hpp>
#include <easyenclave/jwt/error.hpp>
#include <easyenclave/jwt/token.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace ee::jwt {

struct JwksCacheOptions {
  /// The key set URL (kItaJwksUrl, kGithubJwksUrl, or a test server's).
  std::string url{};
  /// A fetched set is fresh this long; a call after that refetches.
  std::chrono::seconds ttl{std::chrono::hours(1)};
  /// Minimum time between two fetch attempts triggered by an unknown kid or following a failed
  /// fetch, so a stream of tokens with made-up kids cannot make us hammer the issuer.
  std::chrono::seconds min_refresh_interval{std::chrono::seconds(60)};
  /// When fetching fails, the last good set keeps being served for this long after its TTL ran
  /// out; after that the fetch error is returned.
  std::chrono::seconds max_stale{std::chrono::hours(24)};
  http::RequestOptions request{std::chrono::seconds(10), 1024 * 1024};
};

/// Thread-safe; cheap to copy (copies share the cache). The clock is injected so tests control
/// TTLs. No lock is held while fetching; concurrent callers that need a fetch wait for the one
/// fetch in flight instead of starting their own.
class JwksCache {
 public:
  using Clock = std::function<TimePoint()>;
  JwksCache(std::shared_ptr<http::Client> http, JwksCacheOptions options, Clock clock);

  /// The current set: cached while fresh, else fetched.
  /// @returns the set; jwt::errc::jwks_fetch_failed (non-2xx, transport error, body that is not a
  ///          key set, naming the URL and status) when there is no usable set, fresh or within
  ///          `max_stale`. Never throws (except bad_alloc).
  boost::asio::awaitable<result<KeySet>> get();

  /// As `get`, and when the fresh set does not contain `kid`, refetches (rate-limited by
  /// `min_refresh_interval`). The returned set may still lack `kid`: verification then fails
  /// with unknown_kid.
  boost::asio::awaitable<result<KeySet>> get_for(std::string kid);

  /// Peeks the token's kid (unverified), gets the set for it and verifies the token with it at
  /// the cache's clock.
  /// @returns the errors of peek_header, get_for and jwt::verify.
  boost::asio::awaitable<result<Token>> verify(std::string token, VerifyOptions options);

  /// Fetch attempts made so far (for tests and metrics).
  std::size_t fetch_count() const noexcept;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace ee::jwt
