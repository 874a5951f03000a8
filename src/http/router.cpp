#include <easyenclave/http/router.hpp>

#include <easyenclave/http/error.hpp>

#include <boost/beast/http/field.hpp>
#include <boost/container/small_vector.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ee::http {
namespace bhttp = boost::beast::http;

namespace {

// RFC 3986 section 3.3: a path segment is made of pchar = unreserved / pct-encoded / sub-delims
// / ":" / "@". Pattern literals are written by programmers, so we accept only the unencoded
// characters and compare them with the decoded request segment.
bool is_literal_char(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':  // unreserved
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':  // sub-delims
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
    case ':':
    case '@':
      return true;
    default:
      return false;
  }
}

bool is_param_name_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Strict percent-decoding (RFC 3986 section 2.1): every '%' must introduce two hex digits. A
// malformed escape makes the whole path unmatchable rather than silently passing raw bytes on.
std::optional<std::string> percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    int const hi = hex_value(in[i + 1]);
    int const lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

// Splits "/a/b" into {"a", "b"}; "/" gives {""}. The caller guarantees a leading '/'.
using Segments = boost::container::small_vector<std::string_view, 12>;
Segments split_segments(std::string_view path) {
  Segments out;
  path.remove_prefix(1);
  while (true) {
    auto const slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

using PatternSegment = Router::Segment;

// Parses a route pattern; on failure returns a message saying what is wrong.
std::optional<std::string> parse_pattern(std::string_view pattern,
                                         std::vector<PatternSegment>& out) {
  if (pattern.empty() || pattern.front() != '/') return "must start with '/'";
  if (pattern == "/") {
    out.push_back({});
    return std::nullopt;
  }
  for (auto const segment : split_segments(pattern)) {
    if (segment.empty()) return "empty segment";
    if (segment.front() == '{') {
      if (segment.size() < 3 || segment.back() != '}') return "malformed parameter segment";
      auto const name = segment.substr(1, segment.size() - 2);
      if (!std::all_of(name.begin(), name.end(), is_param_name_char)) {
        return "parameter names use [A-Za-z0-9_]";
      }
      for (auto const& seen : out) {
        if (seen.is_param && seen.text == name) return "parameter named twice";
      }
      out.push_back({true, std::string(name)});
      continue;
    }
    if (!std::all_of(segment.begin(), segment.end(), is_literal_char)) {
      return "literal segments use unreserved, sub-delims, ':' and '@' only";
    }
    out.push_back({false, std::string(segment)});
  }
  return std::nullopt;
}

// Two patterns have the same shape when every segment is the same literal or a parameter in
// both: they would match exactly the same paths, so one of them could never be reached.
bool same_shape(std::vector<PatternSegment> const& a, std::vector<PatternSegment> const& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].is_param != b[i].is_param) return false;
    if (!a[i].is_param && a[i].text != b[i].text) return false;
  }
  return true;
}

// Whether `segments` (decoded) match the pattern; fills `params` when they do.
bool matches(std::vector<PatternSegment> const& pattern, std::span<std::string_view const> segments,
             PathParams* params) {
  if (pattern.size() != segments.size()) return false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i].is_param) {
      if (segments[i].empty()) return false;
    } else if (pattern[i].text != segments[i]) {
      return false;
    }
  }
  if (params != nullptr) {
    for (std::size_t i = 0; i < pattern.size(); ++i) {
      if (pattern[i].is_param) params->set(pattern[i].text, std::string(segments[i]));
    }
  }
  return true;
}

// True when `a` is more specific than `b`: at the first segment where they differ in kind, `a`
// has the literal (so "/agents/self" beats "/agents/{id}").
bool more_specific(std::vector<PatternSegment> const& a, std::vector<PatternSegment> const& b) {
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (a[i].is_param != b[i].is_param) return !a[i].is_param;
  }
  return false;
}

}  // namespace

// ---- PathParams ------------------------------------------------------------------------------

std::string_view PathParams::get(std::string_view name) const noexcept {
  for (auto const& [key, value] : items_) {
    if (key == name) return value;
  }
  return {};
}

bool PathParams::contains(std::string_view name) const noexcept {
  return std::any_of(items_.begin(), items_.end(),
                     [name](auto const& item) { return item.first == name; });
}

