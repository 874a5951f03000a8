#include "cp/console.hpp"

#include <algorithm>

namespace ee::cp::console {
namespace {

namespace bhttp = boost::beast::http;

bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

// etagc (RFC 9110 section 8.8.3): "!" / %x23-7E / obs-text; the DQUOTE ends the tag.
bool is_etagc(char c) noexcept {
  auto const u = static_cast<unsigned char>(c);
  return u == 0x21 || (u >= 0x23 && u != 0x7f);
}

void set_common_headers(http::Response& response, Asset const& asset) {
  response.set(bhttp::field::etag, asset.etag);
  response.set(bhttp::field::cache_control, "no-cache");
  response.set("Content-Security-Policy", kContentSecurityPolicy);
  response.set("X-Content-Type-Options", "nosniff");
  response.set("Referrer-Policy", "no-referrer");
  response.set(bhttp::field::x_frame_options, "DENY");
  response.set("Cross-Origin-Opener-Policy", "same-origin");
  response.set("Cross-Origin-Resource-Policy", "same-origin");
}

}  // namespace

Asset const* find(std::string_view path) noexcept {
  auto const table = assets();
  auto const it = std::find_if(table.begin(), table.end(), [path](Asset const& a) { return a.path == path; });
  return it == table.end() ? nullptr : &*it;
}

bool if_none_match(std::string_view value, std::string_view etag) noexcept {
  std::size_t i = 0;
  auto const skip_separators = [&] {
    while (i < value.size() && (is_ows(value[i]) || value[i] == ',')) ++i;
  };
  skip_separators();
  if (i < value.size() && value[i] == '*') {
    ++i;
    skip_separators();
    return i == value.size();
  }
  while (i < value.size()) {
    if (value.substr(i).starts_with("W/")) i += 2;
    if (i >= value.size() || value[i] != '"') return false;
    auto const open = i++;
    while (i < value.size() && is_etagc(value[i])) ++i;
    if (i >= value.size() || value[i] != '"') return false;
    ++i;
    if (value.substr(open, i - open) == etag) return true;
    // Only separators may follow a tag: `"a"x` is malformed.
    if (i < value.size() && !is_ows(value[i]) && value[i] != ',') return false;
    skip_separators();
  }
  return false;
}

http::Response respond(Asset const& asset, http::Request const& request) {
  bool revalidated = false;
  auto const [first, last] = request.equal_range(bhttp::field::if_none_match);
  for (auto it = first; it != last; ++it) {
    auto const v = it->value();
    if (if_none_match(std::string_view(v.data(), v.size()), asset.etag)) revalidated = true;
  }
  http::Response response{revalidated ? bhttp::status::not_modified : bhttp::status::ok, 11};
  set_common_headers(response, asset);
  if (!revalidated) {
    response.set(bhttp::field::content_type, asset.content_type);
    response.body() = std::string(asset.body);
  }
  return response;
}

}  // namespace ee::cp::console
