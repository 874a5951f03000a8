#pragma once
/// @file A coroutine HTTP/1.1 server: keep-alive, body limit, read timeouts, optional TLS, a
/// request id per request and a graceful stop that drains requests in flight.
#include <easyenclave/error.hpp>
#include <easyenclave/metrics.hpp>
#include <easyenclave/http/rate_limit.hpp>
#include <easyenclave/http/router.hpp>

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ee::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  ///< 0: the kernel picks one; `Server::port()` tells which
  std::size_t threads = 1;  ///< threads running the server's io_context
  std::size_t body_limit = 1024 * 1024;  ///< larger bodies are answered 413 and the connection closed
  std::size_t header_limit = 16 * 1024;  ///< larger header blocks are answered 431
  /// From the first byte of a request to the end of its header block; a client that stalls
  /// inside the header is dropped. Also bounds the TLS handshake and the wait for the first
  /// byte on a new connection.
  std::chrono::milliseconds header_timeout{10'000};
  /// For reading a request body.
  std::chrono::milliseconds body_timeout{30'000};
  /// How long a keep-alive connection may wait for the next request.
  std::chrono::milliseconds idle_timeout{60'000};
  /// For writing a response to a slow reader.
  std::chrono::milliseconds write_timeout{30'000};
  /// On stop, requests in flight get this long to finish before connections are closed.
  std::chrono::milliseconds shutdown_grace{10'000};
  /// TLS: PEM certificate chain and private key. Both empty: plain HTTP.
  std::string tls_certificate_file{};
  std::string tls_private_key_file{};
  /// Open connections at most. A connection beyond it is answered at once with 503
  /// `http.too_many_connections` (`Connection: close`, `Retry-After: 1`) and closed, and counted
  /// in `refused_connections()`. 0: automatic, three quarters of the soft RLIMIT_NOFILE at start,
  /// at most 1024 (`kAutoMaxConnections`): the last quarter of the descriptors stays for the
  /// database, outbound HTTPS, child processes and the refusals themselves, and 1024 concurrent
  /// connections is far more than a control plane or an agent serves legitimately (cloudflared
  /// reuses its connections) while each one may hold up to `body_limit` of memory.
  std::size_t max_connections = 0;
  /// Rate-limit classes routes may name (`Router::Route::rate_class`), per client address (see
  /// `client_address`). "anonymous" (600 a minute, bursts of 120) is predefined for routes any
  /// unauthenticated caller may use; set its `per_minute` to 0 to turn it off.
  std::map<std::string, RateLimit, std::less<>> rate_limits{
      {"anonymous", RateLimit{.per_minute = 600, .burst = 120}}};
  /// Peers whose `CF-Connecting-IP` / `X-Forwarded-For` name the client (addresses or
  /// address/prefix-length). Empty (the default): the client is always the socket's peer. Behind
  /// a Cloudflare tunnel every request arrives from cloudflared on loopback, so without
  /// "127.0.0.1" here all clients share one rate-limit bucket.
  std::vector<std::string> trusted_proxies{};
  /// The clock of the rate limiters; empty: std::chrono::steady_clock. For tests.
  std::function<std::chrono::steady_clock::time_point()> rate_limit_clock{};
  /// Where the server counts its requests, null: nowhere. It registers
  /// `ee_http_requests_total{method,route,status}` and
  /// `ee_http_request_duration_seconds{method,route}` (route: the matched pattern, "unmatched"
  /// when none matched, "refused" for what the server refused before routing; method: the
  /// standard verb or "other"), `ee_http_requests_in_flight`, `ee_http_connections_open`,
  /// `ee_http_connections_refused_total` and `ee_http_requests_rate_limited_total`. Label values
  /// never come from the request's own text, so a caller cannot add series.
  std::shared_ptr<metrics::Registry> metrics{};
};

/// The cap `ServerOptions::max_connections` = 0 never exceeds.
inline constexpr std::size_t kAutoMaxConnections = 1024;

/// A running server. Create it with `Server::start`; it serves on its own threads until `stop`
/// or destruction. All member functions are thread-safe.
///
/// Besides routing, the server itself answers 400 (malformed request, HTTP/1.1 without Host,
/// framing it will not guess at: see below), 404/405 (from the router), 413 (body over
/// `body_limit`, judged by Content-Length before the body is read, or while reading a chunked
/// body), 429 (the route's rate limit, with `Retry-After`), 431 (header over `header_limit`),
/// 500 (a handler threw), 501 (a transfer coding other than chunked) and 503 (over
/// `max_connections`), all with the JSON error body of `error_response`; the 400/413/431/501/503
/// answers close the connection. HEAD is served by the GET route without content; `Expect:
/// 100-continue` is honoured. Every response carries `X-Request-Id` and `Date`.
///
/// Framing (RFC 9112 sections 6.1-6.3): a request body is framed by one Content-Length of
/// decimal digits, or by `Transfer-Encoding: chunked` alone (HTTP/1.1, no Content-Length).
/// Both together, two Content-Length fields, a list in Content-Length, a Transfer-Encoding whose
/// final coding is not chunked, chunked twice, or Transfer-Encoding in HTTP/1.0 are answered 400
/// and the connection closed without reading further, so what follows can never be taken for
/// another request. Folded header lines (obs-fold) are unfolded into one space (section 5.2).
///
/// Accepting: when `accept` fails (no descriptors left, no buffers), the server waits 10 ms,
/// doubling to 1 s while it keeps failing, and logs the first failure and then at most one line
/// per 10 s with the count, plus one line when accepting works again.
class Server {
 public:
  /// Binds, listens and starts serving `router` on `options.threads` threads.
  /// @returns errc::bind_failed when the address cannot be bound, errc::tls_setup_failed when
  ///          the certificate or key cannot be loaded. Never throws (except bad_alloc).
  static result<std::unique_ptr<Server>> start(Router router, ServerOptions options = {});

  ~Server();  ///< Stops as `stop()` does, then joins the threads.
  Server(Server const&) = delete;
  Server& operator=(Server const&) = delete;

  /// The bound address (the real port when 0 was asked for).
  boost::asio::ip::tcp::endpoint endpoint() const noexcept;
  std::uint16_t port() const noexcept { return endpoint().port(); }

  /// Graceful stop: stops accepting, closes idle connections, lets requests in flight finish
  /// (their responses carry `Connection: close`) for up to `shutdown_grace`, then closes the
  /// rest and joins the threads. Idempotent. Must not be called from a handler.
  void stop();

  /// Blocks until SIGINT or SIGTERM arrives (then stops gracefully) or until `stop()` is
  /// called from another thread.
  void wait_for_signal();

  /// Blocks until the server has stopped.
  void wait();

  /// Requests being handled right now (read completely, response not yet written).
  std::size_t requests_in_flight() const noexcept;
  /// Open connections right now.
  std::size_t open_connections() const noexcept;
  /// The connection cap in force (`ServerOptions::max_connections` resolved).
  std::size_t max_connections() const noexcept;
  /// Connections refused for being over the cap since start.
  std::size_t refused_connections() const noexcept;
  /// Requests answered 429 since start.
  std::size_t rate_limited_requests() const noexcept;

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ee::http
