#pragma once
// The web console's files (web/console/, embedded into the library by
// cmake/ee_embed_assets.cmake) and how ee-cp answers for them: the Content-Type, a strong ETag
// with revalidation (If-None-Match -> 304), and headers that confine what a page may do
// (docs/console.md). Everything here is pure: no I/O, no clock.
#include <easyenclave/http/client.hpp>

#include <span>
#include <string_view>

namespace ee::cp::console {

/// One embedded file: the URL path it is served at, exactly ("/", "/console/main.js").
struct Asset {
  std::string_view path{};
  std::string_view content_type{};
  std::string_view etag{};  ///< strong, quoted: "\"<32 hex of SHA-256(body)>\""
  std::string_view body{};
};

/// The fixed table of the console's files, in the order cmake/ee_console.cmake lists them
/// (generated/console_assets.cpp). Static storage; thread-safe.
std::span<Asset const> assets() noexcept;

/// The asset served at exactly `path` (not decoded, no query), or nullptr. The lookup is a
/// comparison against the fixed table, so no path can name a file outside it.
Asset const* find(std::string_view path) noexcept;

/// The Content-Security-Policy of every console response: only the CP's own origin for scripts,
/// styles, images and fetches; no inline script or style, no plugins, no framing, no forms.
inline constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// True when an If-None-Match field value (RFC 9110 section 13.1.2) matches `etag`: it is "*",
/// or one of its comma-separated entity tags equals `etag` by the weak comparison (a `W/` prefix
/// is ignored). A malformed list matches nothing from the malformed element on, so the full
/// answer is sent.
bool if_none_match(std::string_view field_value, std::string_view etag) noexcept;

/// The answer to a GET or HEAD of `asset`: 304 without a body when one of the request's
/// If-None-Match fields matches its ETag, else 200 with the file. Both carry the ETag,
/// `Cache-Control: no-cache` (revalidate every time: the file names carry no version) and the
/// security headers (CSP, nosniff, no referrer, no framing). Never throws but for bad_alloc.
http::Response respond(Asset const& asset, http::Request const& request);

}  // namespace ee::cp::console
