// Who is calling and whether they may: the request's credential becomes a Principal
// (authenticate), then the route's declared Access is checked against it and its subject
// (authorize). Nothing else in the CP reads a credential.
#include "cp/caller.hpp"
#include "cp/sessions.hpp"

#include <easyenclave/api/agents.hpp>
#include <easyenclave/api/signing.hpp>
#include <easyenclave/cp/error.hpp>

#include "detail/ascii.hpp"
#include "detail/crypto.hpp"
#include "detail/log.hpp"
#include "detail/encoding.hpp"

#include <boost/beast/http/field.hpp>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace ee::cp {
namespace {

namespace asio = boost::asio;

// The credentials of "Authorization: Bearer <token>" (scheme case-insensitive, RFC 7235 s.2.1).
std::optional<std::string_view> bearer_token(http::RequestContext const& ctx) {
  auto const it = ctx.request.find(boost::beast::http::field::authorization);
  if (it == ctx.request.end()) return std::nullopt;
  std::string_view value = it->value();
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != kScheme[i]) return std::nullopt;
  }
  value.remove_prefix(kScheme.size());
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (value.empty()) return std::nullopt;
  return value;
}

bool has_authorization(http::RequestContext const& ctx) {
  return ctx.request.find(boost::beast::http::field::authorization) != ctx.request.end();
}

bool is_signed(http::RequestContext const& ctx) {
  return ctx.request.find(api::kSignatureHeader) != ctx.request.end();
}

// The kinds of principal a rule can ever admit: a credential of another kind is refused before
// it is verified, so, for example, an admin route never runs a JWT verification.
struct Takes {
  bool agent = false;
  bool workflow = false;
  bool admin = false;  ///< the admin token, or an admin session
  /// A person's session with a GitHub account, admin or not, as that account's owner.
  bool owner_session = false;
  /// Any person's session.
  bool person = false;
  bool own_account = false;  ///< the key of the account `{id}`
  bool deployer = false;     ///< the key of a deployer account linked to a GitHub identity

  bool sessions() const noexcept { return admin || owner_session || person; }
  bool account_key() const noexcept { return own_account || deployer; }
};

Takes takes(Access access) {
  switch (access) {
    case Access::anyone: return {};
    case Access::agent_self: return {.agent = true};
    case Access::github_workflow:
    case Access::publisher_of_app: return {.workflow = true};
    case Access::owner_of_agent:
    case Access::github_identity: return {.workflow = true, .owner_session = true};
    case Access::owner_of_agent_or_admin: return {.workflow = true, .admin = true, .owner_session = true};
    case Access::owner_of_token_or_admin: return {.workflow = true, .admin = true};
    case Access::admin: return {.admin = true};
    case Access::person: return {.person = true};
    // Anyone unless creation is admin-only: admit() decides before credentials are read.
    case Access::account_creation: return {.admin = true};
    case Access::account_self: return {.admin = true, .own_account = true};
    case Access::deployer: return {.workflow = true, .deployer = true};
  }
  return {};
}

// What the route takes, for error messages.
std::string wanted(Takes t) {
  if (t.agent) return "a request signed with the agent's attested key (X-EE-Timestamp, X-EE-Signature)";
  if (t.deployer) {
    return "a GitHub Actions OIDC token, or the API key of a deployer account linked to a GitHub identity "
           "(Authorization: Bearer)";
  }
  if (t.own_account) {
    return "the account's own API key, the admin token or an admin session (Authorization: Bearer, or the "
           "ee_session cookie)";
  }
  if (t.person) return "a session (POST /admin/login or GitHub sign-in: Authorization: Bearer or the ee_session cookie)";
  std::vector<std::string_view> kinds;
  if (t.workflow) kinds.emplace_back("a GitHub Actions OIDC token");
  if (t.owner_session) kinds.emplace_back("a GitHub sign-in session");
  if (t.admin) kinds.emplace_back("the admin token or an admin session");
  std::string out;
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    if (i > 0) out += i + 1 == kinds.size() ? " or " : ", ";
    out += kinds[i];
  }
  return out + " (Authorization: Bearer" + (t.sessions() ? ", or the ee_session cookie)" : ")");
}

bool admin_enabled(Services const& s) {
  return !s.options.admin_token.empty() || !s.options.logins.admin_password_hash.empty() ||
         !s.options.logins.admin_github_logins.empty();
}

