#pragma once
/// @file Error codes of the HTTP layer (client and server).
#include <easyenclave/error.hpp>

namespace ee::http {

/// Stable values; the id of each is "http.<name>".
enum class errc {
  bad_url = 1,            ///< not an absolute http(s) URL, or a malformed target  -> invalid_input
  resolve_failed,         ///< DNS resolution failed                               -> upstream_failure
  connect_failed,         ///< TCP connect failed                                  -> upstream_failure
  tls_handshake_failed,   ///< TLS handshake failed for a reason other than below  -> upstream_failure
  certificate_untrusted,  ///< peer chain does not end at a trusted root           -> upstream_failure
  hostname_mismatch,      ///< peer certificate does not name the host             -> upstream_failure
  timeout,                ///< the connect, request or read deadline passed        -> unavailable
  response_too_large,     ///< the response exceeds the size cap                   -> upstream_failure
  protocol_error,         ///< the peer sent something that is not HTTP/1.1        -> upstream_failure
  connection_closed,      ///< the peer closed the connection mid-exchange         -> upstream_failure
  tls_setup_failed,       ///< a CA, certificate or key file could not be loaded   -> invalid_input
  bind_failed,            ///< the server could not listen on the address          -> unavailable
  no_scripted_reply,      ///< a test fake has no reply for this request           -> not_found
  invalid_route,          ///< a route pattern is malformed or registered twice    -> invalid_input
  // Answers the server makes by itself (their ids appear in JSON error bodies).
  route_not_found,        ///< no route matches the path (404)                     -> not_found
  method_not_allowed,     ///< the path exists under other methods (405)           -> invalid_input
  body_too_large,         ///< the request body exceeds the limit (413)            -> invalid_input
  header_too_large,       ///< the request header block exceeds the limit (431)    -> invalid_input
  bad_request,            ///< the request is not valid HTTP/1.1 (400)             -> invalid_input
  internal_error,         ///< a handler failed unexpectedly (500)                 -> upstream_failure
  rate_limited,           ///< the client is over its route's rate limit (429)     -> unavailable
  too_many_connections,   ///< the server is at its connection cap (503)           -> unavailable
  unsupported_transfer_coding,  ///< a transfer coding other than chunked (501)    -> invalid_input
};
error_code make_error_code(errc e) noexcept;

}  // namespace ee::http

template <>
struct boost::system::is_error_code_enum<ee::http::errc> : std::true_type {};
