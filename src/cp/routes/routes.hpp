#pragma once
// The CP's route groups. Each add_*_routes registers free-function handlers that reach the CP's
// state only through `Services`, built once by ControlPlane. Every route is registered twice:
// under /api/v1 (canonical) and under /api (agents of the earlier control plane call those).
#include "cp/services.hpp"

#include <easyenclave/http/router.hpp>

namespace ee::cp {

void add_health_routes(http::Router& router, Services& services);
void add_agent_routes(http::Router& router, Services& services);
void add_app_routes(http::Router& router, Services& services);
void add_deploy_routes(http::Router& router, Services& services);
void add_measurement_routes(http::Router& router, Services& services);
void add_attestation_routes(http::Router& router, Services& services);
void add_owner_routes(http::Router& router, Services& services);

/// The rate-limit class of routes anyone may call without credentials (challenge, register, the
/// public listings, the CP's attestation, health): per client address, `http::ServerOptions::
/// rate_limits` ("anonymous", set by EE_RATE_LIMIT_ANONYMOUS_*). Routes that verify a credential
/// first (signed heartbeats, OIDC, admin token) are not in it.
inline constexpr char kAnonymous[] = "anonymous";

/// Handlers take the request and the services; `route` binds one to both path prefixes, in the
/// rate-limit class `rate_class` (empty: none).
using ServiceHandler = boost::asio::awaitable<result<http::Response>> (*)(http::RequestContext&, Services&);
void route(http::Router& router, boost::beast::http::verb method, std::string const& path_after_api,
           ServiceHandler handler, Services& services, std::string const& rate_class = {});

/// The `limit` (1-10000, absent: all) and `offset` (default 0) query parameters of a listing.
/// ee::errc::invalid_value naming the parameter when either is not a decimal number in range.
struct Page {
  std::optional<std::size_t> limit{};
  std::size_t offset = 0;
};
result<Page> page_of(http::RequestContext const& ctx);

}  // namespace ee::cp