bool is_safe_method(boost::beast::http::verb method) {
  return method == boost::beast::http::verb::get || method == boost::beast::http::verb::head;
}

// A change authenticated by the session cookie must come from this CP's own pages. SameSite=Lax
// already keeps the cookie off cross-site POSTs in current browsers; this refuses what a browser
// says came from elsewhere (Sec-Fetch-Site, Origin), for browsers that do not, and for sibling
// subdomains, which SameSite counts as the same site.
result<void> check_same_origin(http::RequestContext const& ctx) {
  if (is_safe_method(ctx.request.method())) return {};
  if (auto const site = ctx.request.find("Sec-Fetch-Site"); site != ctx.request.end()) {
    if (site->value() != "same-origin" && site->value() != "none") {
      return Error(errc::cross_site_request, "Sec-Fetch-Site is '" + std::string(site->value()) + "'");
    }
  }
  if (auto const origin = ctx.request.find(boost::beast::http::field::origin); origin != ctx.request.end()) {
    auto const host = ctx.request.find(boost::beast::http::field::host);
    std::string_view o = origin->value();
    auto const scheme_end = o.find("://");
    auto const origin_host = scheme_end == std::string_view::npos ? std::string_view{} : o.substr(scheme_end + 3);
    if (host == ctx.request.end() || origin_host.empty() ||
        detail::ascii_lowercase(origin_host) != detail::ascii_lowercase(host->value())) {
      return Error(errc::cross_site_request, "the Origin is not this control plane's");
    }
  }
  return {};
}

// API keys: "ee_live_" + 32 base62 characters (secrets.hpp). A bearer with this prefix is an API
// key and is never tried as a JWT.
constexpr std::string_view kApiKeyKind = "ee_live_";
constexpr std::size_t kApiKeyLength = kApiKeyKind.size() + kSecretRandomLength;

bool is_api_key(std::string_view token) { return token.starts_with(kApiKeyKind); }

// The account whose key `key` is. Every failure is the same bad_api_key, answered after the same
// work: an unknown prefix runs verify_nothing, a known one with the wrong secret a failing
// verification, so neither the answer nor its time says whether a prefix exists. Logged by the
// prefix, never the key.
asio::awaitable<result<Caller>> authenticate_key(Services& s, std::string_view key) {
  auto const prefix = lookup_prefix(key);
  if (!prefix || key.size() != kApiKeyLength) {
    // The shape alone: no store read, nothing about any account learned.
    co_return Error(errc::bad_api_key, "an API key is ee_live_ and 32 letters and digits");
  }
  // The row, and whether this key was verified against its hash before (a SHA-256, no Argon2id):
  // a key in use costs one trip to the store threads and none to the hashing threads.
  bool verified = false;
  auto account = co_await s.store([&s, &prefix, &key, &verified] {
    auto found = s.stores.accounts->find_by_key_prefix(*prefix);
    if (found) verified = s.verified_keys.remembered(key, found->api_key_hash);
    return found;
  });
  if (!account && account.error() != registry::errc::not_found) co_return account.error();
  if (account && !verified) {
    verified = co_await s.hash([&s, &key, &account] { return s.verified_keys.verify(key, account->api_key_hash); });
  } else if (!account) {
    co_await s.hash([&s] {
      verify_nothing(s.argon2);
      return true;
    });
  }
  if (!verified) {
    detail::log::info("cp", "API key refused: prefix=", *prefix, account ? " (wrong secret)" : " (no such key)");
    co_return Error(errc::bad_api_key, "unknown, rotated or deleted API key");
  }
  account->api_key_hash.clear();
  Caller caller;
  caller.principal = AccountKey{std::move(*account)};
  co_return caller;
}

}  // namespace

asio::awaitable<result<jwt::GithubClaims>> verify_github_token(Services& s, std::string_view token,
                                                                std::string audience) {
  auto header = jwt::peek_header(token);
  if (!header) co_return header.error();
  auto keys = co_await s.github_keys.get_for(header->kid);
  if (!keys) co_return keys.error();
  jwt::GithubOidcOptions options;
  options.audience = std::move(audience);
  options.issuer = s.options.github_issuer;
  co_return jwt::verify_github_oidc(token, *keys, options, s.now());
}

