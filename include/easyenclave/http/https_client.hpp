#pragma once
/// @file The production `http::Client`: HTTP/1.1 over TCP or TLS on Boost.Beast.
#include <easyenclave/http/client.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace ee::http {

struct HttpsOptions {
  /// Trust the operating system's CA store (OpenSSL's default verify paths).
  bool use_system_roots = true;
  /// An extra PEM file of trusted CA certificates (a private PCCS, a test CA). Empty: none.
  std::string extra_ca_file{};
  /// Idle keep-alive connections kept per origin (scheme, host, port) and executor for reuse.
  /// 0 disables reuse.
  std::size_t max_idle_per_origin = 4;
  /// Idle connections kept in all, the oldest closed first. Each executor keeps its own
  /// connections (a server's per-connection strands among them), so without this bound a busy
  /// server calling out from many strands would hold a socket per strand until `idle_timeout`.
  std::size_t max_idle_total = 64;
  /// An idle pooled connection older than this is closed instead of reused.
  std::chrono::seconds idle_timeout{30};
  /// Sent when a request has no User-Agent.
  std::string user_agent = "easyenclave";
};

/// Makes the production client.
///
/// `send` takes a request whose target is an absolute `http://` or `https://` URL; it sends the
/// origin-form target with a Host header (and `user_agent` when the request has none), over
/// HTTP/1.1, within one deadline (`RequestOptions::timeout`) for resolution, connect, TLS
/// handshake, write and read. TLS peers are verified: TLS 1.2 or later, a chain to a trusted
/// root, the host name or IP address in the certificate (RFC 6125), SNI sent for names.
/// Keep-alive connections are pooled per origin and executor; a pooled connection is reused
/// only on the executor that made it and is closed when its io_context is destroyed. When a
/// reused connection fails before any response byte arrives, the request is retried once on a
/// new connection if it was not fully written or its method is idempotent (or it carries an
/// Idempotency-Key). Requests and responses are logged at debug level without bodies, query
/// strings or secrets: Authorization, Proxy-Authorization, cookies, `Cf-*` and any header whose
/// name contains "token", "secret" or "key" are redacted.
///
/// `send` errors (ee::http::errc): bad_url (not an absolute http(s) URL, userinfo present, no
/// host, invalid port), resolve_failed, connect_failed, certificate_untrusted,
/// hostname_mismatch, tls_handshake_failed, timeout, response_too_large (header plus body over
/// `RequestOptions::max_response_bytes`), protocol_error, connection_closed; ee::errc::cancelled
/// when the awaiting coroutine is cancelled. A non-2xx status is a response, not an error.
/// Error details name the host, never query strings or header values. `send` never throws
/// (except std::bad_alloc).
///
/// Thread-safety: the client may be shared by coroutines on any executors and threads. The
/// caller must keep the client alive until `send` is first awaited; it then stays alive until
/// that `send` completes.
///
/// @returns errc::tls_setup_failed when `extra_ca_file` cannot be loaded (missing, unreadable,
///          no certificate in it) or the system roots cannot be loaded. Never throws (except
///          std::bad_alloc).
result<std::shared_ptr<Client>> make_https_client(HttpsOptions options = {});

}  // namespace ee::http
