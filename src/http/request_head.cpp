#include "http/request_head.hpp"

#include "detail/crypto.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <atomic>
#include <cstdint>
#include <limits>
#include <utility>

namespace ee::http::inbound {

namespace bhttp = boost::beast::http;

void prepare_request_parser(RequestParser& parser, ServerOptions const& options) {
  parser.header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(options.header_limit, std::numeric_limits<std::uint32_t>::max())));
  // No body limit while reading the header: check_request_head judges Content-Length once the
  // whole header (and so the request id) is known, then sets the limit for chunked bodies.
  parser.body_limit(boost::none);
}

HeadVerdict check_request_head(RequestParser& parser, ServerOptions const& options) {
  auto const& header = parser.get();
  // RFC 9112 section 3.2: a server must answer 400 to an HTTP/1.1 request without Host.
  if (header.version() >= 11 && header.find(bhttp::field::host) == header.end())
    return HeadVerdict::missing_host;
  if (parser.is_done()) return HeadVerdict::complete;
  // RFC 9110 section 15.5.14; decided before reading a byte of the body.
  if (auto const length = parser.content_length(); length && *length > options.body_limit)
    return HeadVerdict::body_too_large;
  parser.body_limit(options.body_limit);
  return HeadVerdict::read_body;
}

bool is_sane_request_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
  });
}

std::string make_request_id() {
  // A UUID v4 (RFC 9562 section 5.4) from random bytes the thread draws from the CSPRNG 32 ids
  // at a time: one CSPRNG call per request cost more than the rest of a small request. Ids are
  // not secrets; they need to be unique.
  constexpr std::size_t kIdBytes = 16;
  thread_local std::array<std::uint8_t, 32 * kIdBytes> pool{};
  thread_local std::size_t next = pool.size();
  if (next == pool.size()) {
    if (!ee::detail::random_bytes(pool)) {
      // The CSPRNG failing is not a reason to refuse service; ids need only be unique here.
      static std::atomic<std::uint64_t> counter{0};
      return "req-" + std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
    }
    next = 0;
  }
  std::array<std::uint8_t, kIdBytes> b{};
  std::copy_n(pool.begin() + static_cast<std::ptrdiff_t>(next), kIdBytes, b.begin());
  std::fill_n(pool.begin() + static_cast<std::ptrdiff_t>(next), kIdBytes, std::uint8_t{0});
  next += kIdBytes;
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);  // variant 10xx (RFC 9562 section 4.1)
  constexpr char kHex[] = "0123456789abcdef";
  std::string id(36, '-');  // 8-4-4-4-12 hex digits
  std::size_t at = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (at == 8 || at == 13 || at == 18 || at == 23) ++at;
    id[at++] = kHex[b[i] >> 4];
    id[at++] = kHex[b[i] & 0x0f];
  }
  return id;
}

std::string request_id_for(bhttp::fields const& fields) {
  auto const it = fields.find("X-Request-Id");
  if (it != fields.end() && is_sane_request_id(it->value())) return std::string(it->value());
  return make_request_id();
}

}  // namespace ee::http::inbound
