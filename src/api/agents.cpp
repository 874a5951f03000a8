// The agent <-> control plane messages: field formats, JSON writers and strict readers.
//
// Readers take one JSON object (strict parse: no duplicate keys, bounded size and depth), read
// each known field with its type, check its format and size, and ignore fields they do not know,
// so that a newer peer can add fields without breaking an older one. Errors name the field by
// its path ("body.vm_name") and never echo its value: tokens, quotes and env values are secrets
// or large.
#include <easyenclave/api/agents.hpp>
#include <easyenclave/api/image_reference.hpp>
#include <easyenclave/api/signing.hpp>

#include "detail/json.hpp"
#include "detail/time.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <utility>

namespace ee::api {
namespace {

namespace json = ::ee::detail::json;
namespace bj = boost::json;
using json::ObjectReader;

constexpr std::size_t kMaxPublicKey = 4096;
constexpr std::size_t kMaxItaToken = 16 * 1024;
constexpr std::size_t kMaxQuoteB64 = 64 * 1024;
constexpr std::size_t kMaxAgentUrl = 512;
constexpr std::size_t kMaxTunnelToken = 4096;
constexpr std::size_t kMaxHostname = 253;
constexpr std::size_t kMaxId = 128;
constexpr std::size_t kMaxVersion = 128;
constexpr std::size_t kMaxStatus = 32;
constexpr std::size_t kMaxEnvEntries = 64;
constexpr std::size_t kMaxEnvName = 128;
constexpr std::size_t kMaxEnvValue = 4096;
constexpr std::int64_t kMaxSeconds = 365LL * 24 * 3600;
constexpr std::int64_t kMaxHeartbeatInterval = 24 * 3600;

// Evidence can be large (a quote and a token); every other message is small.
constexpr json::ParseLimits kEvidenceLimits{.max_bytes = 128 * 1024, .max_depth = 8};
constexpr json::ParseLimits kSmallLimits{.max_bytes = 64 * 1024, .max_depth = 8};

bool is_lower(char c) noexcept { return c >= 'a' && c <= 'z'; }
bool is_upper(char c) noexcept { return c >= 'A' && c <= 'Z'; }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_alnum(char c) noexcept { return is_lower(c) || is_upper(c) || is_digit(c); }
bool is_lower_hex(char c) noexcept { return is_digit(c) || (c >= 'a' && c <= 'f'); }

template <class Pred>
bool all_of(std::string_view s, Pred pred) {
  return std::all_of(s.begin(), s.end(), pred);
}

Error invalid(std::string_view field, std::string_view rule) {
  return Error(errc::invalid_field, std::string(field) + ": " + std::string(rule));
}

std::string join(std::string_view path, std::string_view key) {
  std::string out(path);
  out += '.';
  out += key;
  return out;
}

// A run of 1..max characters of `pred`, the first also satisfying `first`.
template <class First, class Pred>
bool is_token(std::string_view s, std::size_t max, First first, Pred pred) {
  return !s.empty() && s.size() <= max && first(s.front()) && all_of(s, pred);
}

bool is_id(std::string_view s) {
  return is_token(s, kMaxId, is_alnum,
                  [](char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-'; });
}

bool is_lower_token(std::string_view s, std::size_t max) {
  return is_token(s, max, [](char c) { return is_lower(c) || is_digit(c); },
                  [](char c) { return is_lower(c) || is_digit(c) || c == '-'; });
}

// --- field checks used only by the readers -----------------------------------------------------

// The CP's challenge is 32 bytes as 64 lower-case hex.
result<void> check_nonce(std::string_view value, std::string_view field) {
  if (value.size() != 64 || !all_of(value, is_lower_hex))
    return invalid(field, "must be 64 lower-case hex characters");
  return {};
}

// A registration's nonce: older agents echo a 16-byte nonce (32 hex characters).
result<void> check_registration_nonce(std::string_view value, std::string_view field) {
  if ((value.size() != 64 && value.size() != 32) || !all_of(value, is_lower_hex))
    return invalid(field, "must be 64 (or, from older agents, 32) lower-case hex characters");
  return {};
}

result<void> check_max(std::string_view value, std::string_view field, std::size_t max) {
  if (value.size() > max)
    return invalid(field, "is " + std::to_string(value.size()) + " characters; at most " +
                              std::to_string(max) + " are accepted");
  return {};
}

result<void> check_id(std::string_view value, std::string_view field) {
  if (!is_id(value))
    return invalid(field, "must be 1-128 characters of [A-Za-z0-9._-] starting with a letter or "
                          "digit");
  return {};
}

result<void> check_status(std::string_view value, std::string_view field) {
  if (!is_token(value, kMaxStatus, is_lower,
                [](char c) { return is_lower(c) || is_digit(c) || c == '_' || c == '-'; }))
    return invalid(field, "must be 1-32 characters of [a-z0-9_-] starting with a letter");
  return {};
}

result<void> check_version(std::string_view value, std::string_view field) {
  if (!is_token(value, kMaxVersion, is_alnum, [](char c) {
        return is_alnum(c) || c == '.' || c == '_' || c == '-' || c == '+';
      }))
    return invalid(field, "must be 1-128 characters of [A-Za-z0-9._+-] starting with a letter or "
                          "digit");
  return {};
}

// RFC 1035 section 2.3.4: at most 253 characters, labels of 1-63 [A-Za-z0-9-] that neither
// start nor end with '-'.
result<void> check_hostname(std::string_view value, std::string_view field) {
  auto const label_ok = [](std::string_view label) {
    return is_token(label, 63, is_alnum, [](char c) { return is_alnum(c) || c == '-'; }) &&
           label.back() != '-';
  };
  bool ok = !value.empty() && value.size() <= kMaxHostname;
  for (std::size_t start = 0; ok;) {
    auto const dot = value.find('.', start);
    ok = label_ok(value.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (!ok)
    return invalid(field, "must be a DNS name of at most 253 characters: labels of 1-63 "
                          "[A-Za-z0-9-] separated by '.', none starting or ending with '-'");
  return {};
}

// A compact JWS: base64url segments and dots. The JWT verifier checks the rest.
result<void> check_ita_token(std::string_view value, std::string_view field) {
  if (auto r = check_max(value, field, kMaxItaToken); !r) return r;
  if (value.empty() ||
      !all_of(value, [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; }))
    return invalid(field, "must be a compact JWS (base64url segments separated by '.')");
  return {};
}

// Standard base64; the CP decodes it strictly when it parses the quote.
result<void> check_quote_b64(std::string_view value, std::string_view field) {
  if (auto r = check_max(value, field, kMaxQuoteB64); !r) return r;
  if (value.empty() ||
      !all_of(value, [](char c) { return is_alnum(c) || c == '+' || c == '/' || c == '='; }))
    return invalid(field, "must be standard base64");
  return {};
}

result<void> check_key_size(std::string_view value, std::string_view field) {
  return check_max(value, field, kMaxPublicKey);
}

// A quote provider's name, for people: 1-64 printable ASCII characters.
result<void> check_provider(std::string_view value, std::string_view field) {
  if (value.size() > 64 || !all_of(value, [](char c) { return c > ' ' && c < 0x7f; }))
    return invalid(field, "must be at most 64 printable ASCII characters without spaces");
  return {};
}

result<void> check_report_data(std::string_view value, std::string_view field) {
  if (value.size() != 128 || !all_of(value, is_lower_hex))
    return invalid(field, "must be 128 lower-case hex characters");
  return {};
}

// Text for people (a workload's detail, the agent's last error): any string; the document's
// size bounds it. A reader that refused odd text here would take a working agent for a broken one.
result<void> check_free_text(std::string_view, std::string_view) { return {}; }

result<void> check_mrtd(std::string_view value, std::string_view field) {
  if (value.size() != 96 || !all_of(value, is_lower_hex))
    return invalid(field, "must be 96 lower-case hex characters (an MRTD)");
  return {};
}

result<void> check_public_key(std::string_view value, std::string_view field) {
  if (auto r = check_max(value, field, kMaxPublicKey); !r) return r;
  if (auto key = PublicKey::parse(value); !key)
    return invalid(field, "must be a P-256 public key (base64 DER SubjectPublicKeyInfo or PEM)");
  return {};
}

// An origin only (scheme://host[:port], an optional "/"): the CP appends its own paths, so an
// agent cannot steer the CP's requests to another path or query on the host it names.
result<void> check_agent_url(std::string_view value, std::string_view field) {
  if (auto r = check_max(value, field, kMaxAgentUrl); !r) return r;
  constexpr std::string_view kExpected =
      "must be an http:// or https:// origin (scheme://host[:port]) without user info, path, "
      "query or fragment";
  std::size_t scheme = 0;
  if (value.starts_with("http://")) scheme = 7;
  else if (value.starts_with("https://")) scheme = 8;
  if (scheme == 0) return invalid(field, kExpected);
  auto authority = value.substr(scheme);
  if (authority.ends_with('/')) authority.remove_suffix(1);
  if (authority.empty()) return invalid(field, kExpected);
  std::string_view host = authority;
  std::string_view port;
  if (authority.front() == '[') {
    auto const close = authority.find(']');
    if (close == std::string_view::npos || close == 1) return invalid(field, kExpected);
    host = authority.substr(1, close - 1);
    if (!all_of(host, [](char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.'; })) return invalid(field, kExpected);
    auto const rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return invalid(field, kExpected);
      port = rest.substr(1);
      if (port.empty()) return invalid(field, kExpected);
    }
  } else {
    if (auto const colon = authority.rfind(':'); colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      if (port.empty()) return invalid(field, kExpected);
    }
    if (host.empty() || !all_of(host, [](char c) { return is_alnum(c) || c == '-' || c == '.'; }))
      return invalid(field, kExpected);
  }
  if (!port.empty()) {
    if (port.size() > 5 || !all_of(port, is_digit) || std::stoul(std::string(port)) > 65535)
      return invalid(field, kExpected);
  }
  return {};
}

// Base64 of a raw 64-byte r||s signature: 88 characters with padding.
result<void> check_signature_b64(std::string_view value, std::string_view field) {
  if (value.size() != 88 ||
      !all_of(value.substr(0, 86), [](char c) { return is_alnum(c) || c == '+' || c == '/'; }) ||
      value.substr(86) != "==")
    return invalid(field, "must be base64 of a 64-byte ECDSA P-256 signature (r||s)");
  return {};
}

result<void> check_tunnel_token(std::string_view value, std::string_view field) {
  if (auto r = check_max(value, field, kMaxTunnelToken); !r) return r;
  if (!all_of(value, [](char c) { return c > ' ' && c < 0x7f; }))
    return invalid(field, "must be printable ASCII without spaces");
  return {};
}

bool is_env_name(std::string_view value) {
  return is_token(value, kMaxEnvName, [](char c) { return is_lower(c) || is_upper(c) || c == '_'; },
                  [](char c) { return is_alnum(c) || c == '_'; });
}

// --- reading --------------------------------------------------------------------------------

using Check = result<void> (*)(std::string_view, std::string_view);

// A required string field that passes `check`.
result<void> required(ObjectReader const& r, std::string_view key, Check check, std::string& out) {
  auto v = r.string(key);
  if (!v) return v.error();
  if (auto ok = check(*v, join(r.path(), key)); !ok) return ok.error();
  out = std::move(*v);
  return {};
}

// An optional string field: absent, null and "" all read as "" (to_json leaves empty strings
// out, and older peers write them); anything else must pass `check`.
result<void> optional(ObjectReader const& r, std::string_view key, Check check, std::string& out) {
  auto v = r.optional_string(key);
  if (!v) return v.error();
  out.clear();
  if (!*v || (*v)->empty()) return {};
  if (auto ok = check(**v, join(r.path(), key)); !ok) return ok.error();
  out = std::move(**v);
  return {};
}

result<TimePoint> read_time(ObjectReader const& r, std::string_view key) {
  auto text = r.optional_string(key);
  if (!text) return text.error();
  if (!*text) return TimePoint{};
  auto t = detail::parse_rfc3339(**text);
  if (!t) return invalid(join(r.path(), key), "must be an RFC 3339 timestamp");
  return *t;
}

// A count or a duration in seconds: a whole number, never negative.
result<void> read_count(ObjectReader const& r, std::string_view key, std::int64_t& out) {
  auto v = r.optional_integer(key, 0);
  if (!v) return v.error();
  out = v->value_or(0);
  return {};
}

result<void> read_bool(ObjectReader const& r, std::string_view key, bool& out) {
  auto v = r.optional_boolean(key);
  if (!v) return v.error();
  out = v->value_or(false);
  return {};
}

// --- writing --------------------------------------------------------------------------------

void put_if(bj::object& o, std::string_view key, std::string const& value) {
  if (!value.empty()) o[key] = value;
}

std::string to_text(bj::object o) { return json::serialize(bj::value(std::move(o))); }

}  // namespace

// --- field formats --------------------------------------------------------------------------

result<void> check_vm_name(std::string_view value, std::string_view field) {
  if (!is_token(value, 63, is_alnum,
                [](char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-'; }))
    return invalid(field, "must be 1-63 characters of [A-Za-z0-9._-] starting with a letter or "
                          "digit");
  return {};
}

result<void> check_owner(std::string_view value, std::string_view field) {
  std::string_view login;
  if (value.starts_with("github:org/")) login = value.substr(11);
  else if (value.starts_with("github:user/")) login = value.substr(12);
  if (!is_github_login(login))
    return invalid(field, "must be github:org/NAME or github:user/NAME, NAME a GitHub login (1-39 "
                          "of [A-Za-z0-9-], not starting with '-')");
  return {};
}

result<void> check_node_size(std::string_view value, std::string_view field) {
  if (!is_lower_token(value, 32))
    return invalid(field, "must be 1-32 characters of [a-z0-9-] starting with a letter or digit");
  return {};
}

result<void> check_datacenter(std::string_view value, std::string_view field) {
  auto const colon = value.find(':');
  auto const rule = [](std::string_view part) {
    return is_token(part, 40, [](char c) { return is_lower(c) || is_digit(c); },
                    [](char c) { return is_lower(c) || is_digit(c) || c == '-'; });
  };
  if (colon == std::string_view::npos || !rule(value.substr(0, colon)) ||
      !rule(value.substr(colon + 1)))
    return invalid(field, "must be CLOUD:ZONE, each 1-40 characters of [a-z0-9-] starting with a "
                          "letter or digit");
  return {};
}

result<void> check_digest(std::string_view value, std::string_view field) {
  if (value.size() != 71 || !value.starts_with("sha256:") ||
      !all_of(value.substr(7), is_lower_hex))
    return invalid(field, "must be sha256: followed by 64 lower-case hex characters");
  return {};
}

result<void> check_pinned_image(std::string_view value, std::string_view field) {
  auto parsed = ImageReference::parse_pinned(value, field);
  if (!parsed) return parsed.error();
  return {};
}

bool is_github_login(std::string_view s) {
  return is_token(s, 39, is_alnum, [](char c) { return is_alnum(c) || c == '-'; });
}

std::string owner_login(std::string_view owner) {
  if (!check_owner(owner)) return {};
  std::string login(owner.substr(owner.find('/') + 1));
  std::transform(login.begin(), login.end(), login.begin(),
                 [](char c) { return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c; });
  return login;
}

result<void> check_bootstrap_token(std::string_view value, std::string_view field) {
  constexpr std::string_view kPrefix = "ee_bt_";
  auto const body = value.substr(std::min(value.size(), kPrefix.size()));
  if (!value.starts_with(kPrefix) || body.size() != 43 ||
      !all_of(body, [](char c) { return is_alnum(c) || c == '-' || c == '_'; }))
    return invalid(field, "must be a bootstrap token: ee_bt_ and 43 base64url characters");
  return {};
}

// --- challenge ------------------------------------------------------------------------------

std::string to_json(Challenge const& c) {
  bj::object o;
  o["nonce"] = c.nonce;
  o["expires_in_seconds"] = c.expires_in_seconds;
  o["ttl_seconds"] = c.ttl_seconds;
  if (c.issued_at != TimePoint{}) o["issued_at"] = detail::format_rfc3339(c.issued_at);
  return to_text(std::move(o));
}

result<Challenge> parse_challenge(std::string_view text) {
  auto doc = json::parse(text, kSmallLimits);
  if (!doc) return doc.error();
  auto reader = ObjectReader::from(*doc);
  if (!reader) return reader.error();
  auto const& r = *reader;
  Challenge c;
  if (auto ok = required(r, "nonce", check_nonce, c.nonce); !ok) return ok.error();
  // Control planes of the v2 API answer with expires_in_seconds or with ttl_seconds and
  // issued_at; either lifetime field is enough.
  auto expires = r.optional_integer("expires_in_seconds", 0, kMaxSeconds);
  if (!expires) return expires.error();
  auto ttl = r.optional_integer("ttl_seconds", 0, kMaxSeconds);
  if (!ttl) return ttl.error();
  if (!*expires && !*ttl)
    return r.field_error("expires_in_seconds", ee::errc::missing_field,
                         "required field is missing (nor is ttl_seconds present)");
  c.expires_in_seconds = expires->value_or(ttl->value_or(0));
  c.ttl_seconds = ttl->value_or(c.expires_in_seconds);
  auto issued = read_time(r, "issued_at");
  if (!issued) return issued.error();
  c.issued_at = *issued;
  return c;
}

// --- register -------------------------------------------------------------------------------

std::string to_json(RegisterRequest const& r) {
  bj::object o;
  o["vm_name"] = r.vm_name;
  put_if(o, "owner", r.owner);
  o["node_size"] = r.node_size;
  o["datacenter"] = r.datacenter;
  o["nonce"] = r.nonce;
  put_if(o, "public_key", r.public_key);
  put_if(o, "intel_ta_token", r.intel_ta_token);
  put_if(o, "quote_b64", r.quote_b64);
  put_if(o, "agent_url", r.agent_url);
  put_if(o, "bootstrap_token", r.bootstrap_token);
  put_if(o, "continuity_signature", r.continuity_signature);
  return to_text(std::move(o));
}

std::string continuity_message(RegisterRequest const& r) {
  // The key in its canonical form (a PEM and a base64 spelling are one key), and every field
  // length-prefixed, so no two registrations share a message.
  auto const key = PublicKey::parse(r.public_key);
  std::string const public_key = key ? key->base64() : r.public_key;
  std::string out = "ee-continuity-v1\n";
  for (auto const* field : {&r.vm_name, &r.owner, &public_key, &r.nonce}) {
    out += std::to_string(field->size());
    out += ':';
    out += *field;
    out += '\n';
  }
  return out;
}

result<RegisterRequest> parse_register_request(std::string_view text) {
  auto doc = json::parse(text, kEvidenceLimits);
  if (!doc) return doc.error();
  auto reader = ObjectReader::from(*doc);
  if (!reader) return reader.error();
  auto const& r = *reader;
  RegisterRequest out;
  if (auto ok = required(r, "vm_name", check_vm_name, out.vm_name); !ok) return ok.error();
  if (auto ok = optional(r, "owner", check_owner, out.owner); !ok) return ok.error();
  if (auto ok = required(r, "node_size", check_node_size, out.node_size); !ok) return ok.error();
  if (auto ok = required(r, "datacenter", check_datacenter, out.datacenter); !ok) return ok.error();
  if (auto ok = required(r, "nonce", check_registration_nonce, out.nonce); !ok) return ok.error();
  if (auto ok = optional(r, "public_key", check_public_key, out.public_key); !ok) return ok.error();
  if (auto ok = optional(r, "intel_ta_token", check_ita_token, out.intel_ta_token); !ok)
    return ok.error();
  if (auto ok = optional(r, "quote_b64", check_quote_b64, out.quote_b64); !ok) return ok.error();
  if (auto ok = optional(r, "agent_url", check_agent_url, out.agent_url); !ok) return ok.error();
  if (auto ok = optional(r, "bootstrap_token", check_bootstrap_token, out.bootstrap_token); !ok)
    return ok.error();
  if (auto ok = optional(r, "continuity_signature", check_signature_b64, out.continuity_signature); !ok)
    return ok.error();
  if (!out.continuity_signature.empty() && out.public_key.empty())
    return invalid(join(r.path(), "continuity_signature"), "needs public_key: it moves a registration to that key");
  // An agent with a key binds nonce || SHA-256(key) into REPORTDATA, which needs the full
  // 32-byte nonce; only keyless (older) agents may echo a short one.
  if (!out.public_key.empty() && out.nonce.size() != 64)
    return invalid(join(r.path(), "nonce"),
                   "must be 64 lower-case hex characters when public_key is present");
  if (out.intel_ta_token.empty() && out.quote_b64.empty())
    return Error(ee::errc::missing_field,
                 "body: evidence is missing: one of intel_ta_token or quote_b64 is required");
  return out;
}

std::string to_json(RegisterResponse const& r) {
  bj::object o;
  o["agent_id"] = r.agent_id;
  put_if(o, "tunnel_token", r.tunnel_token);
  put_if(o, "hostname", r.hostname);
  o["heartbeat_interval_seconds"] = r.heartbeat_interval_seconds;
  put_if(o, "cp_public_key", r.cp_public_key);
  return to_text(std::move(o));
}

result<RegisterResponse> parse_register_response(std::string_view text) {
  auto doc = json::parse(text, kSmallLimits);
  if (!doc) return doc.error();
  auto reader = ObjectReader::from(*doc);
  if (!reader) return reader.error();
  auto const& r = *reader;
  RegisterResponse out;
  if (auto ok = required(r, "agent_id", check_id, out.agent_id); !ok) return ok.error();
  if (auto ok = optional(r, "tunnel_token", check_tunnel_token, out.tunnel_token); !ok)
    return ok.error();
  if (auto ok = optional(r, "hostname", check_hostname, out.hostname); !ok) return ok.error();
  auto interval = r.optional_integer("heartbeat_interval_seconds", 1, kMaxHeartbeatInterval);
  if (!interval) return interval.error();
  out.heartbeat_interval_seconds = interval->value_or(out.heartbeat_interval_seconds);
  if (auto ok = optional(r, "cp_public_key", check_public_key, out.cp_public_key); !ok)
    return ok.error();
  return out;
}

// --- heartbeat ------------------------------------------------------------------------------

std::string to_json(HeartbeatRequest const& r) {
  bj::object o;
  o["status"] = r.status;
  put_if(o, "image_digest", r.image_digest);
  put_if(o, "deployment_id", r.deployment_id);
  put_if(o, "rolled_back", r.rolled_back);
  put_if(o, "nonce", r.nonce);
  put_if(o, "intel_ta_token", r.intel_ta_token);
  put_if(o, "quote_b64", r.quote_b64);
  return to_text(std::move(o));
}

result<HeartbeatRequest> parse_heartbeat_request(std::string_view text) {
  auto doc = json::parse(text, kEvidenceLimits);
  if (!doc) return doc.error();
  auto reader = ObjectReader::from(*doc);
  if (!reader) return reader.error();
  auto const& r = *reader;
  HeartbeatRequest out;
  if (auto ok = required(r, "status", check_status, out.status); !ok) return ok.error();
  if (auto ok = optional(r, "image_digest", check_digest, out.image_digest); !ok) return ok.error();
  if (auto ok = optional(r, "deployment_id", check_id, out.deployment_id); !ok) return ok.error();
  if (auto ok = optional(r, "rolled_back", check_id, out.rolled_back); !ok) return ok.error();
  if (auto ok = optional(r, "nonce", check_nonce, out.nonce); !ok) return ok.error();
  if (auto ok = optional(r, "intel_ta_token", check_ita_token, out.intel_ta_token); !ok)
    return ok.error();
  if (auto ok = optional(r, "quote_b64", check_quote_b64, out.quote_b64); !ok) return ok.error();
  // Fresh evidence is bound to a challenge, and a challenge answer carries evidence.
  bool const has_evidence = !out.intel_ta_token.empty() || !out.quote_b64.empty();
  if (has_evidence && out.nonce.empty())
    return r.field_error("nonce", ee::errc::missing_field,
                         "required with intel_ta_token or quote_b64");
  if (!has_evidence && !out.nonce.empty())
    return invalid(join(r.path(), "nonce"), "sent without intel_ta_token or quote_b64");
  return out;
}

std::string to_json(AgentStatusReport const& r) {
  bj::object o;
  o["status"] = r.status;
  put_if(o, "deployment_id", r.deployment_id);
  put_if(o, "image_digest", r.image_digest);
  put_if(o, "rolled_back", r.rolled_back);
  return to_text(std::move(o));
}

result<AgentStatusReport> parse_agent_status_report(std::string_view text) {
  auto doc = json::parse(text, kSmallLimits);
  if (!doc) return doc.error();
  auto reader = ObjectReader::from(*doc);
  if (!reader) return reader.error();
  auto const& r = *reader;
  AgentStatusReport out;
  if (auto ok = required(r, "status", check_status, out.status); !ok) return ok.error();
  if (auto ok = optional(r, "deployment_id", check_id, out.deployment_id); !ok) return ok.error();
  if (auto ok = optional(r, "image_digest", check_digest, out.image_digest); !ok) return ok.error();
  if (auto ok = optional(r, "rolled_back", check_id, out.rolled_back); !ok) return ok.error();
  return out;
}

std::string to_json(DeployedReport const& r) {
  bj::object o;
  o["deployment_id"] = r.deployment_id;
  o["image_digest"] = r.image_digest;
  return to_text(std::move(o));
}

result<DeployedReport> parse_deployed_report(std::string_view text) {
  auto doc = json::parse(text, kSmallLimits);
  if (!doc) return doc.error();
  auto reader = ObjectReader::from(*doc);
  if (!reader) return reader.error();
  auto const& r = *reader;
  DeployedReport out;
  if (auto ok = required(r, "deployment_id", check_id, out.deployment_id); !ok) return ok.error();
  if (auto ok = required(r, "image_digest", check_digest, out.image_digest); !ok) return ok.error();
  return out;
}

std::string to_json(HeartbeatResponse const& r) {
  bj::object o;
  o["verified"] = r.verified;
  o["attestation_due"] = r.attestation_due;
  o["heartbeat_interval_seconds"] = r.heartbeat_interval_seconds;
  return to_text(std::move(o));
}

result<HeartbeatResponse> parse_heartbeat_response(std::string_view text) {
  auto doc = json::parse(text, kSmallLimits);
  if (!doc) return doc.error();
  auto reader = ObjectReader::from(*doc);
  if (!reader) return reader.error();
  auto const& r = *reader;
  HeartbeatResponse out;
  auto verified = r.boolean("verified");
  if (!verified) return verified.error();
  out.verified = *verified;
  auto due = r.optional_boolean("attestation_due");
  if (!due) return due.error();
  out.attestation_due = due->value_or(false);
  auto interval = r.optional_integer("heartbeat_interval_seconds", 1, kMaxHeartbeatInterval);
  if (!interval) return interval.error();
  out.heartbeat_interval_seconds = interval->value_or(out.heartbeat_interval_seconds);
  return out;
}

// --- CP -> agent ----------------------------------------------------------------------------

std::string to_json(AgentDeployRequest const& r) {
  bj::object o;
  o["deployment_id"] = r.deployment_id;
  o["app_name"] = r.app_name;
  put_if(o, "version", r.version);
  o["image"] = r.image;
  if (!r.env.empty()) {
    bj::object env;
    for (auto const& [name, value] : r.env) env[name] = value;
    o["env"] = std::move(env);
  }
  return to_text(std::move(o));
}

result<AgentDeployRequest> parse_agent_deploy_request(std::string_view text) {
  auto doc = json::parse(text, kSmallLimits);
  if (!doc) return doc.error();
  auto reader = ObjectReader::from(*doc);
  if (!reader) return reader.error();
  auto const& r = *reader;
  AgentDeployRequest out;
  if (auto ok = required(r, "deployment_id", check_id, out.deployment_id); !ok) return ok.error();
  if (auto ok = required(r, "app_name", check_vm_name, out.app_name); !ok) return ok.error();
  if (auto ok = optional(r, "version", check_version, out.version); !ok) return ok.error();
  if (auto ok = required(r, "image", check_pinned_image, out.image); !ok) return ok.error();
  auto env = r.optional_child("env");
  if (!env) return env.error();
  if (*env) {
    auto const& object = (*env)->object();
    auto const path = (*env)->path();
    if (object.size() > kMaxEnvEntries)
      return invalid(path, "has " + std::to_string(object.size()) + " entries; at most " +
                               std::to_string(kMaxEnvEntries) + " are accepted");
    std::size_t index = 0;
    for (auto const& entry : object) {
      std::string_view const name(entry.key().data(), entry.key().size());
      // An invalid name is not echoed: it may be anything, including a misplaced secret.
      if (!is_env_name(name))
        return invalid(path, "the name of entry " + std::to_string(index) +
                                 " must match [A-Za-z_][A-Za-z0-9_]{0,127}");
      auto value = (*env)->string(name);
      if (!value) return value.error();
      if (value->size() > kMaxEnvValue)
        return invalid(join(path, name), "value exceeds " + std::to_string(kMaxEnvValue) +
                                             " characters");
      out.env.emplace(std::string(name), std::move(*value));
      ++index;
    }
  }
  return out;
}

std::string to_json(AgentUndeployRequest const& r) {
  bj::object o;
  put_if(o, "deployment_id", r.deployment_id);
  return to_text(std::move(o));
}

result<AgentUndeployRequest> parse_agent_undeploy_request(std::string_view text) {
  auto doc = json::parse(text, kSmallLimits);
  if (!doc) return doc.error();
  auto reader = ObjectReader::from(*doc);
  if (!reader) return reader.error();
  auto const& r = *reader;
  AgentUndeployRequest out;
  if (auto ok = optional(r, "deployment_id", check_id, out.deployment_id); !ok) return ok.error();
  return out;
}

std::string to_json(AgentDeployResponse const& r) {
  bj::object o;
  put_if(o, "deployment_id", r.deployment_id);
  o["status"] = r.status;
  return to_text(std::move(o));
}

result<AgentDeployResponse> parse_agent_deploy_response(std::string_view text) {
  auto doc = json::parse(text, kSmallLimits);
  if (!doc) return doc.error();
  auto reader = ObjectReader::from(*doc);
  if (!reader) return reader.error();
  auto const& r = *reader;
  AgentDeployResponse out;
  if (auto ok = optional(r, "deployment_id", check_id, out.deployment_id); !ok) return ok.error();
  if (auto ok = required(r, "status", check_status, out.status); !ok) return ok.error();
  return out;
}

// --- agent health ---------------------------------------------------------------------------

// In the order ee-agent has always written them (src/agent/agent_api.cpp builds an AgentHealth).
std::string to_json(AgentHealth const& h) {
  bj::object workload;
  workload["state"] = h.workload.state;
  workload["deployment_id"] = h.workload.deployment_id;
  workload["image"] = h.workload.image;
  workload["image_digest"] = h.workload.image_digest;
  workload["detail"] = h.workload.detail;
  workload["restarts"] = h.workload.restarts;
  bj::object tunnel;
  tunnel["state"] = h.tunnel.state;
  tunnel["restarts"] = h.tunnel.restarts;
  bj::object o;
  o["status"] = h.status;
  o["version"] = h.version;
  o["mode"] = h.mode;
  o["agent_id"] = h.agent_id;
  o["vm_name"] = h.vm_name;
  o["registered"] = h.registered;
  o["hostname"] = h.hostname;
  o["public_key"] = h.public_key;
  o["uptime_seconds"] = h.uptime_seconds;
  o["workload"] = std::move(workload);
  o["tunnel"] = std::move(tunnel);
  put_if(o, "control_plane", h.control_plane);
  put_if(o, "cp_trust", h.cp_trust);
  put_if(o, "cp_mrtd", h.cp_mrtd);
  put_if(o, "last_error", h.last_error);
  if (h.attestation) {
    bj::object a;
    a["quote_b64"] = h.attestation->quote_b64;
    put_if(a, "report_data", h.attestation->report_data);
    put_if(a, "provider", h.attestation->provider);
    o["attestation"] = std::move(a);
  }
  return to_text(std::move(o));
}

result<AgentHealth> parse_agent_health(std::string_view text) {
  // An attested answer carries a quote.
  auto doc = json::parse(text, kEvidenceLimits);
  if (!doc) return doc.error();
  auto reader = ObjectReader::from(*doc);
  if (!reader) return reader.error();
  auto const& r = *reader;
  AgentHealth out;
  if (auto ok = optional(r, "status", check_status, out.status); !ok) return ok.error();
  if (auto ok = optional(r, "version", check_version, out.version); !ok) return ok.error();
  if (auto ok = optional(r, "mode", check_status, out.mode); !ok) return ok.error();
  if (auto ok = optional(r, "agent_id", check_id, out.agent_id); !ok) return ok.error();
  if (auto ok = optional(r, "vm_name", check_vm_name, out.vm_name); !ok) return ok.error();
  if (auto ok = read_bool(r, "registered", out.registered); !ok) return ok.error();
  if (auto ok = optional(r, "hostname", check_hostname, out.hostname); !ok) return ok.error();
  if (auto ok = optional(r, "public_key", check_key_size, out.public_key); !ok) return ok.error();
  if (auto ok = read_count(r, "uptime_seconds", out.uptime_seconds); !ok) return ok.error();

  auto workload = r.child("workload");
  if (!workload) return workload.error();
  auto& w = out.workload;
  if (auto ok = required(*workload, "state", check_status, w.state); !ok) return ok.error();
  if (auto ok = optional(*workload, "deployment_id", check_id, w.deployment_id); !ok)
    return ok.error();
  if (auto ok = optional(*workload, "image", check_pinned_image, w.image); !ok) return ok.error();
  if (auto ok = optional(*workload, "image_digest", check_digest, w.image_digest); !ok)
    return ok.error();
  if (auto ok = optional(*workload, "detail", check_free_text, w.detail); !ok) return ok.error();
  if (auto ok = read_count(*workload, "restarts", w.restarts); !ok) return ok.error();

  auto tunnel = r.optional_child("tunnel");
  if (!tunnel) return tunnel.error();
  if (*tunnel) {
    auto const& t = **tunnel;
    if (auto ok = optional(t, "state", check_status, out.tunnel.state); !ok) return ok.error();
    if (auto ok = read_count(t, "restarts", out.tunnel.restarts); !ok) return ok.error();
  }
  if (auto ok = optional(r, "control_plane", check_status, out.control_plane); !ok)
    return ok.error();
  if (auto ok = optional(r, "cp_trust", check_status, out.cp_trust); !ok) return ok.error();
  if (auto ok = optional(r, "cp_mrtd", check_mrtd, out.cp_mrtd); !ok) return ok.error();
  if (auto ok = optional(r, "last_error", check_free_text, out.last_error); !ok)
    return ok.error();

  auto attestation = r.optional_child("attestation");
  if (!attestation) return attestation.error();
  if (*attestation) {
    auto const& a = **attestation;
    HealthAttestation evidence;
    if (auto ok = required(a, "quote_b64", check_quote_b64, evidence.quote_b64); !ok)
      return ok.error();
    if (auto ok = optional(a, "report_data", check_report_data, evidence.report_data); !ok)
      return ok.error();
    if (auto ok = optional(a, "provider", check_provider, evidence.provider); !ok)
      return ok.error();
    out.attestation = std::move(evidence);
  }
  return out;
}

// --- agent stats -----------------------------------------------------------------------------

namespace {

constexpr std::int64_t kMaxStatCount = std::int64_t{1} << 62;
constexpr double kMaxStatNumber = 1e12;
constexpr std::size_t kMaxStatPath = 4096;
constexpr json::ParseLimits kStatsLimits{.max_bytes = 16 * 1024, .max_depth = 4};

result<double> stat_number(ObjectReader const& r, std::string_view key) {
  auto const* v = r.object().if_contains(key);
  if (v == nullptr) return r.field_error(key, ee::errc::missing_field, "required field is missing");
  if (!v->is_number()) return r.field_error(key, ee::errc::wrong_type, "must be a number");
  std::error_code ec;
  auto const d = v->to_number<double>(ec);
  // NaN fails both comparisons, so only finite values in range pass.
  if (ec || !(d >= 0 && d <= kMaxStatNumber)) {
    return r.field_error(key, ee::errc::out_of_range, "must be a number from 0 to 1e12");
  }
  return d;
}

result<std::uint64_t> stat_count(ObjectReader const& r, std::string_view key) {
  auto n = r.integer(key, 0, kMaxStatCount);
  if (!n) return n.error();
  return static_cast<std::uint64_t>(*n);
}

}  // namespace

std::string to_json(AgentStats const& s) {
  bj::object cpu;
  cpu["count"] = s.cpu_count;
  cpu["load1"] = s.load1;
  cpu["load5"] = s.load5;
  cpu["load15"] = s.load15;
  bj::object memory;
  memory["total_bytes"] = s.memory_total_bytes;
  memory["available_bytes"] = s.memory_available_bytes;
  bj::object disk;
  if (s.disk_path) {
    disk["path"] = *s.disk_path;
    disk["total_bytes"] = s.disk_total_bytes;
    disk["available_bytes"] = s.disk_available_bytes;
  }
  bj::object uptime;
  uptime["system_seconds"] = s.system_uptime_seconds;
  uptime["agent_seconds"] = s.agent_uptime_seconds;
  bj::object o;
  o["cpu"] = std::move(cpu);
  o["memory"] = std::move(memory);
  o["disk"] = std::move(disk);
  o["uptime"] = std::move(uptime);
  return to_text(std::move(o));
}

result<AgentStats> parse_agent_stats(std::string_view text) {
  auto doc = json::parse(text, kStatsLimits);
  if (!doc) return doc.error();
  auto reader = ObjectReader::from(*doc);
  if (!reader) return reader.error();
  auto const& r = *reader;
  AgentStats out;
  auto cpu = r.child("cpu");
  if (!cpu) return cpu.error();
  auto count = cpu->integer("count", 0, kMaxStatCount);
  if (!count) return count.error();
  out.cpu_count = *count;
  for (auto [key, field] : {std::pair{"load1", &out.load1}, {"load5", &out.load5}, {"load15", &out.load15}}) {
    auto v = stat_number(*cpu, key);
    if (!v) return v.error();
    *field = *v;
  }
  auto memory = r.child("memory");
  if (!memory) return memory.error();
  auto total = stat_count(*memory, "total_bytes");
  if (!total) return total.error();
  out.memory_total_bytes = *total;
  auto available = stat_count(*memory, "available_bytes");
  if (!available) return available.error();
  out.memory_available_bytes = *available;
  auto disk = r.child("disk");
  if (!disk) return disk.error();
  if (!disk->object().empty()) {
    auto path = disk->string("path");
    if (!path) return path.error();
    if (path->empty() || path->size() > kMaxStatPath) {
      return disk->field_error("path", ee::errc::out_of_range, "must be 1-4096 characters");
    }
    out.disk_path = std::move(*path);
    auto disk_total = stat_count(*disk, "total_bytes");
    if (!disk_total) return disk_total.error();
    out.disk_total_bytes = *disk_total;
    auto disk_available = stat_count(*disk, "available_bytes");
    if (!disk_available) return disk_available.error();
    out.disk_available_bytes = *disk_available;
  }
  auto uptime = r.child("uptime");
  if (!uptime) return uptime.error();
  auto system = stat_number(*uptime, "system_seconds");
  if (!system) return system.error();
  out.system_uptime_seconds = *system;
  auto agent = uptime->integer("agent_seconds", 0, kMaxStatCount);
  if (!agent) return agent.error();
  out.agent_uptime_seconds = *agent;
  return out;
}

}  // namespace ee::api