namespace {

asio::awaitable<result<jwt::GithubClaims>> verify_workflow(Services& s, std::string_view token) {
  co_return co_await verify_github_token(s, token, s.options.github_audience);
}

bool is_admin_token(Services const& s, std::string_view token) {
  return !s.options.admin_token.empty() &&
         detail::constant_time_equal(detail::as_bytes(token), detail::as_bytes(s.options.admin_token));
}

}  // namespace

bool StoredSignatures::first_use(std::string_view signature, TimePoint expires_at, TimePoint now) {
  auto first = store_->first_use(std::string(signature), expires_at, now);
  if (!first) {
    detail::log::warn("cp", "replay guard store failed, signature refused: ", first.error().message());
    return false;
  }
  return *first;
}

namespace {

// The agent `{id}`, when the request is signed with its recorded key.
asio::awaitable<result<Caller>> authenticate_agent(Services& s, http::RequestContext const& ctx) {
  auto const id = std::string(ctx.params.get("id"));
  // The lookup and the verification in one trip to the store pool: the replay guard's first_use
  // is a database round trip when replicas share it, and must not block a server thread.
  co_return co_await s.store([&s, &ctx, &id]() -> result<Caller> {
    auto agent = s.stores.agents->get(id);
    if (!agent) return agent.error();
    if (agent->public_key.empty()) {
      return Error(api::errc::signature_invalid, "agent registered without a public key: register again with one");
    }
    auto key = s.agent_keys.get(agent->public_key);
    if (!key) return Error(registry::errc::store_corrupt, "stored public key of agent " + id + " does not parse");
    api::VerifyRequestOptions options;
    options.window = s.timings().signature_window;
    options.replay_guard = &s.replay_guard;
    if (auto r = api::verify_request(ctx.request, *key, s.now(), options); !r) return r.error();
    Caller caller;
    caller.principal = SignedAgent{id};
    caller.agent = std::move(*agent);
    return caller;
  });
}

// The request's credential as a principal, verified. Only kinds the route can admit are
// verified; one it cannot is refused as missing_credentials naming what it takes.
asio::awaitable<result<Caller>> authenticate(Services& s, http::RequestContext const& ctx, Takes t) {
  bool const signed_request = is_signed(ctx);
  if (signed_request && has_authorization(ctx)) {
    co_return Error(errc::missing_credentials, "send one credential, not both Authorization and X-EE-Signature");
  }
  if (signed_request) {
    if (!t.agent) co_return Error(errc::missing_credentials, "this route takes " + wanted(t) + ", not an agent signature");
    co_return co_await authenticate_agent(s, ctx);
  }
  if (has_authorization(ctx)) {
    auto token = bearer_token(ctx);
    if (!token) co_return Error(errc::missing_credentials, "Authorization must be 'Bearer <token>'");
    // Values are named before co_return: see the coroutine rules in docs/architecture.md.
    Caller caller;
    if (is_admin_token(s, *token)) {
      caller.principal = Operator{};
      co_return caller;
    }
    if (token->starts_with(kSessionTokenKind)) {
      if (!t.sessions()) co_return Error(errc::missing_credentials, "this route takes " + wanted(t) + ", not a session");
      auto session = co_await find_session(s, std::string(*token));
      if (!session) co_return session.error();
      caller.principal = Person{.session = std::move(*session), .by_cookie = false};
      co_return caller;
    }
    if (is_api_key(*token)) {
      if (!t.account_key()) co_return Error(errc::missing_credentials, "this route takes " + wanted(t) + ", not an API key");
      co_return co_await authenticate_key(s, *token);
    }
    if (t.workflow) {
      auto claims = co_await verify_workflow(s, *token);
      if (!claims) co_return claims.error();
      caller.principal = Workflow{std::move(*claims)};
      co_return caller;
    }
    if (t.admin) {
      if (!admin_enabled(s)) co_return Error(errc::admin_disabled);
      if (s.options.admin_token.empty()) co_return Error(errc::bad_admin_token, "no admin token is configured; sign in instead");
      co_return Error(errc::bad_admin_token);
    }
    co_return Error(errc::missing_credentials, "this route takes " + wanted(t) + ", not this bearer token");
  }
  // A browser's session rides in its cookie; other credentials in headers win over it, and a
  // route that takes no session never reads it.
  if (t.sessions()) {
    if (auto cookie = cookie_value(ctx.request, kSessionCookie)) {
      if (auto same_origin = check_same_origin(ctx); !same_origin) co_return same_origin.error();
      auto session = co_await find_session(s, std::move(*cookie));
      if (!session) co_return session.error();
      Caller person;
      person.principal = Person{.session = std::move(*session), .by_cookie = true};
      co_return person;
    }
  }
  Caller anonymous;
  co_return anonymous;
}

// Refuses a principal the rule does not admit: no credential is 401 naming what the route takes;
// a valid credential of another kind is 403.
result<void> require_kind(Caller const& caller, Takes t) {
  bool const admitted = std::visit(
      [&t](auto const& p) {
        using P = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<P, SignedAgent>) return t.agent;
        if constexpr (std::is_same_v<P, Workflow>) return t.workflow;
        if constexpr (std::is_same_v<P, Operator>) return t.admin;
        if constexpr (std::is_same_v<P, Person>) {
          return t.person || (t.admin && p.session.admin) || (t.owner_session && !p.session.github_user.login.empty());
        }
        if constexpr (std::is_same_v<P, AccountKey>) {
          // The key of any account may ask for its own account (account_self checks which);
          // deploys take only a deployer account that has proven a GitHub identity.
          return t.own_account || (t.deployer && p.account.type == registry::AccountType::deployer &&
                                   !p.account.github_id.empty());
        }
        return false;
      },
      caller.principal);
  if (admitted) return {};
  if (auto const* key = caller.account_key(); key != nullptr && t.deployer) {
    if (key->type != registry::AccountType::deployer) {
      return Error(errc::principal_not_allowed, "only a deployer account's key may deploy; account '" + key->name +
                                                    "' is a " + std::string(registry::to_string(key->type)) +
                                                    " account");
    }
    return Error(errc::principal_not_allowed, "account '" + key->name +
                                                  "' is not linked to a GitHub identity: link it first "
                                                  "(POST /api/v1/accounts/{id}/identity)");
  }
  if (std::holds_alternative<Anonymous>(caller.principal)) {
    // An agent's route says which header is missing, in the signing scheme's own code.
    if (t.agent) return Error(api::errc::signature_missing, "this route takes " + wanted(t));
    return Error(errc::missing_credentials, "this route takes " + wanted(t));
  }
  return Error(errc::principal_not_allowed, "this route takes " + wanted(t) + "; " + caller.name() + " may not call it");
}

