#pragma once
/// @file Console access tokens: what the control plane hands an agent's owner or the operator so
/// that they can read that one agent's logs and stats straight from the agent, for a while.
///
/// A token is a JWS in compact serialization (RFC 7515 section 7.1) with a pinned form:
///
///   BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature)
///
///   header    exactly {"alg":"ES256","typ":"ee-console+jwt"} (no other member: no "kid", "jku",
///             "crit"; the key is the one the agent already trusts, never named by the token)
///   payload   exactly the members {"agent_id","scope","iat","exp","jti"}:
///               agent_id  the one agent the token opens, in the CP's id format
///               scope     a non-empty array of distinct names from {"logs","stats"}
///               iat, exp  Unix seconds; 0 < exp - iat <= kMaxConsoleTokenSeconds
///               jti       32 lower-case hex characters (16 random bytes), for audit lines
///   signature ECDSA P-256 SHA-256 over ASCII(header "." payload), raw r||s (64 bytes), by the CP's
///             request-signing key: the key the agent took from its registration answer (and, when
///             configured, attested), so the agent needs no second trust anchor.
///
/// The signing input of a request signature ("ee-request-v1\n...", api/signing.hpp) contains
/// newlines and cannot be a base64url header, so no request signature can pass as a token and no
/// token as a request signature. A token is a bearer secret for its lifetime: never log it.
#include <easyenclave/api/error.hpp>
#include <easyenclave/api/signing.hpp>
#include <easyenclave/error.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ee::api {

/// The routes a token may open on the agent.
inline constexpr std::string_view kConsoleScopeLogs = "logs";    ///< GET /api/logs
inline constexpr std::string_view kConsoleScopeStats = "stats";  ///< GET /api/stats

/// The longest lifetime an agent accepts (exp - iat), whatever the CP signed.
inline constexpr std::int64_t kMaxConsoleTokenSeconds = 3600;
/// The shortest and longest lifetime the CP mints, and its default.
inline constexpr std::int64_t kMinConsoleTtlSeconds = 900;
inline constexpr std::int64_t kDefaultConsoleTtlSeconds = 900;
/// How far in the future an `iat` may be (clock skew between the CP and the agent).
inline constexpr std::chrono::seconds kConsoleClockSkew{60};
/// Bounds checked before anything is decoded.
inline constexpr std::size_t kMaxConsoleTokenBytes = 2048;

/// The claims of a console token.
struct ConsoleClaims {
  std::string agent_id{};
  std::vector<std::string> scope{};  ///< names from {"logs","stats"}, distinct, in the token's order
  std::int64_t issued_at = 0;        ///< iat, Unix seconds
  std::int64_t expires_at = 0;       ///< exp, Unix seconds
  std::string jti{};                 ///< 32 lower-case hex
  bool allows(std::string_view scope_name) const noexcept;
};

/// A token split and read, its signature not yet checked.
struct ParsedConsoleToken {
  ConsoleClaims claims{};
  std::string signing_input{};           ///< ASCII(header "." payload)
  std::vector<std::uint8_t> signature{};  ///< 64 bytes, raw r||s
};

/// Signs `claims` with `key` (the CP's). Checks the claims as the parser would (an out-of-range
/// lifetime, an unknown scope or a malformed id is errc::console_token_malformed) so the CP can
/// never mint a token no agent accepts; errc::crypto_failure when signing fails. Never throws
/// (except bad_alloc). The token is a secret.
result<std::string> mint_console_token(ConsoleClaims const& claims, SigningKey const& key);

/// Splits and reads `token` without checking its signature or times: at most
/// kMaxConsoleTokenBytes, three non-empty base64url segments, the pinned header, the payload's
/// members and formats as in the file comment, a 64-byte signature. Pure; every failure is
/// api::errc::console_token_malformed with what was wrong (never the token's text). Never throws
/// (except bad_alloc).
result<ParsedConsoleToken> parse_console_token(std::string_view token);

/// What an agent checks before it answers a request that carries a console token, in this order:
/// the form (parse_console_token), the signature under `cp_key` (console_token_invalid), `iat` no
/// more than kConsoleClockSkew after `now` and `now` before `exp` (console_token_expired), the
/// token's agent_id equal to `agent_id` and `scope_name` in its scope (console_token_not_allowed).
/// Returns the claims. Pure; never throws (except bad_alloc).
result<ConsoleClaims> verify_console_token(std::string_view token, PublicKey const& cp_key, std::string_view agent_id,
                                           std::string_view scope_name, std::chrono::system_clock::time_point now);

/// POST /api/v1/agents/{id}/console-access: an empty body, or {"ttl_seconds": N}.
struct ConsoleAccessRequest {
  std::int64_t ttl_seconds = kDefaultConsoleTtlSeconds;
};
/// An empty (or all-whitespace) body is the default; otherwise a JSON object of at most 1 KiB
/// whose only member is the optional whole number `ttl_seconds`, from kMinConsoleTtlSeconds to
/// kMaxConsoleTokenSeconds (ee::errc::out_of_range otherwise, invalid_value for another member).
/// Never throws (except bad_alloc).
result<ConsoleAccessRequest> parse_console_access_request(std::string_view body);

/// The CP's answer: the token (a secret, shown once) and what it opens.
struct ConsoleAccess {
  std::string token{};
  std::string agent_id{};
  std::vector<std::string> scope{};
  std::chrono::system_clock::time_point expires_at{};
  std::int64_t expires_in_seconds = 0;
  /// Where to present it: https://<tunnel hostname> (or the agent's reachable origin); empty when
  /// the CP knows no address of the agent.
  std::string agent_url{};
};
std::string to_json(ConsoleAccess const& a);

}  // namespace ee::api
