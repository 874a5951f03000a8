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
// and, for clients that read releases (GitHub REST "List releases"):
//   GET  /repos/{owner}/{repo}/releases     newest first: {tag_name, name, published_at,
//                                           assets:[{name, size, browser_download_url}]}
//   GET  /download/{owner}/{repo}/{tag}/{asset}  302 to /objects/{n}, as GitHub redirects
//   GET  /objects/{n}                       the asset's bytes
//   POST /releases/{owner}/{repo}  {"tag_name", "published_at"?, "assets": {name: text}}
//                                           adds a release (for tests driving the program)
// and GitHub's OAuth web application flow for one OAuth app (client id and secret below):
//   GET  /login/oauth/authorize?client_id&redirect_uri&state[&login=]
//                                           the user "consents" at once: 302 to redirect_uri with
//                                           ?code&state; `login` picks which added user is signed in
//                                           at GitHub (default: the first added)
//   POST /login/oauth/access_token  (form: client_id, client_secret, code, redirect_uri)
//                                           {"access_token","token_type":"bearer","scope"}, or
//                                           {"error":"bad_verification_code",...} with HTTP 200 as
//                                           GitHub answers; codes are single use, 10 minutes
//   GET  /user        (Authorization: Bearer) {"login","id",...}; 401 for an unknown token
//   GET  /user/orgs?per_page&page             [{"login","id",...}] paged
//   POST /oauth/users  {"login","id","orgs":[{"login","id"}]}  adds a GitHub user (for tests
//                                           driving the programs)
#include "fakes/jws_signer.hpp"

#include <easyenclave/error.hpp>
#include <easyenclave/http/server.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

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
  /// The one OAuth app the stand-in knows.
  std::string oauth_client_id = "ee-fake-oauth-client";
  std::string oauth_client_secret = "ee-fake-oauth-secret";
};

/// A GitHub user of the OAuth stand-in.
struct FakeOAuthUser {
  std::string login{};
  std::int64_t id = 0;
  std::vector<std::pair<std::string, std::int64_t>> orgs{};  ///< (login, id)
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

/// A release served by the stand-in; its assets are (name, content).
struct FakeRelease {
  std::string tag_name = "v1.0.0";
  std::string published_at = "2025-01-31T12:00:00Z";
  std::vector<std::pair<std::string, std::string>> assets{};
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
  /// Adds a release of `repository` ("owner/repo"), listed before the ones added earlier.
  /// Thread-safe.
  void add_release(std::string const& repository, FakeRelease release);
  ee::http::Server& server();
  /// Adds a user who can sign in through the OAuth flow. Thread-safe.
  void add_oauth_user(FakeOAuthUser user);
  /// Token exchanges answered (successful or not), for tests that check a refused state never
  /// reached GitHub.
  std::size_t oauth_exchanges() const;

  struct State;

 private:
  explicit FakeGithubIssuer(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace ee::test
