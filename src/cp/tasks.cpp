// The CP's background work: nonce expiry, stale agents, stuck deployments, health scraping.
// Each pass is a coroutine that ControlPlane runs on its interval and tests run directly.
#include "cp/deployments.hpp"

#include <easyenclave/cp/error.hpp>

#include "detail/log.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/http/verb.hpp>

#include <atomic>
#include <set>

namespace ee::cp {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

// Two answers in a row bring an agent up, three misses take it down.
constexpr registry::HealthHysteresis kHysteresis{.up_after = 2, .down_after = 3};

// The agent API's own answer (api::AgentHealth) with status "ok". Anything else that answers
// 2xx (a captive page, another service at that address) is not the agent.
bool is_agent_health(std::string_view body) {
  auto health = api::parse_agent_health(body);
  return health && health->status == "ok";
}

asio::awaitable<void> scrape_one(Services& s, registry::AgentRecord const& agent) {
  auto base = agent_base_url(s, agent);
  if (!base) co_return;
  http::Request request{bhttp::verb::get, *base + "/api/health", 11};
  request.set(bhttp::field::user_agent, "ee-cp");
  http::RequestOptions options;
  options.timeout = s.options.timings.agent_call_timeout;
  auto response = co_await s.http->send(std::move(request), options);
  bool const healthy = response && response->result_int() >= 200 && response->result_int() < 300 &&
                       is_agent_health(response->body());
  // Counted in the store: the hysteresis outlives this process and the lease holder.
  auto health = co_await s.store(
      [&s, &id = agent.id, healthy] { return s.stores.agents->observe_health(id, healthy, kHysteresis); });
  if (health && *health != agent.health) {
    detail::log::info("cp", "agent health id=", agent.id, " health=", registry::to_string(*health));
  }
}

asio::awaitable<void> scrape_worker(Services& s, std::vector<registry::AgentRecord> const& agents,
                                    std::atomic<std::size_t>& next) {
  for (auto i = next++; i < agents.size(); i = next++) co_await scrape_one(s, agents[i]);
}

}  // namespace

asio::awaitable<result<void>> remove_agent(Services& s, registry::AgentRecord const& agent, std::string reason) {
  if (s.tunnels && !agent.tunnel_id.empty()) {
    cloudflare::Tunnel tunnel;
    tunnel.id = agent.tunnel_id;
    tunnel.hostname = agent.hostname;
    tunnel.dns_record_id = agent.dns_record_id;
    auto removed_tunnel = co_await s.tunnels->remove(tunnel);
    s.metrics.tunnel_operations.with({"remove", outcome_of(removed_tunnel)}).inc();
    if (!removed_tunnel) co_return removed_tunnel.error().with_context("tunnel of agent " + agent.id);
  }
  auto const now = s.now();
  auto removed = co_await s.store([&s, &agent, &reason, &now]() -> result<void> {
    if (!agent.deployment_id.empty()) {
      auto d = s.stores.deployments->get(agent.deployment_id);
      if (!d && d.error() != registry::errc::not_found) return d.error();
      if (d) {
        if (auto r = apply_event(*s.stores.deployments, *d, DeploymentEvent::agent_removed, reason, now); !r) return r.error();
      }
    }
    return s.stores.agents->remove(agent.id);
  });
  if (!removed) co_return removed.error();
  detail::log::info("cp", "agent removed id=", agent.id, " vm_name=", agent.vm_name, " reason=", reason);
  co_return result<void>{};
}