void PathParams::set(std::string name, std::string value) {
  for (auto& item : items_) {
    if (item.first == name) {
      item.second = std::move(value);
      return;
    }
  }
  items_.emplace_back(std::move(name), std::move(value));
}

// ---- RequestContext --------------------------------------------------------------------------

std::string_view RequestContext::path() const noexcept {
  std::string_view const target = request.target();
  // RFC 9112 section 3.2: origin-form is "/path?query"; absolute-form "http://h/path?query" is
  // what proxies send and servers must accept, so take the path out of it.
  if (!target.empty() && target.front() != '/') {
    auto const url = boost::urls::parse_absolute_uri(target);
    if (url) {
      std::string_view const p = url->encoded_path();
      // The view points into `request`, which outlives the context.
      return p.empty() ? std::string_view("/") : p;
    }
    return target;
  }
  return target.substr(0, target.find('?'));
}

std::optional<std::string> RequestContext::query(std::string_view name) const {
  std::string_view const target = request.target();
  auto const question = target.find('?');
  if (question == std::string_view::npos) return std::nullopt;
  // Parse only "/?query" so absolute-form targets and odd paths do not matter here.
  std::string synthetic = "/";
  synthetic.append(target.substr(question));
  auto const url = boost::urls::parse_origin_form(synthetic);
  if (!url) return std::nullopt;
  // params() decodes percent escapes and '+' as space (application/x-www-form-urlencoded).
  for (auto const& param : url->params()) {
    if (param.key == name) return param.has_value ? param.value : std::string{};
  }
  return std::nullopt;
}

// ---- Router ----------------------------------------------------------------------------------

Router& Router::add(bhttp::verb method, std::string pattern, Handler handler,
                    std::string rate_class) {
  auto fail = [&](std::string_view why) -> Router& {
    if (!first_error_.failed()) {
      first_error_ = Error(errc::invalid_route, "route " + std::string(bhttp::to_string(method)) +
                                                    " '" + pattern + "': " + std::string(why));
    }
    return *this;
  };
  if (method == bhttp::verb::unknown) return fail("unknown method");
  if (!handler) return fail("empty handler");
  std::vector<PatternSegment> parsed;
  if (auto const problem = parse_pattern(pattern, parsed)) return fail(*problem);
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    if (routes_[i].method != method) continue;
    if (same_shape(parsed, segments_[i])) {
      return fail("duplicate of '" + routes_[i].pattern + "'");
    }
  }
  routes_.push_back(Route{method, std::move(pattern), std::move(handler), std::move(rate_class)});
  segments_.push_back(std::move(parsed));
  return *this;
}

Router& Router::get(std::string pattern, Handler handler, std::string rate_class) {
  return add(bhttp::verb::get, std::move(pattern), std::move(handler), std::move(rate_class));
}
Router& Router::post(std::string pattern, Handler handler, std::string rate_class) {
  return add(bhttp::verb::post, std::move(pattern), std::move(handler), std::move(rate_class));
}
Router& Router::put(std::string pattern, Handler handler, std::string rate_class) {
  return add(bhttp::verb::put, std::move(pattern), std::move(handler), std::move(rate_class));
}
Router& Router::del(std::string pattern, Handler handler, std::string rate_class) {
  return add(bhttp::verb::delete_, std::move(pattern), std::move(handler), std::move(rate_class));
}

Router& Router::fallback(Handler handler) {
  fallback_ = Route{.method = bhttp::verb::unknown, .pattern = "*", .handler = std::move(handler)};
  return *this;
}

