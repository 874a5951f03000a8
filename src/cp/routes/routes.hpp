#pragma once
// The CP's route groups. Each add_*_routes registers free-function handlers that reach the CP's
// state only through `Services`, built once by ControlPlane, each with the Access that says who
// may call it. Every route is registered twice: under /api/v1 (canonical) and under /api (agents
// of the earlier control plane call those).
#include "cp/caller.hpp"
#include "cp/services.hpp"

#include <easyenclave/cp/access.hpp>
#include <easyenclave/http/router.hpp>

#include <vector>

namespace ee::cp {

/// The rate-limit class of routes anyone may call without credentials (challenge, register, the
/// public listings, the CP's attestation, health): per client address, `http::ServerOptions::
/// rate_limits` ("anonymous", set by EE_RATE_LIMIT_ANONYMOUS_*). Routes that verify a credential
/// first (signed heartbeats, OIDC, admin token) are not in it.
inline constexpr char kAnonymous[] = "anonymous";
/// The rate-limit class of the sign-in routes (POST /admin/login, GET /auth/github and its
/// callback): per client address, much tighter than "anonymous", as each attempt costs an
/// Argon2id run or a round trip to GitHub and a password is worth guessing
/// (EE_RATE_LIMIT_SIGN_IN_*).
inline constexpr char kSignIn[] = "sign_in";
/// The rate-limit class of account creation (Access::account_creation), per client address and
/// stricter than "anonymous": accounts are rows anyone could otherwise add without bound
/// (EE_RATE_LIMIT_ACCOUNT_CREATION_*). `ControlPlane::start` defines it when the options do not.
inline constexpr char kAccountCreation[] = "account_creation";

/// Handlers take the request, the services and the caller `admit` let in.
using ServiceHandler = boost::asio::awaitable<result<http::Response>> (*)(http::RequestContext&, Services&,
                                                                          Caller const&);

/// The CP's routes while they are being registered: the router, and the table of who may call
/// what (ControlPlane::routes(), the authorization tests, docs/openapi.json's x-ee-access).
class Routes {
 public:
  explicit Routes(Services& services) : services_(services) {}

  /// Binds `handler` to /api/v1`path_after_api` and /api`path_after_api`, behind `access`: the
  /// request is admitted (cp/caller.hpp) before the handler runs. Routes open to anyone are in
  /// the anonymous rate-limit class.
  void add(boost::beast::http::verb method, std::string const& path_after_api, Access access, ServiceHandler handler);
  /// The same at exactly `pattern` (the root /health). `rate_class` overrides the class the
  /// access rule implies (kSignIn).
  void add_at(boost::beast::http::verb method, std::string const& pattern, Access access, ServiceHandler handler,
              std::string rate_class = {});
  /// A route with a handler of its own at its full pattern, behind `access`: an embedder's
  /// (Options::extra_routes) or one of the console's files.
  void add_extra(ExtraRoute route);

  http::Router& router() noexcept { return router_; }
  std::vector<RouteInfo> const& table() const noexcept { return table_; }
  /// The first route whose rule needs a `{id}` or `{name}` its pattern lacks, as
  /// http::errc::invalid_route; success if none.
  result<void> check() const;

 private:
  void record(boost::beast::http::verb method, std::string const& pattern, Access access);

  Services& services_;
  http::Router router_;
  std::vector<RouteInfo> table_;
  std::string first_error_{};
};

void add_health_routes(Routes& routes);
void add_agent_routes(Routes& routes);
void add_app_routes(Routes& routes);
void add_deploy_routes(Routes& routes);
void add_measurement_routes(Routes& routes);
void add_attestation_routes(Routes& routes);
void add_owner_routes(Routes& routes);
void add_settings_routes(Routes& routes);
/// Sign-in and sessions: /admin/login, /admin/logout, /auth/methods, /auth/me, /auth/github and
/// its callback (routes/logins.cpp).
void add_login_routes(Routes& routes);
/// The owner's own agents and deployments, /api/v1/me/... (routes/me.cpp).
void add_me_routes(Routes& routes);
void add_account_routes(Routes& routes);
/// The web console's files (src/cp/console.hpp), each at its fixed path, open to anyone.
void add_console_routes(Routes& routes);

/// The `limit` (1-10000, absent: all) and `offset` (default 0) query parameters of a listing.
/// ee::errc::invalid_value naming the parameter when either is not a decimal number in range.
struct Page {
  std::optional<std::size_t> limit{};
  std::size_t offset = 0;
};
result<Page> page_of(http::RequestContext const& ctx);

}  // namespace ee::cp
