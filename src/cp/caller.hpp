#pragma once
// Who is calling a route, and the one place that decides whether they may (auth.cpp). Routes
// declare an Access where they are registered (routes/route.cpp); `admit` runs before the
// handler, which gets the Caller it produced.
#include "cp/services.hpp"

#include <easyenclave/cp/access.hpp>

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace ee::cp {

/// No credential was presented (or the route reads none: Access::anyone).
struct Anonymous {};
/// A request signed with the attested key of the agent named by the route's `{id}`.
struct SignedAgent {
  std::string agent_id{};
};
/// A GitHub Actions workflow, by its verified OIDC token.
struct Workflow {
  jwt::GithubClaims claims{};
};
/// The operator, by the admin bearer token.
struct Operator {};
/// A person signed in (POST /admin/login, GitHub OAuth), by a session token in a bearer header or
/// the session cookie. An admin session is the operator; any session with a GitHub account acts
/// for that account and its organisations on owner routes.
struct Person {
  registry::LoginSession session{};
  bool by_cookie = false;
};
/// An account, by its API key (Authorization: Bearer ee_live_...), verified against the stored
/// Argon2id hash. `account.api_key_hash` is cleared. A `launcher` account's key is the launcher
/// principal of the capacity worker API (no route admits it yet).
struct AccountKey {
  registry::Account account{};
};

/// An authenticated caller. New ways in are new alternatives here and new cases in auth.cpp;
/// handlers do not change.
using Principal = std::variant<Anonymous, SignedAgent, Workflow, Operator, Person, AccountKey>;

/// What a handler learns from `admit`: the principal and the subject its route's rule was checked
/// against, read once for that check so the handler does not read it again.
struct Caller {
  Principal principal{};
  /// The agent `{id}` (agent_self, owner_of_agent, owner_of_agent_or_admin).
  std::optional<registry::AgentRecord> agent{};
  /// The app `{name}` (publisher_of_app).
  std::optional<registry::App> app{};
  /// The bootstrap token `{id}` (owner_of_token_or_admin; for the operator only its id is known).
  std::optional<registry::BootstrapToken> token{};
  /// The account `{id}` (account_self), read from the store.
  std::optional<registry::Account> account{};

  /// The workflow's claims, or null for any other principal.
  jwt::GithubClaims const* workflow() const noexcept;
  /// The workflow's claims, for handlers whose rule admits only workflows. Throws
  /// std::logic_error otherwise (a route declared with the wrong rule: the server answers 500
  /// instead of acting for someone else); so do `agent.value()` and friends for their subjects.
  jwt::GithubClaims const& claims() const;
  /// The admin token or an admin session.
  bool is_operator() const noexcept;
  /// The GitHub accounts the caller acts for as an owner: a workflow's repository owner, a
  /// person's account and organisations. Empty for everyone else (the admin token, a password
  /// session, agents, account keys).
  std::vector<registry::GithubAccount> owner_accounts() const;
  /// The account whose API key made the request, or null for any other principal.
  registry::Account const* account_key() const noexcept;
  /// Who a deploy acts for: the workflow's claims, or, for a deployer key, the GitHub identity its
  /// account is linked to (repository_owner and repository_owner_id are the linked login and id,
  /// repository is "account:<name>", for requested_by). Throws std::logic_error for any other
  /// principal (a route declared with the wrong rule).
  jwt::GithubClaims deploying_as() const;
  /// For logs and audit fields: "admin", the workflow's repository, "agent <id>", "anonymous".
  std::string name() const;
};

/// Authenticates the request and checks `access`, reading the rule's subject. The errors say what
/// credential the route takes: cp::errc::missing_credentials (none, or one of a kind the route
/// does not take), bad_admin_token, admin_disabled, principal_not_allowed (a valid credential of
/// the wrong kind), owner_mismatch; the jwt and api::errc signature errors; registry::errc::
/// not_found for an unknown subject (and for another owner's bootstrap token).
boost::asio::awaitable<result<Caller>> admit(Services& services, http::RequestContext const& ctx, Access access);

/// Verifies a GitHub Actions OIDC token against the CP's issuer and key set, for `audience`.
/// The jwt errors; upstream failures of the key set.
boost::asio::awaitable<result<jwt::GithubClaims>> verify_github_token(Services& services, std::string_view token,
                                                                      std::string audience);

/// The caller owns the agent: its owner label matches, and, when the agent's owner was proven
/// (owner_id known), the token's repository_owner_id is that id.
bool owns_agent(registry::AgentRecord const& agent, jwt::GithubClaims const& claims);
/// The same for any of `accounts`: the owner label's login is one of them, with that account's id
/// when the owner was proven.
bool owns_agent(registry::AgentRecord const& agent, std::vector<registry::GithubAccount> const& accounts);

}  // namespace ee::cp
