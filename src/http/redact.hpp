#pragma once
// Redaction for HTTP logging. Request and response headers are logged at debug level to make
// integration problems diagnosable, but credentials travel in headers (Authorization, API keys,
// Cloudflare's Cf-Access-* pair, cookies) and sometimes in query strings. Everything that may
// carry a secret is replaced before a line is formatted; bodies are never logged at all.
#include <boost/beast/http/fields.hpp>

#include <string>
#include <string_view>

namespace ee::http {

/// What a redacted value is replaced with.
inline constexpr std::string_view kRedacted = "<redacted>";

/// True when a header of this name may carry a credential: Authorization,
/// Proxy-Authorization, Cookie, Set-Cookie, x-api-key, every Cf-* header, and any name that
/// contains "token", "secret" or "key". Field names are case-insensitive (RFC 9110 section 5.1).
bool is_sensitive_header(std::string_view name) noexcept;

/// "Name: value; Name: <redacted>; ..." for every field, in order, with sensitive values
/// replaced by kRedacted. Values are cut at 200 characters so one line stays one line.
std::string format_headers(boost::beast::http::fields const& fields);

/// The URL without userinfo, query and fragment ("https://u:p@h/p?k=v#f" -> "https://h/p"):
/// query strings may carry API keys. Works on malformed input too (best effort, never throws
/// except bad_alloc).
std::string redact_url(std::string_view url);

}  // namespace ee::http
