// Recovery at start: what a CP killed in the middle of a deploy (kill -9, power loss) left
// half-done is settled at once, instead of holding the agent until the deploy timeout.
//
// The deploy route claims the agent, records the deployment `pending`, calls the agent, then
// marks it `deploying`; the routes that end a deployment mark it failed or stopped, then free
// the agent. An abrupt stop between any two of these steps leaves one of:
//   - a deployment `pending` or `deploying` that the agent may or may not have received: the
//     agent is asked what it runs (recover_one);
//   - an agent holding a deployment that has no record (stopped between claim and insert), or
//     one already failed or stopped (stopped before the release), or one of another agent: the
//     agent is freed (release_holders).
#include "cp/deployments.hpp"

#include "detail/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/verb.hpp>

#include <atomic>

namespace ee::cp {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using registry::DeploymentStatus;

constexpr char kRestarted[] = "the CP restarted during the deploy; ";

// What the workers found, and the first store failure (the pass goes on past agent failures).
struct Tally {
  RecoveryReport report{};
  std::optional<Error> store_error{};
};

asio::awaitable<void> settle_failed(Services& s, registry::Deployment const& d, DeploymentEvent event,
                                    std::string const& reported, Tally& tally) {
  auto const detail = kRestarted + reported;
  auto failed = co_await s.store([&s, &d, event, &detail, at = s.now()] {
    return apply_event(*s.stores.deployments, d, event, detail, at);
  });
  if (!failed) {
    tally.store_error = failed.error();
    co_return;
  }
  if (!*failed) co_return;  // moved on meanwhile (a heartbeat, an undeploy): nothing to recover
  ++tally.report.deployments_failed;
  detail::log::info("cp", "recovery failed deployment=", d.id, " agent=", d.agent_id, " was=", registry::to_string(d.status),
                    " event=", to_string(event), " detail=", detail);
}

std::string what_it_holds(std::string const& deployment_id) {
  return deployment_id.empty() ? "no deployment" : "deployment " + deployment_id;
}

// Why `d` cannot go on, from its agent's record and answer; empty when the agent runs it (then
// `health` holds the answer).
asio::awaitable<result<std::string>> diagnose(Services& s, registry::Deployment const& d,
                                              std::optional<registry::AgentRecord>& agent,
                                              std::optional<api::AgentHealth>& health) {
  auto record = co_await s.store([&s, &id = d.agent_id] { return s.stores.agents->get(id); });
  if (!record) {
    if (record.error() != registry::errc::not_found) co_return record.error();
    co_return "agent " + d.agent_id + " no longer exists";
  }
  if (record->deployment_id != d.id) co_return "agent " + record->id + " holds " + what_it_holds(record->deployment_id);
  agent = std::move(*record);
  auto response = co_await call_agent(s, *agent, bhttp::verb::get, "/api/health", "");
  if (!response) co_return "no answer from the agent: " + response.error().message();
  auto parsed = api::parse_agent_health(response->body());
  if (!parsed) co_return "agent " + agent->id + " answered a malformed health: " + parsed.error().message();
  if (!parsed->agent_id.empty() && parsed->agent_id != agent->id) {
    co_return "the agent's address answers as agent " + parsed->agent_id + ", not " + agent->id;
  }
  health = std::move(*parsed);
  auto const& w = health->workload;
  if (w.deployment_id != d.id) {
    co_return "agent " + agent->id + " runs " + what_it_holds(w.deployment_id) + " (workload " + w.state + ")";
  }
  if (w.state == "idle" || w.state == "stopped") co_return "agent " + agent->id + " has the deployment " + w.state;
  co_return std::string();
}

asio::awaitable<void> recover_one(Services& s, registry::Deployment const& d, Tally& tally) {
  std::optional<registry::AgentRecord> agent;
  std::optional<api::AgentHealth> health;
  auto reason = co_await diagnose(s, d, agent, health);
  if (!reason) {
    tally.store_error = reason.error();
    co_return;
  }
  if (!reason->empty()) {
    // An agent that runs the deployment this one replaced went back to it (or never left it).
    bool const rolled_back = health && !d.replaces.empty() && health->workload.deployment_id == d.replaces &&
                             health->workload.state == "running";
    co_await settle_failed(s, d, rolled_back ? DeploymentEvent::rolled_back : DeploymentEvent::lost, *reason, tally);
    co_return;
  }
  auto const& w = health->workload;

  // The agent has it: the heartbeat's rule decides running or failed; otherwise it goes on.
  auto const now = s.now();
  WorkloadReport const report{w.deployment_id, w.state, w.image_digest, ""};
  auto after = co_await s.store([&s, &agent = *agent, &d, &report, &now]() -> result<std::optional<registry::Deployment>> {
    auto applied = apply_workload_report(s, agent, d, report, now);
    if (!applied || *applied) return applied;
    return apply_event(*s.stores.deployments, d, DeploymentEvent::accepted, "", now);
  });
  if (!after) {
    tally.store_error = after.error();
    co_return;
  }
  auto const status = *after ? (*after)->status : d.status;
  if (status == DeploymentStatus::failed) {
    ++tally.report.deployments_failed;
    detail::log::info("cp", "recovery failed deployment=", d.id, " agent=", d.agent_id,
                      " was=", registry::to_string(d.status), " workload=", w.state, " digest=", w.image_digest);
    co_return;
  }
  ++tally.report.deployments_kept;
  detail::log::info("cp", "recovery kept deployment=", d.id, " agent=", d.agent_id,
                    " status=", registry::to_string(status), " workload=", w.state);
  if (status == DeploymentStatus::running && !d.rollout_id.empty() && s.kick_rollout) s.kick_rollout(d.rollout_id);
}

asio::awaitable<void> recover_worker(Services& s, std::vector<registry::Deployment> const& deployments,
                                     std::atomic<std::size_t>& next, Tally& tally) {
  for (auto i = next++; i < deployments.size(); i = next++) co_await recover_one(s, deployments[i], tally);
}

// Frees the agents whose deployment has no record, is over, or is another agent's.
result<std::size_t> release_holders(Services& s, std::vector<registry::AgentRecord> const& holders) {
  std::size_t released = 0;
  for (auto const& agent : holders) {
    auto d = s.stores.deployments->get(agent.deployment_id);
    std::string why;
    if (!d) {
      if (d.error() != registry::errc::not_found) return d.error();
      why = "its deployment has no record (the CP stopped between claiming the agent and recording the deployment)";
    } else if (d->agent_id != agent.id) {
      why = "the deployment belongs to agent " + d->agent_id;
    } else if (d->status == DeploymentStatus::failed || d->status == DeploymentStatus::stopped) {
      why = "the deployment is " + std::string(registry::to_string(d->status)) + " (the CP stopped before freeing the agent)";
    } else {
      continue;
    }
    if (auto r = s.stores.agents->release_deployment(agent.id, agent.deployment_id); !r) {
      if (r.error() == registry::errc::conflict || r.error() == registry::errc::not_found) continue;
      return r.error();
    }
    ++released;
    detail::log::info("cp", "recovery freed agent=", agent.id, " deployment=", agent.deployment_id, " reason=", why);
  }
  return released;
}

}  // namespace

