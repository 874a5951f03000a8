#include "http/request_head.hpp"

#include "detail/crypto.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

#include <algorithm>
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
  if (auto id = ee::detail::uuid_v4()) return std::move(*id);
  // The CSPRNG failing is not a reason to refuse service; ids need only be unique here.
  static std::atomic<std::uint64_t> counter{0};
  return "req-" + std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
}

std::string request_id_for(bhttp::fields const& fields) {
  auto const it = fields.find("X-Request-Id");
  if (it != fields.end() && is_sane_request_id(it->value())) return std::string(it->value());
  return make_request_id();
}

}  // namespace ee::http::inbound
