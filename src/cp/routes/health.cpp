// GET /health: liveness plus what an operator checks first: version, uptime, mode, counts, and
// whether this CP itself runs attested (a TDX quote provider that is not the simulator). The
// counts are at most a second old (StatusCounts).
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
  auto counts = s.status_counts.fresh(std::chrono::steady_clock::now());
  if (!counts) {
    auto read = co_await s.store([&s]() -> result<StatusCounts::Counts> {
      auto agents = s.stores.agents->count();
      if (!agents) return agents.error();
      auto apps = s.stores.apps->list();
      if (!apps) return apps.error();
      auto used = s.nonces.used();
      if (!used) return used.error();
      return StatusCounts::Counts{.agents = *agents, .apps = apps->size(), .used_nonces = *used};
    });
    if (!read) co_return read.error();
    s.status_counts.remember(*read, std::chrono::steady_clock::now());
    counts = *read;
  }

  boost::json::object body;
  body["status"] = "ok";
  body["version"] = std::string(ee::version());
  body["uptime_seconds"] = uptime.count();
  body["started_at"] = detail::format_rfc3339(s.started_at);
  body["attested"] = s.quote_provider != nullptr && s.quote_provider->name() != "simulator";
  body["quote_provider"] = s.quote_provider ? std::string(s.quote_provider->name()) : std::string();
  body["dev"] = s.dev;
  body["tunnels"] = s.tunnels != nullptr;
  body["agents"] = counts->agents;
  body["apps"] = counts->apps;
  body["used_nonces"] = counts->used_nonces;
  co_return http::json_response(boost::beast::http::status::ok, detail::json::serialize(body));
}

// GET /metrics: the Prometheus text format (docs/operations.md, "Metrics"). The operator's: the
// counts by route, error code and task tell an outsider what the CP sees. A Prometheus without
// the admin token scrapes Options::metrics_server instead.
boost::asio::awaitable<result<http::Response>> metrics_page(http::RequestContext&, Services& s, Caller const&) {
  co_return co_await render_metrics(s);
}

}  // namespace

void add_health_routes(Routes& routes) {
  routes.add_at(boost::beast::http::verb::get, "/metrics", Access::admin, metrics_page);
  routes.add_at(boost::beast::http::verb::get, "/health", Access::anyone, health);
  routes.add(boost::beast::http::verb::get, "/health", Access::anyone, health);
}

}  // namespace ee::cp