asio::awaitable<result<void>> check_agent_owner(Services& s, http::RequestContext const& ctx, Caller& caller) {
  auto const id = std::string(ctx.params.get("id"));
  auto agent = co_await s.store([&s, &id] { return s.stores.agents->get(id); });
  if (!agent) co_return agent.error();
  // A workflow acts for its repository owner, an owner session for its account and
  // organisations; the operator (admin token or session) for everyone.
  if (!caller.is_operator() && !owns_agent(*agent, caller.owner_accounts())) {
    co_return Error(errc::owner_mismatch, caller.name() + " does not own agent " + agent->id + " (owner '" + agent->owner + "')");
  }
  caller.agent = std::move(*agent);
  co_return result<void>{};
}

asio::awaitable<result<void>> check_app_publisher(Services& s, http::RequestContext const& ctx, Caller& caller) {
  auto const name = std::string(ctx.params.get("name"));
  auto app = co_await s.store([&s, &name] { return s.stores.apps->get(name); });
  if (!app) co_return app.error();
  auto const& claims = *caller.workflow();
  if (detail::ascii_lowercase(claims.repository_owner) != app->owner) {
    co_return Error(errc::owner_mismatch, "repository_owner '" + claims.repository_owner + "' cannot add versions to app '" +
                                              name + "' (owner '" + app->owner + "')");
  }
  // The login alone is not enough: a deleted organisation's name can be registered again by
  // anyone, and the new one must inherit nothing. The numeric id does not come back.
  if (!app->owner_id.empty() && claims.repository_owner_id != app->owner_id) {
    co_return Error(errc::owner_mismatch, "app '" + name + "' was published by GitHub account id " + app->owner_id +
                                              "; this token's repository_owner_id is '" + claims.repository_owner_id +
                                              "' (a renamed or re-created owner inherits nothing)");
  }
  caller.app = std::move(*app);
  co_return result<void>{};
}

