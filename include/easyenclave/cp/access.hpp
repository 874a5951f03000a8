#pragma once
/// @file Who may call a control-plane route. Every route declares one `Access` where it is
/// registered; the CP authenticates the request into a principal and checks the rule before the
/// handler runs, so no handler checks credentials itself (docs/api.md, "Who may call what").
#include <ostream>  // before Beast's verb.hpp, which uses std::ostream without including it

#include <boost/beast/http/verb.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace ee::cp {

/// The access rule of a route. The principals are: anonymous (no credential), an agent (a request
/// signed with the key its attestation bound, X-EE-Signature), a GitHub Actions workflow (an OIDC
/// bearer token), an account (its API key, a bearer `ee_live_...`; a `launcher` account's key is
/// the launcher principal, which no route admits yet), the operator (the admin bearer token, or an
/// admin session) and a person signed in with GitHub (an owner session: its account and
/// organisations).
enum class Access {
  /// Anyone; credentials are not read. Such routes are in the "anonymous" rate-limit class.
  anyone,
  /// The agent named by the route's `{id}`, by a request signed with its attested key.
  agent_self,
  /// Any GitHub Actions workflow; what it may touch follows from its claims in the operation
  /// (publish only its own repository, deploy only to agents of its owner, its owner's tokens).
  github_workflow,
  /// A workflow of the owner of the agent `{id}` (owner login and, once proven, owner id).
  owner_of_agent,
  /// A workflow of the owner of the app `{name}` (owner login and owner id).
  publisher_of_app,
  /// owner_of_agent, or the operator. Owner sessions are owners here too.
  owner_of_agent_or_admin,
  /// A workflow of the owner of the bootstrap token `{id}`, or the operator. Another owner's
  /// token is answered as not found, so token ids cannot be probed.
  owner_of_token_or_admin,
  /// The operator (admin token or admin session). With neither an admin token nor an admin login
  /// configured: 403 cp.admin_disabled.
  admin,
  /// Anyone with a GitHub identity: a workflow (its repository owner) or a person's session with
  /// a GitHub account (their account and organisations). The owner self-service routes
  /// (/api/v1/me/...) show only what that identity owns; another owner's agent is not found.
  github_identity,
  /// Any signed-in person (a session of either kind): GET /auth/me, POST /admin/logout.
  person,
  /// Anyone (the admin token is recognised, any other credential ignored); only the operator
  /// when the CP makes account creation admin-only (`accounts_admin_only`). In the
  /// "account_creation" rate-limit class.
  account_creation,
  /// The account `{id}` by its own API key, or the operator. Another account's id is answered as
  /// not found, so account ids cannot be probed.
  account_self,
  /// Any GitHub Actions workflow, or the API key of a `deployer` account linked to a GitHub
  /// identity; the operation lets either act only for the owner it is (deploy only to agents of
  /// that owner login and, once proven, owner id).
  deployer,
};

/// The rule's name as docs/openapi.json's `x-ee-access` carries it ("anyone", "agent_self", ...).
std::string_view to_string(Access access) noexcept;
/// The rule named `name`, or nullopt.
std::optional<Access> access_from_string(std::string_view name) noexcept;

/// True when the rule reads a route parameter (`{id}` or `{name}`) to find its subject; such rules
/// cannot guard a route without that parameter (`ControlPlane::start` refuses the table).
bool needs_subject(Access access) noexcept;

/// One route the control plane serves.
struct RouteInfo {
  boost::beast::http::verb method{};
  std::string pattern{};  ///< "/api/v1/agents/{id}/heartbeat"
  Access access = Access::anyone;
};

}  // namespace ee::cp
