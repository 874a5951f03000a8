#pragma once
// A fake GitHub Actions OIDC issuer on a real ee::http::Server: it serves the discovery document
// and a JWKS, and mints RS256 tokens with chosen claims under a test RSA key. In-process for
// tests, and as the `ee-fake-github` program for end-to-end tests and `make demo`.
//
// Routes:
//   GET  /.well-known/openid-configuration  {"issuer", "jwks_uri", ...}
//   GET  /.well-known/jwks                  the key set (RS256, one key)
//   GET  /token?audience=A[&repository=o/r] {"value": JWT}  (what ACTIONS_ID_TOKEN_REQUEST_URL answers)
//   POST /mint  {claims...}                 {"value": JWT}  claims merged over the defaults
#include "fakes/jws_signer.hpp"

#include <easyenclave/error.hpp>
#include <easyenclave/http/server.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace ee::test {

struct FakeGithubOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  /// The `iss` of minted tokens. Default GitHub's, so verify_github_oidc's default accepts them;
  /// empty: the fake's own URL.
  std::string issuer = "https://token.actions.githubusercontent.com";
  std::string kid = "ee-fake-github-1";
  /// PKCS #8 PEM; empty: a fresh RSA-2048 key.
  std::string private_key_pem{};
  std::chrono::seconds lifetime{300};
  std::function<std::chrono::system_clock::time_point()> clock = [] { return std::chrono::system_clock::now(); };
};

/// The usual claims of a workflow run; everything can be overridden.
struct GithubTokenRequest {
  std::string audience = "easyenclave";
  std::string repository = "octo-org/octo-repo";
  std::string repository_id = "123456";
  std::string repository_owner_id = "654321";
  std::string ref = "refs/heads/main";
  std::string sha = "0123456789abcdef0123456789abcdef01234567";
  std::string workflow = "deploy";
  std::optional<std::string> environment{};
  std::string run_id = "42";
  std::string actor = "octocat";
  /// Extra members appended to the claims object (",\"x\":1" style, leading comma included).
  std::string extra_json{};
};

class FakeGithubIssuer {
 public:
  static ee::result<std::unique_ptr<FakeGithubIssuer>> start(FakeGithubOptions options = {});
  ~FakeGithubIssuer();

  /// "http://127.0.0.1:<port>".
  std::string url() const;
  std::string jwks_url() const { return url() + "/.well-known/jwks"; }
  std::string jwks_json() const;
  std::string const& issuer() const;
  /// A token with the claims of `request` (iat = nbf = clock, exp = iat + lifetime).
  std::string mint(GithubTokenRequest const& request = {}) const;
  /// A token with exactly `claims_json` as its payload.
  std::string mint_raw(std::string const& claims_json) const;
  SigningKey const& key() const;
  ee::http::Server& server();

  struct State;

 private:
  explicit FakeGithubIssuer(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace ee::test
