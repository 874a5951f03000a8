#pragma once
/// @file The outbound HTTP seam. Every service client (Cloudflare, Intel Trust Authority, JWKS,
/// Intel PCS, the CP and agent APIs) sends through an `ee::http::Client`, so tests replace the
/// network with a fake (`tests/support/fake_http_client.hpp`).
#include <easyenclave/error.hpp>
#include <easyenclave/http/error.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstddef>

namespace ee::http {

/// A request. Its target is an absolute URL ("https://api.example.com/v4/x?y=1"); the client
/// derives the connection, the Host header and the origin-form target from it.
using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

struct RequestOptions {
  /// Deadline for the whole exchange: connect, TLS handshake, write and read.
  std::chrono::milliseconds timeout{10'000};
  /// Responses whose header plus body exceed this are refused with errc::response_too_large.
  std::size_t max_response_bytes = 8 * 1024 * 1024;
};

/// Sends one request and returns the response.
///
/// Transport failures (DNS, connect, TLS, timeout, oversized or malformed response) are errors
/// with `ee::http::errc` codes; a non-2xx status is not an error: it is a response. Thread-safe:
/// one client may serve concurrent coroutines on any executors.
class Client {
 public:
  virtual ~Client() = default;
  virtual boost::asio::awaitable<result<Response>> send(Request request,
                                                        RequestOptions options = {}) = 0;
};

}  // namespace ee::http
