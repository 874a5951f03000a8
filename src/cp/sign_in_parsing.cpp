// The pure parts of signing in, apart from the coroutines that use them (so that the fuzz build,
// which cannot compile coroutines under its flags, can reach them): OAuth states, cookies and
// GitHub's answers. No I/O; fuzzed in fuzz_sign_in.
#include "cp/cookies.hpp"
#include "cp/oauth_states.hpp"

#include <easyenclave/api/agents.hpp>
#include <easyenclave/cp/error.hpp>
#include <easyenclave/cp/github_oauth.hpp>

#include "detail/ascii.hpp"
#include "detail/crypto.hpp"
#include "detail/encoding.hpp"
#include "detail/json.hpp"

#include <boost/beast/http/field.hpp>

#include <algorithm>
#include <string>

namespace ee::cp {
namespace {

namespace json = detail::json;
using TimePoint = std::chrono::system_clock::time_point;


constexpr std::size_t kRandomBytes = 16;
constexpr std::size_t kExpiryBytes = 8;
constexpr std::size_t kMacBytes = 16;
constexpr std::size_t kStateBytes = kRandomBytes + kExpiryBytes + kMacBytes;
constexpr std::string_view kStateLabel = "easyenclave cp oauth state v1";

std::array<std::uint8_t, kMacBytes> state_mac(OAuthStates::Key const& key, std::span<std::uint8_t const> head) {
  std::string data(kStateLabel);
  data.append(reinterpret_cast<char const*>(head.data()), head.size());
  auto const full = detail::hmac_sha256(key, detail::as_bytes(data));
  std::array<std::uint8_t, kMacBytes> mac{};
  std::copy_n(full.begin(), mac.size(), mac.begin());
  return mac;
}

std::int64_t epoch_seconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

Error invalid_state(std::string why) { return Error(errc::oauth_state_invalid, std::move(why)); }


// Answers are a few hundred bytes; /user/orgs pages hold at most 100 organisations.
constexpr json::ParseLimits kAnswerLimits{.max_bytes = 512 * 1024, .max_depth = 8};
constexpr std::size_t kMaxOrgs = 1000;

result<registry::GithubAccount> read_account(json::ObjectReader const& object) {
  auto login = object.string("login");
  if (!login) return login.error();
  if (!api::is_github_login(*login)) return object.field_error("login", ee::errc::invalid_value, "is not a GitHub login");
  auto id = object.integer("id", 1);
  if (!id) return id.error();
  return registry::GithubAccount{.login = detail::ascii_lowercase(*login), .id = std::to_string(*id)};
}

Error failed(std::string what) { return Error(errc::oauth_failed, std::move(what)); }

}  // namespace

OAuthStates::Key OAuthStates::derive_key(std::string_view signing_key_pem) {
  constexpr std::string_view kLabel = "easyenclave cp oauth state key v1";
  auto const mac = detail::hmac_sha256(detail::as_bytes(signing_key_pem), detail::as_bytes(kLabel));
  Key key{};
  std::copy_n(mac.begin(), key.size(), key.begin());
  return key;
}

result<std::string> OAuthStates::issue(TimePoint now) const {
  std::array<std::uint8_t, kStateBytes> bytes{};
  if (auto r = detail::random_bytes(std::span(bytes.data(), kRandomBytes)); !r) return r.error();
  auto const expiry = static_cast<std::uint64_t>(epoch_seconds(now + ttl_));
  for (std::size_t i = 0; i < kExpiryBytes; ++i) {
    bytes[kRandomBytes + i] = static_cast<std::uint8_t>(expiry >> (8 * (kExpiryBytes - 1 - i)));
  }
  auto const mac = state_mac(key_, std::span(bytes.data(), kRandomBytes + kExpiryBytes));
  std::copy(mac.begin(), mac.end(), bytes.begin() + kRandomBytes + kExpiryBytes);
  return detail::base64url_encode(bytes);
}

result<TimePoint> OAuthStates::check(std::string_view state, std::string_view cookie, TimePoint now) const {
  // The encoded state is 54 characters; anything longer is refused before it is decoded.
  if (state.empty() || state.size() > 64) return invalid_state("the callback has no state, or not one this CP issues");
  if (cookie.empty()) return invalid_state("this browser has no sign-in in progress (no state cookie)");
  if (!detail::constant_time_equal(detail::as_bytes(state), detail::as_bytes(cookie))) {
    return invalid_state("the state is not the one this browser was given");
  }
  auto bytes = detail::base64url_decode(state);
  if (!bytes || bytes->size() != kStateBytes) return invalid_state("the state is not one this CP issues");
  auto const expected = state_mac(key_, std::span(bytes->data(), kRandomBytes + kExpiryBytes));
  if (!detail::constant_time_equal(std::span(bytes->data() + kRandomBytes + kExpiryBytes, kMacBytes), expected)) {
    return invalid_state("the state was not issued by this control plane");
  }
  std::uint64_t expiry = 0;
  for (std::size_t i = 0; i < kExpiryBytes; ++i) expiry = (expiry << 8) | (*bytes)[kRandomBytes + i];
  auto const expires_at = TimePoint(std::chrono::seconds(static_cast<std::int64_t>(expiry)));
  if (now >= expires_at) return invalid_state("the sign-in took too long; start it again");
  return expires_at;
}

std::string set_cookie(std::string_view name, std::string_view value, std::string_view path,
                       std::chrono::seconds max_age) {
  std::string out(name);
  out += '=';
  out += value;
  out += "; Path=";
  out += path;
  out += "; Max-Age=" + std::to_string(max_age.count());
  out += "; Secure; HttpOnly; SameSite=Lax";
  return out;
}

std::optional<std::string> cookie_value(http::Request const& request, std::string_view name) {
  std::optional<std::string> found;
  auto const [first, last] = request.equal_range(boost::beast::http::field::cookie);
  for (auto field = first; field != last; ++field) {
    std::string_view rest = field->value();
    while (!rest.empty()) {
      auto const end = std::min(rest.find(';'), rest.size());
      auto pair = rest.substr(0, end);
      rest.remove_prefix(end == rest.size() ? end : end + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      while (!pair.empty() && pair.back() == ' ') pair.remove_suffix(1);
      auto const eq = pair.find('=');
      if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
      if (found) return std::nullopt;  // repeated: refuse to pick one
      found = std::string(pair.substr(eq + 1));
    }
  }
  return found;
}

result<std::string> parse_github_token_answer(std::string_view body) {
  auto value = json::parse(body, kAnswerLimits);
  if (!value) return failed("GitHub's token answer is not JSON: " + value.error().message());
  auto object = json::ObjectReader::from(*value, "token answer");
  if (!object) return failed(object.error().message());
  if (object->contains("error")) {
    // GitHub answers a refused code with HTTP 200 and {"error": "bad_verification_code", ...}.
    auto code = object->string("error");
    std::string name = code ? *code : "(unreadable)";
    if (name.size() > 64 || !std::all_of(name.begin(), name.end(), [](char c) { return detail::is_alnum(c) || c == '_'; })) {
      name = "(unreadable)";
    }
    return failed("GitHub refused the code: " + name);
  }
  auto token = object->string("access_token");
  if (!token) return failed(token.error().message());
  auto type = object->string("token_type");
  if (!type) return failed(type.error().message());
  if (detail::ascii_lowercase(*type) != "bearer") return failed("GitHub's token answer: token_type is not bearer");
  // GitHub's tokens are tens of characters of [A-Za-z0-9_]; anything else is refused before it
  // becomes a header.
  if (token->empty() || token->size() > 255 ||
      !std::all_of(token->begin(), token->end(), [](char c) { return detail::is_alnum(c) || c == '_'; })) {
    return failed("GitHub's token answer: access_token is not a token");
  }
  return std::move(*token);
}

result<registry::GithubAccount> parse_github_user(std::string_view body) {
  auto value = json::parse(body, kAnswerLimits);
  if (!value) return value.error();
  auto object = json::ObjectReader::from(*value, "user");
  if (!object) return object.error();
  return read_account(*object);
}

result<std::vector<registry::GithubAccount>> parse_github_orgs(std::string_view body) {
  auto value = json::parse(body, kAnswerLimits);
  if (!value) return value.error();
  if (!value->is_array()) return Error(ee::errc::wrong_type, "orgs: expected an array, found " + std::string(json::kind_name(*value)));
  auto const& array = value->as_array();
  if (array.size() > kMaxOrgs) return Error(ee::errc::invalid_value, "orgs: more than 1000 organisations");
  std::vector<registry::GithubAccount> orgs;
  orgs.reserve(array.size());
  for (std::size_t i = 0; i < array.size(); ++i) {
    auto object = json::ObjectReader::from(array[i], "orgs[" + std::to_string(i) + "]");
    if (!object) return object.error();
    auto org = read_account(*object);
    if (!org) return org.error();
    orgs.push_back(std::move(*org));
  }
  return orgs;
}

}  // namespace ee::cp
