#include <easyenclave/http/error.hpp>

#include "detail/error_category.hpp"

namespace ee::http {
namespace {
using detail::CodeInfo;
constexpr auto uf = condition::upstream_failure;
constexpr CodeInfo kHttpCodes[] = {
    {static_cast<int>(errc::bad_url), "bad_url", "not an absolute http(s) URL", condition::invalid_input},
    {static_cast<int>(errc::resolve_failed), "resolve_failed", "host name resolution failed", uf},
    {static_cast<int>(errc::connect_failed), "connect_failed", "connection failed", uf},
    {static_cast<int>(errc::tls_handshake_failed), "tls_handshake_failed", "TLS handshake failed", uf},
    {static_cast<int>(errc::certificate_untrusted), "certificate_untrusted",
     "peer certificate does not chain to a trusted root", uf},
    {static_cast<int>(errc::hostname_mismatch), "hostname_mismatch",
     "peer certificate does not match the host name", uf},
    {static_cast<int>(errc::timeout), "timeout", "deadline exceeded", condition::unavailable},
    {static_cast<int>(errc::response_too_large), "response_too_large", "response exceeds the size cap", uf},
    {static_cast<int>(errc::protocol_error), "protocol_error", "malformed HTTP from peer", uf},
    {static_cast<int>(errc::connection_closed), "connection_closed", "peer closed the connection", uf},
    {static_cast<int>(errc::tls_setup_failed), "tls_setup_failed",
     "TLS certificate, key or CA file could not be loaded", condition::invalid_input},
    {static_cast<int>(errc::bind_failed), "bind_failed", "could not listen on the address",
     condition::unavailable},
    {static_cast<int>(errc::no_scripted_reply), "no_scripted_reply", "no scripted reply for this request",
     condition::not_found},
    {static_cast<int>(errc::invalid_route), "invalid_route", "malformed or duplicate route",
     condition::invalid_input},
    {static_cast<int>(errc::route_not_found), "route_not_found", "no route matches this path", condition::not_found},
    {static_cast<int>(errc::method_not_allowed), "method_not_allowed", "method not allowed on this path",
     condition::invalid_input},
    {static_cast<int>(errc::body_too_large), "body_too_large", "request body too large", condition::invalid_input},
    {static_cast<int>(errc::header_too_large), "header_too_large", "request header fields too large",
     condition::invalid_input},
    {static_cast<int>(errc::bad_request), "bad_request", "malformed HTTP request", condition::invalid_input},
    {static_cast<int>(errc::internal_error), "internal_error", "internal server error", uf},
    {static_cast<int>(errc::rate_limited), "rate_limited", "too many requests from this client",
     condition::unavailable},
    {static_cast<int>(errc::too_many_connections), "too_many_connections",
     "the server has too many open connections", condition::unavailable},
    {static_cast<int>(errc::unsupported_transfer_coding), "unsupported_transfer_coding",
     "transfer coding not supported", condition::invalid_input},
};
}  // namespace

error_code make_error_code(errc e) noexcept {
  static detail::TableCategory const category("http", kHttpCodes);
  return {static_cast<int>(e), category};
}

}  // namespace ee::http
