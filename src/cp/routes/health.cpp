// GET /health: liveness plus what an operator checks first (version, uptime, mode).
#include "cp/routes/routes.hpp"

#include <easyenclave/version.hpp>

#include "detail/time.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace ee::cp {
namespace {

boost::asio::awaitable<result<http::Response>> health(http::RequestContext&, Services const& services) {
  auto const uptime = std::chrono::duration_cast<std::chrono::seconds>(services.now() - services.started_at);
  boost::json::object body;
  body["status"] = "ok";
  body["version"] = std::string(ee::version());
  body["uptime_seconds"] = uptime.count();
  body["started_at"] = detail::format_rfc3339(services.started_at);
  body["attested"] = false;
  body["dev"] = services.dev;
  co_return http::json_response(boost::beast::http::status::ok, boost::json::serialize(body));
}

}  // namespace

void add_health_routes(http::Router& router, Services const& services) {
  // A plain lambda returning the coroutine: the coroutine gets `services` by reference (it lives in
  // ControlPlane::Impl) and never refers to the lambda object itself.
  router.get("/health", [&services](http::RequestContext& ctx) { return health(ctx, services); });
}

}  // namespace ee::cp