Router::Match Router::match(bhttp::verb method, std::string_view path) const {
  Match out;
  if (path.empty() || path.front() != '/') return out;
  // The segments as views into `path`; when the path has a percent escape, every segment is
  // decoded into `decoded` and the views point there instead. No allocation for a usual path.
  Segments segments;
  std::string decoded;
  if (path.find('%') == std::string_view::npos) {
    segments = split_segments(path);
  } else {
    boost::container::small_vector<std::size_t, 12> ends;
    for (auto const raw : split_segments(path)) {
      auto one = percent_decode(raw);
      if (!one) return out;
      decoded += *one;
      ends.push_back(decoded.size());
    }
    std::size_t begin = 0;
    for (auto const end : ends) {
      segments.push_back(std::string_view(decoded).substr(begin, end - begin));
      begin = end;
    }
  }
  std::span<std::string_view const> const segment_span(segments.data(), segments.size());

  // RFC 9110 section 9.3.2: HEAD is GET without the content, so a GET route answers HEAD
  // unless a HEAD route is registered explicitly.
  auto const serves = [method](bhttp::verb route_method, bool exact) {
    if (exact) return route_method == method;
    return method == bhttp::verb::head && route_method == bhttp::verb::get;
  };

  std::vector<PatternSegment> const* best_pattern = nullptr;
  for (bool const exact : {true, false}) {
    for (std::size_t i = 0; i < routes_.size(); ++i) {
      if (!serves(routes_[i].method, exact)) continue;
      if (!matches(segments_[i], segment_span, nullptr)) continue;
      if (best_pattern == nullptr || more_specific(segments_[i], *best_pattern)) {
        out.route = &routes_[i];
        best_pattern = &segments_[i];
      }
    }
    if (best_pattern != nullptr) break;
  }
  if (best_pattern != nullptr) {
    out.kind = MatchKind::found;
    matches(*best_pattern, segment_span, &out.params);
    return out;
  }

  for (std::size_t i = 0; i < routes_.size(); ++i) {
    auto const& route = routes_[i];
    if (!matches(segments_[i], segment_span, nullptr)) continue;
    auto const add_allowed = [&out](bhttp::verb v) {
      if (std::find(out.allowed_methods.begin(), out.allowed_methods.end(), v) ==
          out.allowed_methods.end()) {
        out.allowed_methods.push_back(v);
      }
    };
    add_allowed(route.method);
    if (route.method == bhttp::verb::get) add_allowed(bhttp::verb::head);
  }
  if (!out.allowed_methods.empty()) {
    out.kind = MatchKind::method_not_allowed;
    std::sort(
        out.allowed_methods.begin(), out.allowed_methods.end(),
        [](bhttp::verb a, bhttp::verb b) { return bhttp::to_string(a) < bhttp::to_string(b); });
  } else if (fallback_) {
    out.kind = MatchKind::found;
    out.route = &*fallback_;
  }
  return out;
}

result<void> Router::check() const {
  if (first_error_.failed()) return first_error_;
  return {};
}

// ---- responses -------------------------------------------------------------------------------

bhttp::status status_for(Error const& error) noexcept {
  switch (error.cond()) {
    case condition::invalid_input:
      return bhttp::status::bad_request;
    case condition::unauthenticated:
      return bhttp::status::unauthorized;
    case condition::forbidden:
      return bhttp::status::forbidden;
    case condition::not_found:
      return bhttp::status::not_found;
    case condition::conflict:
      return bhttp::status::conflict;
    case condition::upstream_failure:
      return bhttp::status::bad_gateway;
    case condition::unavailable:
      return bhttp::status::service_unavailable;
  }
  return bhttp::status::internal_server_error;
}

Response json_response(bhttp::status status, std::string body) {
  Response response{status, 11};
  response.set(bhttp::field::content_type, "application/json");
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

Response error_response(Error const& error, std::string_view request_id) {
  auto const status = status_for(error);
  // A 4xx detail is about the caller's own input ("body.vm_name: required field is missing") and
  // tells them what to fix. A 5xx detail is about our side (a database path, an upstream host):
  // it goes to the log under the request id, and the body says only what kind of failure it was.
  if (bhttp::to_status_class(status) == bhttp::status_class::server_error) {
    std::string_view const generic =
        error.cond() == condition::unavailable        ? "temporarily unavailable, retry later"
        : error.cond() == condition::upstream_failure ? "an upstream dependency failed"
                                                      : "internal server error";
    return error_response(status, error.id(), generic, request_id);
  }
  return error_response(status, error.id(), error.message(), request_id);
}

Response error_response(bhttp::status status, std::string_view code, std::string_view message,
                        std::string_view request_id) {
  // Boost.JSON escapes quotes, backslashes and control characters, so neither the message nor
  // a client-chosen request id can break out of the string.
  boost::json::object body;
  body["code"] = code;
  body["message"] = message;
  body["request_id"] = request_id;
  auto response = json_response(status, boost::json::serialize(body));
  if (!request_id.empty()) response.set("X-Request-Id", request_id);
  return response;
}

}  // namespace ee::http
