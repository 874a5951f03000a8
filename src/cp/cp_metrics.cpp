#include "cp/cp_metrics.hpp"

#include "cp/services.hpp"
#include "detail/log.hpp"

#include <easyenclave/registry/types.hpp>

#include <array>
#include <map>

namespace ee::cp {
namespace {

constexpr std::array<std::string_view, 4> kAgentStatuses = {"unverified", "down", "deployed", "idle"};
constexpr std::array<registry::DeploymentStatus, 4> kActiveDeploymentStatuses = {
    registry::DeploymentStatus::queued, registry::DeploymentStatus::pending, registry::DeploymentStatus::deploying,
    registry::DeploymentStatus::running};

struct GaugeCounts {
  std::map<std::string_view, std::size_t> agents{};
  std::map<registry::DeploymentStatus, std::size_t> deployments{};
};

result<GaugeCounts> read_gauge_counts(Services& s) {
  GaugeCounts counts;
  auto agents = s.stores.agents->list();
  if (!agents) return agents.error();
  for (auto const& agent : *agents) ++counts.agents[registry::agent_status(agent)];
  for (auto status : kActiveDeploymentStatuses) {
    registry::DeploymentFilter filter;
    filter.status = status;
    auto listed = s.stores.deployments->list(filter);
    if (!listed) return listed.error();
    counts.deployments[status] = listed->size();
  }
  return counts;
}

}  // namespace

CpMetrics::CpMetrics(metrics::Registry& r)
    : registry(r),
      registrations(r.counter("ee_cp_registrations_total", "Agent registrations, by outcome (ok or the error code)",
                              {"outcome"})),
      attestations(r.counter("ee_cp_attestations_total",
                             "Attestation evidence judged at registration and re-attestation, by the kind of "
                             "evidence (quote, ita_token, none) and outcome",
                             {"evidence", "outcome"})),
      heartbeats(r.counter("ee_cp_heartbeats_total", "Agent heartbeats, by outcome", {"outcome"})),
      tunnel_operations(r.counter("ee_cp_tunnel_operations_total",
                                  "Cloudflare tunnel operations (ensure, remove), by outcome", {"operation", "outcome"})),
      deployment_changes(r.counter("ee_cp_deployment_status_changes_total",
                                   "Deployments moved into each status", {"status"})),
      task_runs(r.counter("ee_cp_task_runs_total",
                          "Background passes, by task and outcome (skipped: another process holds its lease)",
                          {"task", "outcome"})),
      task_durations(r.histogram("ee_cp_task_duration_seconds", "Duration of the background passes run, in seconds",
                                 {"task"}, metrics::duration_buckets())),
      agents(r.gauge("ee_cp_agents", "Registered agents, by status (unverified, down, deployed, idle)", {"status"})),
      deployments(r.gauge("ee_cp_deployments", "Deployments in an active status (queued, pending, deploying, running)",
                          {"status"})) {}

bool CpMetrics::gauges_fresh(std::chrono::steady_clock::time_point now) {
  std::lock_guard const lock(mutex_);
  return gauges_read_at_ && now - *gauges_read_at_ < kGaugeLifetime;
}

void CpMetrics::gauges_read(std::chrono::steady_clock::time_point now) {
  std::lock_guard const lock(mutex_);
  gauges_read_at_ = now;
}


boost::asio::awaitable<http::Response> render_metrics(Services& s) {
  auto const now = std::chrono::steady_clock::now();
  if (!s.metrics.gauges_fresh(now)) {
    auto counts = co_await s.store([&s] { return read_gauge_counts(s); });
    if (counts) {
      for (auto status : kAgentStatuses) s.metrics.agents.with({status}).set(static_cast<double>(counts->agents[status]));
      for (auto status : kActiveDeploymentStatuses) {
        s.metrics.deployments.with({registry::to_string(status)}).set(static_cast<double>(counts->deployments[status]));
      }
      s.metrics.gauges_read(now);
    } else {
      detail::log::warn("cp", "metrics: agent and deployment counts not read: ", counts.error().message());
    }
  }
  http::Response response{boost::beast::http::status::ok, 11};
  response.set(boost::beast::http::field::content_type,
               std::string(metrics::kContentType.data(), metrics::kContentType.size()));
  response.set(boost::beast::http::field::cache_control, "no-store");
  response.body() = s.metrics.registry.render();
  response.prepare_payload();
  co_return response;
}

http::Router metrics_router(Services& s) {
  http::Router router;
  router.get("/metrics", [&s](http::RequestContext&) -> boost::asio::awaitable<result<http::Response>> {
    co_return co_await render_metrics(s);
  });
  return router;
}

}  // namespace ee::cp
