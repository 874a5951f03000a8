#pragma once
/// @file Signing people in with GitHub (OAuth web application flow): the control plane sends the
/// browser to GitHub's authorize page, GitHub sends it back with a code, and the CP exchanges the
/// code for an access token and reads who the user is and which organisations they belong to.
/// The access token is used for those two reads and then dropped: the CP keeps only the login,
/// the ids and its own session.
#include <easyenclave/error.hpp>
#include <easyenclave/http/client.hpp>
#include <easyenclave/registry/types.hpp>

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ee::cp {

/// A GitHub OAuth app (GitHub: Settings, Developer settings, OAuth Apps).
struct GithubOAuthSettings {
  std::string client_id{};
  std::string client_secret{};
  /// The app's callback URL: this CP's https://<host>/auth/github/callback.
  std::string redirect_uri{};
  /// Where the authorize page and the token exchange are (stand-ins in tests).
  std::string web_url = "https://github.com";
  /// GitHub's REST API (/user, /user/orgs).
  std::string api_url = "https://api.github.com";
};

/// Who signed in: the user and the organisations GitHub lists for them (the `read:org` scope
/// lists private memberships too).
struct GithubSignIn {
  registry::GithubAccount user{};
  std::vector<registry::GithubAccount> orgs{};
};

/// The outbound half of the flow. The CP's implementation talks to GitHub over HTTPS; tests run
/// it against the stand-in in tests/fakes/fake_github.
class GithubOAuthClient {
 public:
  virtual ~GithubOAuthClient() = default;
  /// The URL of GitHub's authorize page for `state` (scope read:org).
  virtual std::string authorize_url(std::string_view state) const = 0;
  /// Exchanges the authorization `code` and reads the user and their organisations.
  /// errc::oauth_failed saying which step failed (never the code, secret or access token).
  virtual boost::asio::awaitable<result<GithubSignIn>> sign_in(std::string code) = 0;
};

/// The client for `settings`, sending with `http`.
std::shared_ptr<GithubOAuthClient> make_github_oauth_client(std::shared_ptr<http::Client> http,
                                                            GithubOAuthSettings settings);

// The answers the client reads, parsed strictly (bounded, no I/O; fuzzed in fuzz_github_oauth).

/// The access token of a token-exchange answer ({"access_token", "token_type": "bearer", ...});
/// an answer with "error" is errc::oauth_failed naming GitHub's error code.
result<std::string> parse_github_token_answer(std::string_view body);
/// GET /user: {"login", "id", ...} with the login lowercased.
result<registry::GithubAccount> parse_github_user(std::string_view body);
/// GET /user/orgs: [{"login", "id", ...}], at most 1 000.
result<std::vector<registry::GithubAccount>> parse_github_orgs(std::string_view body);

}  // namespace ee::cp
