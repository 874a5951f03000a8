#pragma once
/// @file A coroutine HTTP/1.1 server: keep-alive, body limit, read timeouts, optional TLS, a
/// request id per request and a graceful stop that drains requests in flight.
#include <easyenclave/error.hpp>
#include <easyenclave/http/router.hpp>

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

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
};

/// A running server. Create it with `Server::start`; it serves on its own threads until `stop`
/// or destruction. All member functions are thread-safe.
///
/// Besides routing, the server itself answers 400 (malformed request, HTTP/1.1 without Host),
/// 404/405 (from the router), 413 (body over `body_limit`, judged by Content-Length before the
/// body is read, or while reading a chunked body), 431 (header over `header_limit`) and 500 (a
/// handler threw), all with the JSON error body of `error_response`; the 400/413/431 answers
/// close the connection. HEAD is served by the GET route without content; `Expect:
/// 100-continue` is honoured. Every response carries `X-Request-Id` and `Date`.
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

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ee::http
