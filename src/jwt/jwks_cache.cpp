// The JWKS cache. Key-set URLs are configuration (RFC 7515 section 10.4 leaves trust in `jku` to
// the application; we never follow it). Single-flight: the first caller that needs a fetch does
// it; later callers park on a channel of their own and are woken when it completes.
#include <easyenclave/jwt/jwks_cache.hpp>

#include "detail/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include <mutex>
#include <optional>
#include <vector>

namespace ee::jwt {

namespace asio = boost::asio;
using Waiter = asio::experimental::concurrent_channel<void(boost::system::error_code)>;

struct JwksCache::State {
  std::shared_ptr<http::Client> http;
  JwksCacheOptions options;
  Clock clock;

  std::mutex mutex;
  std::optional<KeySet> keys;             // last good set
  TimePoint fetched_at{};                 // when `keys` was fetched
  std::optional<TimePoint> last_attempt;  // last fetch attempt, successful or not
  Error last_error{};                     // error of the last attempt, if it failed
  bool in_flight = false;
  std::vector<std::shared_ptr<Waiter>> waiters;
  std::size_t fetches = 0;

  bool fresh(TimePoint now) const { return keys && now < fetched_at + options.ttl; }
  bool servable(TimePoint now) const { return keys && now < fetched_at + options.ttl + options.max_stale; }
  bool recently_attempted(TimePoint now) const {
    return last_attempt && now < *last_attempt + options.min_refresh_interval;
  }
  // What a caller gets when no (further) fetch is to be made: the set while servable, else the
  // last error.
  result<KeySet> current(TimePoint now) const {
    if (servable(now)) return *keys;
    if (last_error.failed()) return last_error;
    return Error(errc::jwks_fetch_failed, "no key set fetched yet from " + options.url);
  }
};

namespace {

asio::awaitable<result<KeySet>> fetch(http::Client& http, JwksCacheOptions const& options) {
  namespace bhttp = boost::beast::http;
  http::Request req{bhttp::verb::get, options.url, 11};
  req.set(bhttp::field::accept, "application/json");
  auto response = co_await http.send(std::move(req), options.request);
  if (!response)
    co_return Error(errc::jwks_fetch_failed, "key set " + options.url + ": " + response.error().message());
  if (response->result_int() != 200)
    co_return Error(errc::jwks_fetch_failed,
                    "key set " + options.url + ": HTTP " + std::to_string(response->result_int()));
  auto keys = KeySet::parse(response->body());
  if (!keys) co_return Error(errc::jwks_fetch_failed, "key set " + options.url + ": " + keys.error().message());
  co_return std::move(*keys);
}

// Finishes the flight: records the outcome and wakes every parked caller. Also runs if the
// fetching coroutine is destroyed mid-flight, so waiters are never stranded.
struct FlightGuard {
  JwksCache::State& state;
  bool done = false;
  void finish(result<KeySet> const* outcome, TimePoint now) {
    std::vector<std::shared_ptr<Waiter>> waiters;
    {
      std::lock_guard lock(state.mutex);
      if (outcome && *outcome) {
        state.keys = **outcome;
        state.fetched_at = now;
        state.last_error = Error{};
      } else {
        state.last_error = outcome ? outcome->error() : Error(errc::jwks_fetch_failed, "key set fetch abandoned");
      }
      state.in_flight = false;
      waiters.swap(state.waiters);
    }
    for (auto const& w : waiters) w->try_send(boost::system::error_code{});
    done = true;
  }
  ~FlightGuard() {
    if (!done) finish(nullptr, TimePoint{});
  }
};

asio::awaitable<result<KeySet>> load(std::shared_ptr<JwksCache::State> state, std::optional<std::string> kid) {
  auto const executor = co_await asio::this_coro::executor;  // before locking: no lock across co_await
  std::shared_ptr<Waiter> waiter;
  {
    std::lock_guard lock(state->mutex);
    auto const now = state->clock();
    bool const known = !kid || (state->keys && state->keys->contains_kid(*kid));
    if (state->fresh(now) && known) co_return *state->keys;
    // Rate limit: an unknown kid, or a retry after a failure, fetches at most once per interval.
    if (state->recently_attempted(now) && (state->fresh(now) || state->last_error.failed()))
      co_return state->current(now);
    if (state->in_flight) {
      waiter = std::make_shared<Waiter>(executor, 1);
      state->waiters.push_back(waiter);
    } else {
      state->in_flight = true;
      state->last_attempt = now;
      ++state->fetches;
    }
  }
  if (waiter) {
    (void)co_await waiter->async_receive(asio::as_tuple(asio::use_awaitable));
    std::lock_guard lock(state->mutex);
    co_return state->current(state->clock());
  }
  FlightGuard guard{*state};
  auto fetched = co_await fetch(*state->http, state->options);
  auto const now = state->clock();
  guard.finish(&fetched, now);
  if (fetched) co_return fetched;
  std::lock_guard lock(state->mutex);
  if (state->servable(now)) {
    detail::log::warn("jwt", "key set refresh failed, serving the previous set: ", fetched.error().message());
    co_return *state->keys;
  }
  co_return fetched.error();
}

}  // namespace

JwksCache::JwksCache(std::shared_ptr<http::Client> http, JwksCacheOptions options, Clock clock)
    : state_(std::make_shared<State>()) {
  state_->http = std::move(http);
  state_->options = std::move(options);
  state_->clock = std::move(clock);
}

asio::awaitable<result<KeySet>> JwksCache::get() { return load(state_, std::nullopt); }

asio::awaitable<result<KeySet>> JwksCache::get_for(std::string kid) { return load(state_, std::move(kid)); }

asio::awaitable<result<Token>> JwksCache::verify(std::string token, VerifyOptions options) {
  auto const state = state_;
  auto header = peek_header(token, options.max_token_bytes);
  if (!header) co_return header.error();
  auto keys = co_await load(state, header->kid);
  if (!keys) co_return keys.error();
  co_return jwt::verify(token, *keys, options, state->clock());
}

std::size_t JwksCache::fetch_count() const noexcept {
  std::lock_guard lock(state_->mutex);
  return state_->fetches;
}

}  // namespace ee::jwt
