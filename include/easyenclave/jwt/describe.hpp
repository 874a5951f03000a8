#pragma once
/// @file Verification of a token of a named kind, with a report for people and scripts: what
/// `ee token verify` prints, and what bindings and services can log. Claims are printed because
/// the caller asked for them; the token itself and key material never are.
#include <easyenclave/error.hpp>
#include <easyenclave/jwt/github_oidc.hpp>
#include <easyenclave/jwt/ita.hpp>
#include <easyenclave/jwt/token.hpp>
#include <easyenclave/tdx/appraisal.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ee::jwt {

/// Which verifier applies: Intel Trust Authority (PS384/RS256, Intel's issuers, TDX claims),
/// GitHub Actions OIDC (RS256, GitHub's issuer, audience required), or generic (RS*/PS*/ES*,
/// issuers and audience as given).
enum class TokenKind { generic, ita, github };
std::string_view to_string(TokenKind kind) noexcept;
std::optional<TokenKind> parse_token_kind(std::string_view name) noexcept;

struct CheckOptions {
  TokenKind kind = TokenKind::generic;
  /// Issuers to accept. For ita and github, empty means the kind's defaults; for generic it must
  /// not be empty (invalid_options).
  std::vector<std::string> issuers{};
  /// Required for github; optional otherwise.
  std::optional<std::string> audience{};
  /// The verification clock.
  TimePoint now{};
};

/// The outcome of check_token. `error` is set when not accepted.
struct CheckReport {
  bool accepted = false;
  Error error{};
  /// {"accepted":..., "kind":..., "error":{"code","message"}} or, when accepted, also "header",
  /// "claims" (as signed) and "appraisal" (ita) or "github" (typed claims). Compact.
  std::string json{};
  /// "ACCEPTED kind=ita alg=PS384 kid=..." or "REJECTED jwt.token_expired: ...", then one line
  /// per claim (and per appraisal field for ita).
  std::string text{};
};

/// Verifies `compact` as `options.kind` requires against `keys` at `options.now`, and describes
/// the outcome. Never throws (except bad_alloc); no I/O; thread-safe.
CheckReport check_token(std::string_view compact, KeySet const& keys, CheckOptions const& options);

/// check_token on files: reads the compact token (up to 1 MiB) and the JWKS (up to 4 MiB).
/// @returns the report; core errc::io_error / out_of_range when a file cannot be read;
///          jwt::errc::malformed_jwks naming the key set file when it does not parse;
///          jwt::errc::invalid_options when the options cannot verify anything (generic without
///          issuers, github without an audience).
result<CheckReport> check_token_files(std::filesystem::path const& token_file,
                                      std::filesystem::path const& jwks_file, CheckOptions const& options);

/// A token's header and claims as a JSON object {"header":{...},"claims":{...}}. Compact.
std::string describe_token_json(Token const& token);
/// An Appraisal as a JSON object: hex measurements, RFC 3339 times, Intel TCB status spelling.
std::string describe_appraisal_json(tdx::Appraisal const& appraisal);

}  // namespace ee::jwt