std::chrono::seconds dispatch_grace(Services const& s) {
  // The margin covers the store writes around the call and a dispatcher's clock running behind.
  constexpr std::chrono::seconds kMargin{5};
  return s.timings().agent_call_timeout + kMargin;
}

result<InFlight> read_in_flight(Services& s) {
  InFlight out;
  for (auto status : {DeploymentStatus::pending, DeploymentStatus::deploying}) {
    registry::DeploymentFilter filter;
    filter.status = status;
    auto list = s.stores.deployments->list(filter);
    if (!list) return list.error();
    out.deployments.insert(out.deployments.end(), list->begin(), list->end());
  }
  auto agents = s.stores.agents->list();
  if (!agents) return agents.error();
  for (auto& agent : *agents) {
    if (!agent.deployment_id.empty()) out.holders.push_back(std::move(agent));
  }
  return out;
}

asio::awaitable<result<Recovered>> recover_in_flight(Services& s, InFlight const& in_flight,
                                                     TimePoint defer_pending_changed_after) {
  Tally tally;
  auto released = co_await s.store([&s, &in_flight] { return release_holders(s, in_flight.holders); });
  if (!released) co_return released.error();
  tally.report.agents_released = *released;

  // A deployment goes from `pending` to `deploying` when its agent accepts it; one younger than
  // the call that decides that may belong to a live dispatcher, not to a dead one.
  std::vector<registry::Deployment> deployments;
  std::vector<registry::Deployment> deferred;
  for (auto const& d : in_flight.deployments) {
    bool const young = d.status == DeploymentStatus::pending && d.updated_at > defer_pending_changed_after;
    (young ? deferred : deployments).push_back(d);
  }
  tally.report.deployments_deferred = deferred.size();

  std::atomic<std::size_t> next{0};
  using namespace asio::experimental::awaitable_operators;
  // Eight agents asked at a time, as the health scrape does: a CP with many interrupted deploys
  // settles them within a few agent call timeouts without flooding its outbound connections.
  co_await (recover_worker(s, deployments, next, tally) && recover_worker(s, deployments, next, tally) &&
            recover_worker(s, deployments, next, tally) && recover_worker(s, deployments, next, tally) &&
            recover_worker(s, deployments, next, tally) && recover_worker(s, deployments, next, tally) &&
            recover_worker(s, deployments, next, tally) && recover_worker(s, deployments, next, tally));
  if (tally.store_error) co_return *tally.store_error;
  if (!in_flight.deployments.empty() || tally.report.agents_released > 0) {
    detail::log::info("cp", "recovery done in_flight=", in_flight.deployments.size(), " kept=",
                      tally.report.deployments_kept, " failed=", tally.report.deployments_failed,
                      " deferred=", deferred.size(), " agents_freed=", tally.report.agents_released);
  }
  co_return Recovered{.report = tally.report, .deferred = std::move(deferred)};
}

asio::awaitable<result<void>> recover_deferred(Services& s, std::vector<registry::Deployment> deferred) {
  asio::steady_timer timer(co_await asio::this_coro::executor, dispatch_grace(s));
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  auto still = co_await s.store([&s, &deferred]() -> result<InFlight> {
    InFlight left;
    for (auto const& d : deferred) {
      auto now = s.stores.deployments->get(d.id);
      if (!now && now.error() != registry::errc::not_found) return now.error();
      if (now && now->status == DeploymentStatus::pending && now->updated_at == d.updated_at) {
        left.deployments.push_back(std::move(*now));
      }
    }
    return left;
  });
  if (!still) co_return still.error();
  if (still->deployments.empty()) co_return result<void>{};
  auto settled = co_await recover_in_flight(s, *still, TimePoint::max());
  if (!settled) co_return settled.error();
  co_return result<void>{};
}

}  // namespace ee::cp