asio::awaitable<result<MaintenanceReport>> run_maintenance_pass(Services& s) {
  MaintenanceReport report;
  auto const now = s.now();
  if (auto purged = co_await s.store([&s, &now] { return s.nonces.purge(now); }); !purged) {
    detail::log::warn("cp", "purging spent nonces failed: ", purged.error().message());
  } else {
    report.nonces_purged = *purged;
  }
  // The replay guard's signatures, once outside the window nobody can replay them in: a store
  // shared by replicas would otherwise keep every signature it ever accepted.
  if (auto purged = co_await s.store([&s, &now] { return s.stores.replays->purge(now); }); !purged) {
    detail::log::warn("cp", "purging accepted request signatures failed: ", purged.error().message());
  } else {
    report.signatures_purged = *purged;
  }
  if (auto purged = co_await s.store([&s, &now] { return s.stores.bootstrap_tokens->purge(now); }); !purged) {
    detail::log::warn("cp", "purging bootstrap tokens failed: ", purged.error().message());
  } else {
    report.bootstrap_tokens_purged = *purged;
  }
  // Expired sessions are refused already (find_by_prefix skips them); this keeps the table small.
  if (auto purged = co_await s.store([&s, &now] { return s.stores.sessions->purge(now); }); !purged) {
    detail::log::warn("cp", "purging expired sessions failed: ", purged.error().message());
  } else {
    report.sessions_purged = *purged;
  }

  registry::AgentFilter stale;
  stale.heartbeat_before = now - s.timings().agent_stale_after;
  auto agents = co_await s.store([&s, &stale] { return s.stores.agents->list(stale); });
  if (!agents) co_return agents.error();
  for (auto const& agent : *agents) {
    auto const silent = std::chrono::duration_cast<std::chrono::hours>(now - agent.last_heartbeat_at).count();
    if (auto r = co_await remove_agent(s, agent, "no heartbeat for " + std::to_string(silent) + " h"); !r) {
      // One agent's tunnel failing to delete must not keep the others around; it is retried next pass.
      detail::log::warn("cp", "stale agent not removed id=", agent.id, " error=", r.error().message());
      continue;
    }
    ++report.agents_removed;
  }

  auto const timeout = s.timings().deploy_timeout;
  auto stuck = co_await s.store([&s, cutoff = now - timeout, &now, &timeout]() -> result<std::size_t> {
    std::size_t failed = 0;
    for (auto status : {registry::DeploymentStatus::pending, registry::DeploymentStatus::deploying}) {
      registry::DeploymentFilter filter;
      filter.status = status;
      filter.updated_before = cutoff;
      auto list = s.stores.deployments->list(filter);
      if (!list) return list.error();
      for (auto const& d : *list) {
        auto const detail = "not running after " + std::to_string(timeout.count()) + " s";
        auto moved = apply_event(*s.stores.deployments, d, DeploymentEvent::timed_out, detail, now);
        if (!moved) return moved.error();
        if (*moved) ++failed;
      }
    }
    return failed;
  });
  if (!stuck) co_return stuck.error();
  report.deployments_timed_out = *stuck;

  // Rolling deploys with a step due (the kick after the step before it ran was lost: a restart,
  // or no background tasks): each is looked at once per pass.
  auto due = co_await s.store([&s]() -> result<std::set<std::string>> {
    registry::DeploymentFilter filter;
    filter.status = registry::DeploymentStatus::queued;
    auto queued = s.stores.deployments->list(filter);
    if (!queued) return queued.error();
    std::set<std::string> rollouts;
    for (auto const& d : *queued) rollouts.insert(d.rollout_id);
    return rollouts;
  });
  if (!due) co_return due.error();
  for (auto const& rollout_id : *due) {
    if (auto r = co_await advance_rollout(s, rollout_id); !r) {
      detail::log::warn("cp", "rolling deploy rollout=", rollout_id, " not advanced: ", r.error().message());
    }
  }
  if (report.agents_removed + report.deployments_timed_out > 0) {
    detail::log::info("cp", "maintenance nonces_purged=", report.nonces_purged, " agents_removed=",
                      report.agents_removed, " deployments_timed_out=", report.deployments_timed_out);
  }
  co_return report;
}

asio::awaitable<result<void>> run_health_scrape(Services& s) {
  auto agents = co_await s.store([&s] { return s.stores.agents->list(); });
  if (!agents) co_return agents.error();
  std::atomic<std::size_t> next{0};
  using namespace asio::experimental::awaitable_operators;
  // Eight scrapes in flight: enough to cover thousands of agents per interval, few enough that a
  // CP never floods its own outbound connections.
  co_await (scrape_worker(s, *agents, next) && scrape_worker(s, *agents, next) && scrape_worker(s, *agents, next) &&
            scrape_worker(s, *agents, next) && scrape_worker(s, *agents, next) && scrape_worker(s, *agents, next) &&
            scrape_worker(s, *agents, next) && scrape_worker(s, *agents, next));
  co_return result<void>{};
}

}  // namespace ee::cp