// Another owner's token is not_found, exactly like an unknown one, so ids cannot be probed. The
// operator may name any id; whether it exists is for the operation to find.
asio::awaitable<result<void>> check_token_owner(Services& s, http::RequestContext const& ctx, Caller& caller) {
  auto const id = std::string(ctx.params.get("id"));
  registry::BootstrapToken token;  // named: see the coroutine rules in docs/architecture.md
  token.id = id;
  if (auto const* claims = caller.workflow()) {
    auto tokens = co_await s.store(
        [&s, &owner_id = claims->repository_owner_id] { return s.stores.bootstrap_tokens->list_by_owner_id(owner_id); });
    if (!tokens) co_return tokens.error();
    auto const found = std::find_if(tokens->begin(), tokens->end(), [&id](auto const& t) { return t.id == id; });
    if (found == tokens->end()) co_return Error(registry::errc::not_found, "no bootstrap token '" + id + "' of this owner");
    token = *found;
  }
  caller.token = std::move(token);
  co_return result<void>{};
}

// The key's own account, or any account for the operator. Another account's id is not_found,
// exactly like an unknown one, so account ids cannot be probed with a key.
asio::awaitable<result<void>> check_account_self(Services& s, http::RequestContext const& ctx, Caller& caller) {
  auto const id = std::string(ctx.params.get("id"));
  if (auto const* key = caller.account_key()) {
    if (key->id != id) co_return Error(registry::errc::not_found, "no account with id '" + id + "'");
    caller.account = *key;
    co_return result<void>{};
  }
  auto account = co_await s.store([&s, &id] { return s.stores.accounts->get(id); });
  if (!account) co_return account.error();
  caller.account = std::move(*account);
  co_return result<void>{};
}

}  // namespace

std::string_view to_string(Access access) noexcept {
  switch (access) {
    case Access::anyone: return "anyone";
    case Access::agent_self: return "agent_self";
    case Access::github_workflow: return "github_workflow";
    case Access::owner_of_agent: return "owner_of_agent";
    case Access::publisher_of_app: return "publisher_of_app";
    case Access::owner_of_agent_or_admin: return "owner_of_agent_or_admin";
    case Access::owner_of_token_or_admin: return "owner_of_token_or_admin";
    case Access::admin: return "admin";
    case Access::github_identity: return "github_identity";
    case Access::person: return "person";
    case Access::account_creation: return "account_creation";
    case Access::account_self: return "account_self";
    case Access::deployer: return "deployer";
  }
  return "unknown";
}

std::optional<Access> access_from_string(std::string_view name) noexcept {
  for (auto a : {Access::anyone, Access::agent_self, Access::github_workflow, Access::owner_of_agent,
                 Access::publisher_of_app, Access::owner_of_agent_or_admin, Access::owner_of_token_or_admin,
                 Access::admin, Access::github_identity, Access::person, Access::account_creation,
                 Access::account_self, Access::deployer}) {
    if (to_string(a) == name) return a;
  }
  return std::nullopt;
}

bool needs_subject(Access access) noexcept {
  switch (access) {
    case Access::agent_self:
    case Access::owner_of_agent:
    case Access::publisher_of_app:
    case Access::owner_of_agent_or_admin:
    case Access::owner_of_token_or_admin:
    case Access::account_self: return true;
    case Access::anyone:
    case Access::github_workflow:
    case Access::admin:
    case Access::github_identity:
    case Access::person: return false;
    case Access::account_creation:
    case Access::deployer: return false;
  }
  return false;
}

jwt::GithubClaims const* Caller::workflow() const noexcept {
  auto const* w = std::get_if<Workflow>(&principal);
  return w != nullptr ? &w->claims : nullptr;
}

registry::Account const* Caller::account_key() const noexcept {
  auto const* k = std::get_if<AccountKey>(&principal);
  return k != nullptr ? &k->account : nullptr;
}

jwt::GithubClaims Caller::deploying_as() const {
  if (auto const* claims = workflow()) return *claims;
  auto const* key = account_key();
  if (key == nullptr || key->type != registry::AccountType::deployer || key->github_id.empty()) {
    throw std::logic_error("deploy handler reached by " + name());
  }
  jwt::GithubClaims as;
  as.repository_owner = key->github_login;
  as.repository_owner_id = key->github_id;
  as.repository = "account:" + key->name;
  return as;
}

