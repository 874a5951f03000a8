// GET /health: liveness plus what an operator checks first: version, uptime, mode, counts, and
// whether this CP itself runs attested (a TDX quote provider that is not the simulator).
#include "cp/routes/routes.hpp"

#include <easyenclave/version.hpp>

#include "detail/json.hpp"
#include "detail/time.hpp"

#include <boost/json/object.hpp>

namespace ee::cp {
namespace {

boost::asio::awaitable<result<http::Response>> health(http::RequestContext&, Services& s, Caller const&) {
  auto const now = s.now();
  auto const uptime = std::chrono::duration_cast<std::chrono::seconds>(now - s.started_at);
  auto counts = co_await s.store([&s]() -> result<std::pair<std::size_t, std::size_t>> {
    auto agents = s.stores.agents->count();
    if (!agents) return agents.error();
    auto apps = s.stores.apps->list();
    if (!apps) return apps.error();
    return std::pair{*agents, apps->size()};
  });
  if (!counts) co_return counts.error();

  boost::json::object body;
  body["status"] = "ok";
  body["version"] = std::string(ee::version());
  body["uptime_seconds"] = uptime.count();
  body["started_at"] = detail::format_rfc3339(s.started_at);
  body["attested"] = s.quote_provider != nullptr && s.quote_provider->name() != "simulator";
  body["quote_provider"] = s.quote_provider ? std::string(s.quote_provider->name()) : std::string();
  body["dev"] = s.dev;
  body["tunnels"] = s.tunnels != nullptr;
  body["agents"] = counts->first;
  body["apps"] = counts->second;
  auto used = s.nonces.used();
  if (!used) co_return used.error();
  body["used_nonces"] = *used;
  co_return http::json_response(boost::beast::http::status::ok, detail::json::serialize(body));
}

}  // namespace

void add_health_routes(Routes& routes) {
  routes.add_at(boost::beast::http::verb::get, "/health", Access::anyone, health);
  routes.add(boost::beast::http::verb::get, "/health", Access::anyone, health);
}

}  // namespace ee::cp
