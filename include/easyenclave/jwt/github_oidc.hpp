#pragma once
/// @file GitHub Actions OIDC tokens: who is deploying or publishing. A workflow with
/// `permissions: id-token: write` asks GitHub for a token with an audience of its choice; the
/// control plane verifies it here and matches `repository_owner` against ownership labels.
/// Claims: GitHub's "About security hardening with OpenID Connect" reference.
#include <easyenclave/error.hpp>
#include <easyenclave/jwt/error.hpp>
#include <easyenclave/jwt/token.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ee::jwt {

/// GitHub's issuer, and where its signing keys are published (configuration, never token input).
inline constexpr std::string_view kGithubIssuer = "https://token.actions.githubusercontent.com";
inline constexpr std::string_view kGithubJwksUrl =
    "https://token.actions.githubusercontent.com/.well-known/jwks";

struct GithubOidcOptions {
  /// Required: the audience the workflow requested (a token minted for another service must not
  /// work here). Empty is invalid_options.
  std::string audience{};
  /// GitHub Enterprise Server or a test issuer may replace it.
  std::string issuer{kGithubIssuer};
  std::chrono::seconds leeway{120};
};

/// The claims easyenclave uses, typed. Ids are strings, as GitHub sends them.
struct GithubClaims {
  std::string repository{};           ///< "octo-org/octo-repo"
  std::string repository_id{};
  std::string repository_owner{};     ///< "octo-org"
  std::string repository_owner_id{};
  std::string sub{};                  ///< "repo:octo-org/octo-repo:ref:refs/heads/main"
  std::string ref{};                  ///< "refs/heads/main"
  std::string sha{};
  std::string workflow{};
  std::string job_workflow_ref{};     ///< "octo-org/octo-repo/.github/workflows/x.yml@refs/heads/main"
  std::optional<std::string> environment{};  ///< only for jobs that name an environment
  std::string run_id{};
  std::string actor{};
  TimePoint issued_at{};
  TimePoint expires_at{};
  std::vector<std::string> audience{};
};

/// Verifies a GitHub Actions OIDC token: RS256 only, `iss` = options.issuer, `aud` containing
/// options.audience, `exp`/`nbf`/`iat` with the leeway, then reads the typed claims (all
/// required strings except `environment`). No I/O; inputs are only read during the call.
/// @returns the claims; invalid_options without an audience; the errors of `jwt::verify`;
///          missing_claim / invalid_claim naming the claim. Thread-safe; never throws (except
///          bad_alloc).
result<GithubClaims> verify_github_oidc(std::string_view compact, KeySet const& keys,
                                        GithubOidcOptions const& options, TimePoint now);

}  // namespace ee::jwt