jwt::GithubClaims const& Caller::claims() const {
  auto const* claims = workflow();
  if (claims == nullptr) throw std::logic_error("route handler for workflows reached by " + name());
  return *claims;
}

std::string Caller::name() const {
  return std::visit(
      [](auto const& p) -> std::string {
        using P = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<P, SignedAgent>) return "agent " + p.agent_id;
        if constexpr (std::is_same_v<P, Workflow>) return p.claims.repository;
        if constexpr (std::is_same_v<P, Operator>) return "admin";
        if constexpr (std::is_same_v<P, Person>) {
          if (p.session.github_user.login.empty()) return "admin (password session)";
          return "github:" + p.session.github_user.login + (p.session.admin ? " (admin)" : "");
        }
        if constexpr (std::is_same_v<P, AccountKey>) return "account " + p.account.name;
        return "anonymous";
      },
      principal);
}

bool Caller::is_operator() const noexcept {
  if (std::holds_alternative<Operator>(principal)) return true;
  auto const* person = std::get_if<Person>(&principal);
  return person != nullptr && person->session.admin;
}

std::vector<registry::GithubAccount> Caller::owner_accounts() const {
  std::vector<registry::GithubAccount> accounts;
  if (auto const* claims = workflow()) {
    accounts.push_back({.login = detail::ascii_lowercase(claims->repository_owner), .id = claims->repository_owner_id});
  } else if (auto const* person = std::get_if<Person>(&principal); person != nullptr && !person->session.github_user.login.empty()) {
    accounts.push_back(person->session.github_user);
    accounts.insert(accounts.end(), person->session.github_orgs.begin(), person->session.github_orgs.end());
  }
  return accounts;
}

asio::awaitable<result<Caller>> admit(Services& s, http::RequestContext const& ctx, Access access) {
  if (access == Access::anyone) {
    Caller anonymous;
    co_return anonymous;
  }
  if (access == Access::account_creation && !s.accounts_admin_only) {
    // Open to anyone; the admin token alone is recognised (only the operator makes launcher
    // accounts). Any other credential is ignored, as on an open route.
    Caller caller;
    if (auto token = bearer_token(ctx); token && is_admin_token(s, *token)) caller.principal = Operator{};
    co_return caller;
  }
  auto const t = takes(access);
  // Checked first, as the answer does not depend on who asks.
  if ((access == Access::admin || access == Access::account_creation) && !admin_enabled(s)) {
    co_return Error(errc::admin_disabled);
  }
  auto caller = co_await authenticate(s, ctx, t);
  if (!caller) co_return caller.error();
  if (auto r = require_kind(*caller, t); !r) co_return r.error();
  switch (access) {
    case Access::owner_of_agent:
    case Access::owner_of_agent_or_admin:
      if (auto r = co_await check_agent_owner(s, ctx, *caller); !r) co_return r.error();
      break;
    case Access::publisher_of_app:
      if (auto r = co_await check_app_publisher(s, ctx, *caller); !r) co_return r.error();
      break;
    case Access::owner_of_token_or_admin:
      if (auto r = co_await check_token_owner(s, ctx, *caller); !r) co_return r.error();
      break;
    case Access::account_self:
      if (auto r = co_await check_account_self(s, ctx, *caller); !r) co_return r.error();
      break;
    case Access::account_creation:  // admin-only here (anyone returned above)
    case Access::deployer:          // the kind check above; the operation checks the owner
    case Access::anyone:
    case Access::agent_self:  // the signature was checked against the agent's own key
    case Access::github_workflow:
    case Access::admin:
    case Access::github_identity:  // the operation shows only what the identity owns
    case Access::person: break;
  }
  co_return caller;
}

bool owns_agent(registry::AgentRecord const& agent, jwt::GithubClaims const& claims) {
  return owns_agent(agent, {{.login = detail::ascii_lowercase(claims.repository_owner), .id = claims.repository_owner_id}});
}

bool owns_agent(registry::AgentRecord const& agent, std::vector<registry::GithubAccount> const& accounts) {
  auto const login = api::owner_login(agent.owner);
  if (login.empty()) return false;
  return std::any_of(accounts.begin(), accounts.end(), [&](registry::GithubAccount const& a) {
    return a.login == login && (agent.owner_id.empty() || agent.owner_id == a.id);
  });
}

}  // namespace ee::cp
