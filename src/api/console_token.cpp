// Console access tokens (api/console_token.hpp): a JWS compact serialization (RFC 7515 section
// 7.1) with one pinned header and a closed set of claims. The parser checks sizes before it
// decodes, decodes each segment strictly (RFC 4648 section 5, no padding, canonical bits), reads
// the JSON strictly (no duplicate member, bounded depth and size) and refuses any member it does
// not know: the token is ours on both ends, so nothing unknown has a reason to be there.
#include <easyenclave/api/console_token.hpp>

#include "detail/encoding.hpp"
#include "detail/json.hpp"
#include "detail/time.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>

namespace ee::api {
namespace {

namespace json = ::ee::detail::json;
namespace bj = boost::json;

// The header, byte for byte: an agent compares the decoded header's members, so key order in
// other writers would do too, but ours is always this.
constexpr std::string_view kHeader = R"({"alg":"ES256","typ":"ee-console+jwt"})";
constexpr std::size_t kMaxHeaderBytes = 128;
constexpr std::size_t kMaxPayloadBytes = 1024;
constexpr std::size_t kSignatureBytes = 64;
constexpr std::size_t kMaxAgentId = 128;
constexpr std::size_t kMaxScopes = 2;
// Unix seconds up to the year 36812: far beyond any real clock, small enough that no sum of two
// overflows.
constexpr std::int64_t kMaxUnixSeconds = std::int64_t{1} << 40;
constexpr json::ParseLimits kLimits{.max_bytes = kMaxPayloadBytes, .max_depth = 3};

Error malformed(std::string what) { return Error(errc::console_token_malformed, std::move(what)); }

bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// The CP's agent id format: 1-128 of [A-Za-z0-9._-] starting with a letter or digit (api/agents.cpp).
bool is_agent_id(std::string_view s) {
  if (s.empty() || s.size() > kMaxAgentId || !is_alnum(s.front())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-'; });
}

bool is_jti(std::string_view s) {
  return s.size() == 32 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool is_scope(std::string_view s) { return s == kConsoleScopeLogs || s == kConsoleScopeStats; }

// The claims' own rules, shared by the minter and the parser.
result<void> check_claims(ConsoleClaims const& c) {
  if (!is_agent_id(c.agent_id)) return malformed("agent_id must be 1-128 of [A-Za-z0-9._-] starting with a letter or digit");
  if (c.scope.empty() || c.scope.size() > kMaxScopes) return malformed("scope must name 1-2 of \"logs\", \"stats\"");
  for (std::size_t i = 0; i < c.scope.size(); ++i) {
    if (!is_scope(c.scope[i])) return malformed("scope may name only \"logs\" and \"stats\"");
    for (std::size_t j = 0; j < i; ++j) {
      if (c.scope[j] == c.scope[i]) return malformed("scope names \"" + c.scope[i] + "\" twice");
    }
  }
  if (c.issued_at <= 0 || c.issued_at > kMaxUnixSeconds || c.expires_at <= 0 || c.expires_at > kMaxUnixSeconds) {
    return malformed("iat and exp must be Unix seconds");
  }
  auto const lifetime = c.expires_at - c.issued_at;
  if (lifetime <= 0 || lifetime > kMaxConsoleTokenSeconds) {
    return malformed("exp must be after iat by at most " + std::to_string(kMaxConsoleTokenSeconds) + " s");
  }
  if (!is_jti(c.jti)) return malformed("jti must be 32 lower-case hex characters");
  return {};
}

std::string payload_json(ConsoleClaims const& c) {
  bj::object o;
  o["agent_id"] = c.agent_id;
  bj::array scope;
  for (auto const& s : c.scope) scope.emplace_back(s);
  o["scope"] = std::move(scope);
  o["iat"] = c.issued_at;
  o["exp"] = c.expires_at;
  o["jti"] = c.jti;
  return json::serialize(bj::value(std::move(o)));
}

// One base64url segment, decoded, of at most `max` decoded bytes.
result<detail::Bytes> segment(std::string_view text, std::size_t max, char const* name) {
  if (text.empty()) return malformed(std::string(name) + " is empty");
  // Four characters carry three bytes; refuse before decoding anything larger.
  if (text.size() > (max + 2) / 3 * 4) return malformed(std::string(name) + " is too long");
  auto bytes = detail::base64url_decode(text);
  if (!bytes) return malformed(std::string(name) + " is not base64url");
  if (bytes->size() > max) return malformed(std::string(name) + " is too long");
  return bytes;
}

result<void> check_header(std::string_view text) {
  auto doc = json::parse(text, kLimits);
  if (!doc) return malformed("header is not a JSON object");
  auto r = json::ObjectReader::from(*doc, "header");
  if (!r) return malformed("header is not a JSON object");
  if (!r->reject_unknown({"alg", "typ"})) return malformed("header may have only alg and typ");
  auto alg = r->string("alg");
  if (!alg || *alg != "ES256") return malformed("header alg must be ES256");
  auto typ = r->string("typ");
  if (!typ || *typ != "ee-console+jwt") return malformed("header typ must be ee-console+jwt");
  return {};
}

result<ConsoleClaims> read_payload(std::string_view text) {
  auto doc = json::parse(text, kLimits);
  if (!doc) return malformed("payload is not a JSON object");
  auto r = json::ObjectReader::from(*doc, "payload");
  if (!r) return malformed("payload is not a JSON object");
  if (!r->reject_unknown({"agent_id", "scope", "iat", "exp", "jti"})) {
    return malformed("payload may have only agent_id, scope, iat, exp and jti");
  }
  ConsoleClaims c;
  auto agent_id = r->string("agent_id");
  if (!agent_id) return malformed("payload.agent_id must be a string");
  c.agent_id = std::move(*agent_id);
  auto scope = r->array("scope");
  if (!scope) return malformed("payload.scope must be an array");
  if ((*scope)->size() > kMaxScopes) return malformed("scope must name 1-2 of \"logs\", \"stats\"");
  for (auto const& item : **scope) {
    if (!item.is_string()) return malformed("payload.scope must hold strings");
    c.scope.emplace_back(item.as_string());
  }
  auto iat = r->integer("iat", 1, kMaxUnixSeconds);
  if (!iat) return malformed("payload.iat must be Unix seconds");
  c.issued_at = *iat;
  auto exp = r->integer("exp", 1, kMaxUnixSeconds);
  if (!exp) return malformed("payload.exp must be Unix seconds");
  c.expires_at = *exp;
  auto jti = r->string("jti");
  if (!jti) return malformed("payload.jti must be a string");
  c.jti = std::move(*jti);
  if (auto ok = check_claims(c); !ok) return ok.error();
  return c;
}

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

bool ConsoleClaims::allows(std::string_view scope_name) const noexcept {
  return std::find(scope.begin(), scope.end(), scope_name) != scope.end();
}

result<std::string> mint_console_token(ConsoleClaims const& claims, SigningKey const& key) {
  if (auto ok = check_claims(claims); !ok) return ok.error();
  auto input = detail::base64url_encode(detail::as_bytes(kHeader)) + "." +
               detail::base64url_encode(detail::as_bytes(payload_json(claims)));
  auto signature = key.sign(detail::as_bytes(input));
  if (!signature) return signature.error();
  return input + "." + detail::base64url_encode(*signature);
}

result<ParsedConsoleToken> parse_console_token(std::string_view token) {
  if (token.empty()) return malformed("the token is empty");
  if (token.size() > kMaxConsoleTokenBytes) {
    return malformed("the token is over " + std::to_string(kMaxConsoleTokenBytes) + " bytes");
  }
  auto const first = token.find('.');
  if (first == std::string_view::npos) return malformed("the token must have three parts separated by '.'");
  auto const second = token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return malformed("the token must have three parts separated by '.'");
  }
  auto header = segment(token.substr(0, first), kMaxHeaderBytes, "header");
  if (!header) return header.error();
  auto payload = segment(token.substr(first + 1, second - first - 1), kMaxPayloadBytes, "payload");
  if (!payload) return payload.error();
  auto signature = segment(token.substr(second + 1), kSignatureBytes, "signature");
  if (!signature) return signature.error();
  if (signature->size() != kSignatureBytes) return malformed("signature must be 64 bytes (ES256 r||s)");
  if (auto ok = check_header(detail::as_chars(*header)); !ok) return ok.error();
  auto claims = read_payload(detail::as_chars(*payload));
  if (!claims) return claims.error();
  ParsedConsoleToken out;
  out.claims = std::move(*claims);
  out.signing_input = std::string(token.substr(0, second));
  out.signature = std::move(*signature);
  return out;
}

result<ConsoleClaims> verify_console_token(std::string_view token, PublicKey const& cp_key, std::string_view agent_id,
                                           std::string_view scope_name, std::chrono::system_clock::time_point now) {
  auto parsed = parse_console_token(token);
  if (!parsed) return parsed.error();
  if (!cp_key.verify(detail::as_bytes(parsed->signing_input), parsed->signature)) {
    return Error(errc::console_token_invalid, "the console token is not signed by this agent's control plane");
  }
  auto const& c = parsed->claims;
  auto const at = unix_seconds(now);
  if (c.issued_at > at + kConsoleClockSkew.count()) {
    return Error(errc::console_token_expired, "the console token is issued in the future");
  }
  if (at >= c.expires_at) return Error(errc::console_token_expired, "the console token has expired");
  if (c.agent_id != agent_id) {
    return Error(errc::console_token_not_allowed, "the console token is for another agent");
  }
  if (!c.allows(scope_name)) {
    return Error(errc::console_token_not_allowed,
                 "the console token does not cover " + std::string(scope_name));
  }
  return std::move(parsed->claims);
}

result<ConsoleAccessRequest> parse_console_access_request(std::string_view body) {
  ConsoleAccessRequest out;
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return out;
  constexpr json::ParseLimits limits{.max_bytes = 1024, .max_depth = 2};
  auto doc = json::parse(body, limits);
  if (!doc) return doc.error();
  auto r = json::ObjectReader::from(*doc);
  if (!r) return r.error();
  if (auto ok = r->reject_unknown({"ttl_seconds"}); !ok) return ok.error();
  auto ttl = r->optional_integer("ttl_seconds", kMinConsoleTtlSeconds, kMaxConsoleTokenSeconds);
  if (!ttl) return ttl.error();
  out.ttl_seconds = ttl->value_or(kDefaultConsoleTtlSeconds);
  return out;
}

std::string to_json(ConsoleAccess const& a) {
  bj::object o;
  o["token"] = a.token;
  o["agent_id"] = a.agent_id;
  bj::array scope;
  for (auto const& s : a.scope) scope.emplace_back(s);
  o["scope"] = std::move(scope);
  o["expires_at"] = detail::format_rfc3339(a.expires_at);
  o["expires_in_seconds"] = a.expires_in_seconds;
  o["agent_url"] = a.agent_url;
  return json::serialize(bj::value(std::move(o)));
}

}  // namespace ee::api
