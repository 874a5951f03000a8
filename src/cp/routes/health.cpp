// GET /health: liveness plus what an operator checks first: version, uptime, mode, counts, and
// whether this CP itself runs attested (a TDX quote provider that is not the simulator). The
// counts are at most a second old (StatusCounts).
#include "cp/routes/routes.hpp"

#include <easyenclave/version.hpp>

#include "detail/json.hpp"
#include "detail/time.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>

namespace ee::cp {
namespace {

// Everything the body of GET /health is made of; equal inputs give equal bytes.
struct HealthInputs {
  std::int64_t uptime_seconds = 0;
  TimePoint started_at{};
  bool attested = false;
  std::string quote_provider{};
  bool dev = false;
  bool tunnels = false;
  std::size_t agents = 0;
  std::size_t apps = 0;
  std::size_t used_nonces = 0;

  bool operator==(HealthInputs const&) const = default;
};

std::string health_body(HealthInputs const& in) {
  boost::json::object body;
  body["status"] = "ok";
  body["version"] = std::string(ee::version());
  body["uptime_seconds"] = in.uptime_seconds;
  body["started_at"] = detail::format_rfc3339(in.started_at);
  body["attested"] = in.attested;
  body["quote_provider"] = in.quote_provider;
  body["dev"] = in.dev;
  body["tunnels"] = in.tunnels;
  body["agents"] = in.agents;
  body["apps"] = in.apps;
  body["used_nonces"] = in.used_nonces;
  return detail::json::serialize(body);
}

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

  HealthInputs inputs{
      .uptime_seconds = uptime.count(),
      .started_at = s.started_at,
      .attested = s.quote_provider != nullptr && s.quote_provider->name() != "simulator",
      .quote_provider = s.quote_provider ? std::string(s.quote_provider->name()) : std::string(),
      .dev = s.dev,
      .tunnels = s.tunnels != nullptr,
      .agents = counts->agents,
      .apps = counts->apps,
      .used_nonces = counts->used_nonces,
  };
  // Monitors poll this route many times a second and the body changes at most once a second (the
  // uptime, the counts), so each io thread keeps the last body with the inputs it was made from
  // and builds a new one only when an input differs.
  struct Cached {
    HealthInputs inputs{};
    std::string body{};
  };
  thread_local Cached cached;
  if (cached.body.empty() || !(cached.inputs == inputs)) {
    cached.body = health_body(inputs);
    cached.inputs = std::move(inputs);
  }
  co_return http::json_response(boost::beast::http::status::ok, cached.body);
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
