#include "cp/deployments.hpp"

#include "cp/caller.hpp"

#include <easyenclave/api/image_reference.hpp>
#include <easyenclave/cp/error.hpp>

#include "detail/crypto.hpp"
#include "detail/log.hpp"

#include <boost/beast/http/verb.hpp>

#include <algorithm>

namespace ee::cp {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using registry::DeploymentStatus;

// The digest a catalog image is pinned by; empty for a record that is not (none is: publish
// requires the digest).
std::string digest_of(std::string const& image) {
  auto ref = api::ImageReference::parse(image);
  return ref ? ref->digest() : std::string();
}

// One agent a deploy goes to, and the deployment of the same app it upgrades there (if any).
struct Target {
  registry::AgentRecord agent{};
  std::string replaces{};
};

// Why `agent` cannot run `version` (leaving the owner to the caller), or success. `held` is the
// deployment the agent holds, read by the caller (nullopt when it holds none).
result<void> check_fit(registry::AgentRecord const& agent, registry::AppVersion const& version,
                       api::DeployRequest const& req, std::optional<registry::Deployment> const& held) {
  if (!agent.verified) return Error(errc::agent_unverified, "agent " + agent.id + ": " + agent.unverified_reason);
  if (held) {
    // Only a running deployment of the same app, at another version, is replaced in place.
    if (held->app_name != version.app_name) {
      return Error(errc::agent_busy, "agent " + agent.id + " runs app " + held->app_name + " (deployment " + held->id +
                                         "); undeploy it first");
    }
    if (held->status != DeploymentStatus::running) {
      return Error(errc::agent_busy, "agent " + agent.id + " holds deployment " + held->id + ", which is " +
                                         std::string(registry::to_string(held->status)));
    }
    if (held->version == version.version) {
      return Error(errc::agent_busy, "agent " + agent.id + " already runs " + version.app_name + " " + version.version +
                                         " (deployment " + held->id + ")");
    }
  }
  if (agent.attestation.mrtd != version.mrtd) {
    return Error(errc::agent_mrtd_mismatch, "agent " + agent.id + " runs MRTD " + agent.attestation.mrtd +
                                                "; version " + version.version + " needs " + version.mrtd);
  }
  for (std::size_t i = 0; i < 4; ++i) {
    if (!version.rtmrs[i].empty() && version.rtmrs[i] != agent.attestation.rtmrs[i]) {
      return Error(errc::agent_mrtd_mismatch, "agent " + agent.id + " has another RTMR" + std::to_string(i) +
                                                  " than version " + version.version + " pins");
    }
  }
  auto const& node_size = !req.node_size.empty() ? req.node_size : version.node_size;
  if (!node_size.empty() && agent.node_size != node_size) {
    return Error(errc::no_eligible_agent, "agent " + agent.id + " is node size '" + agent.node_size + "', not '" + node_size + "'");
  }
  if (!req.datacenter.empty() && agent.datacenter != req.datacenter) {
    return Error(errc::no_eligible_agent, "agent " + agent.id + " is in '" + agent.datacenter + "', not '" + req.datacenter + "'");
  }
  return {};
}

// The deployment `agent` holds, read (nullopt when none, or when its record is gone).
result<std::optional<registry::Deployment>> held_by(Services& s, registry::AgentRecord const& agent) {
  if (agent.deployment_id.empty()) return std::optional<registry::Deployment>();
  auto d = s.stores.deployments->get(agent.deployment_id);
  if (!d) {
    if (d.error() == registry::errc::not_found) return std::optional<registry::Deployment>();
    return d.error();
  }
  return std::optional<registry::Deployment>(std::move(*d));
}

// `agent` as a target for `version`, or why not. Blocking.
result<Target> target_of(Services& s, registry::AgentRecord agent, registry::AppVersion const& version,
                         api::DeployRequest const& req, jwt::GithubClaims const& claims) {
  if (!owns_agent(agent, claims)) {
    return Error(errc::owner_mismatch, "repository_owner '" + claims.repository_owner + "' does not own agent " +
                                           agent.id + " (owner '" + agent.owner + "')");
  }
  auto held = held_by(s, agent);
  if (!held) return held.error();
  if (auto r = check_fit(agent, version, req, *held); !r) return r.error();
  Target t;
  t.replaces = *held ? (*held)->id : std::string();
  t.agent = std::move(agent);
  return t;
}

// The agents a deploy goes to, in rollout order. Blocking.
result<std::vector<Target>> choose_targets(Services& s, api::DeployRequest const& req, registry::AppVersion const& version,
                                           jwt::GithubClaims const& claims) {
  std::vector<Target> out;
  if (!req.agent_id.empty() || !req.agent_ids.empty()) {
    auto const ids = req.agent_ids.empty() ? std::vector<std::string>{req.agent_id} : req.agent_ids;
    for (auto const& id : ids) {
      auto agent = s.stores.agents->get(id);
      if (!agent) return agent.error();
      auto t = target_of(s, std::move(*agent), version, req, claims);
      if (!t) return t.error();
      out.push_back(std::move(*t));
    }
    return out;
  }
  // Neither: every agent of the owner that runs another version of this app is upgraded, one at
  // a time; with none, one idle agent takes it.
  auto agents = s.stores.agents->list();
  if (!agents) return agents.error();
  std::optional<Target> idle;
  for (auto& agent : *agents) {
    if (agent.health == registry::Health::down || !owns_agent(agent, claims)) continue;
    if (agent.deployment_id.empty() && idle) continue;
    auto t = target_of(s, std::move(agent), version, req, claims);
    if (!t) continue;
    if (!t->replaces.empty()) {
      out.push_back(std::move(*t));
    } else if (!idle) {
      idle = std::move(*t);
    }
  }
  if (out.empty() && idle) out.push_back(std::move(*idle));
  if (out.empty()) {
    return Error(errc::no_eligible_agent, "no verified agent owned by '" + claims.repository_owner +
                                              "' is idle or runs another version of " + version.app_name +
                                              " with MRTD " + version.mrtd +
                                              (req.node_size.empty() ? "" : " and node size " + req.node_size) +
                                              (req.datacenter.empty() ? "" : " in " + req.datacenter));
  }
  return out;
}

api::DeployStep step_of(registry::Deployment const& d) {
  return api::DeployStep{d.id, d.agent_id, std::string(registry::to_string(d.status)), d.replaces};
}

}  // namespace

asio::awaitable<result<registry::Deployment>> dispatch(Services& s, registry::Deployment const& d,
                                                       registry::AgentRecord const& agent) {
  api::AgentDeployRequest request;
  request.deployment_id = d.id;
  request.app_name = d.app_name;
  request.version = d.version;
  request.image = d.image;
  auto sent = co_await call_agent(s, agent, bhttp::verb::post, "/api/deploy", api::to_json(request));
  result<api::AgentDeployResponse> accepted = Error(errc::agent_unreachable);
  if (sent) accepted = read_deploy_answer(*sent, d.id, d.agent_id);
  if (!sent || !accepted) {
    auto const error = sent ? accepted.error() : sent.error();
    auto const detail = error.message();
    (void)co_await s.store([&s, &d, &detail, at = s.now()] {
      return apply_event(*s.stores.deployments, d, DeploymentEvent::not_delivered, detail, at);
    });
    co_return error;
  }
  // The agent took it: from here its heartbeats report progress. A heartbeat may have been
  // first; what it decided stands.
  auto moved = co_await s.store([&s, &d, at = s.now()]() -> result<registry::Deployment> {
    auto after = apply_event(*s.stores.deployments, d, DeploymentEvent::accepted, "", at);
    if (!after) return after.error();
    if (*after) return std::move(**after);
    return s.stores.deployments->get(d.id);
  });
  if (!moved) co_return moved.error();
  detail::log::info("cp", "deploying deployment=", d.id, " app=", d.app_name, " version=", d.version,
                    " agent=", d.agent_id, " replaces=", d.replaces.empty() ? "-" : d.replaces,
                    " by=", d.requested_by);
  co_return moved;
}

asio::awaitable<result<api::DeployResponse>> deploy(Services& s, api::DeployRequest const& req,
                                                    jwt::GithubClaims const& claims) {
  auto version = co_await s.store([&s, &req] { return s.stores.apps->get_version(req.app_name, req.version); });
  if (!version) co_return version.error().with_context(req.app_name + " " + req.version);
  auto targets = co_await s.store([&s, &req, &v = *version, &claims] { return choose_targets(s, req, v, claims); });
  if (!targets) co_return targets.error();

  api::DeployResponse out;
  if (req.dry_run) {
    for (auto const& t : *targets) out.steps.push_back(api::DeployStep{"", t.agent.id, "dry_run", t.replaces});
    out.agent_id = out.steps.front().agent_id;
    out.status = "dry_run";
    co_return out;
  }

  // Every step's record, the first holding its agent (the compare-and-set that keeps two deploys
  // racing for one agent from both winning, in one transaction with its insert), the rest queued.
  auto const now = s.now();
  std::vector<registry::Deployment> steps;
  std::string rollout_id;
  if (targets->size() > 1) {
    auto id = detail::uuid_v4();
    if (!id) co_return id.error();
    rollout_id = std::move(*id);
  }
  for (std::size_t i = 0; i < targets->size(); ++i) {
    auto id = detail::uuid_v4();
    if (!id) co_return id.error();
    registry::Deployment d;
    d.id = std::move(*id);
    d.app_name = version->app_name;
    d.version = version->version;
    d.agent_id = (*targets)[i].agent.id;
    d.image = version->image;
    d.status = i == 0 ? DeploymentStatus::pending : DeploymentStatus::queued;
    d.requested_by = claims.repository;
    d.created_at = now;
    d.updated_at = now;
    d.replaces = (*targets)[i].replaces;
    d.rollout_id = rollout_id;
    d.rollout_step = static_cast<std::int64_t>(i);
    steps.push_back(std::move(d));
  }
  auto recorded = co_await s.store([&s, &steps]() -> result<void> {
    auto const& first = steps.front();
    if (auto r = s.stores.deployments->insert_holding(first, first.replaces); !r) {
      if (r.error() == registry::errc::conflict) {
        return Error(errc::agent_busy, "agent " + first.agent_id + " was just taken: " + r.error().message());
      }
      return r.error();
    }
    for (std::size_t i = 1; i < steps.size(); ++i) {
      if (auto r = s.stores.deployments->insert(steps[i]); !r) return r.error();
    }
    return {};
  });
  if (!recorded) co_return recorded.error();

  auto first = co_await dispatch(s, steps.front(), targets->front().agent);
  if (!first) co_return first.error();
  steps.front() = std::move(*first);
  for (auto const& d : steps) out.steps.push_back(step_of(d));
  out.deployment_id = steps.front().id;
  out.agent_id = steps.front().agent_id;
  out.status = std::string(registry::to_string(steps.front().status));
  out.rollout_id = rollout_id;
  if (!rollout_id.empty()) {
    detail::log::info("cp", "rolling deploy rollout=", rollout_id, " app=", version->app_name,
                      " version=", version->version, " agents=", steps.size(), " by=", claims.repository);
  }
  co_return out;
}

asio::awaitable<result<void>> advance_rollout(Services& s, std::string const& rollout_id) {
  struct Next {
    registry::Deployment step{};
    registry::AgentRecord agent{};
  };
  auto const now = s.now();
  // Decides and claims in one blocking call; the agent is called afterwards.
  auto next = co_await s.store([&s, &rollout_id, &now]() -> result<std::optional<Next>> {
    registry::DeploymentFilter filter;
    filter.rollout_id = rollout_id;
    auto steps = s.stores.deployments->list(filter);
    if (!steps) return steps.error();
    std::sort(steps->begin(), steps->end(), [](auto const& a, auto const& b) { return a.rollout_step < b.rollout_step; });
    registry::Deployment const* queued = nullptr;
    for (auto const& d : *steps) {
      if (d.status == DeploymentStatus::queued) {
        queued = &d;
        break;
      }
      // One step at a time, and only after every earlier one ran (a failed one has halted the rest).
      if (d.status != DeploymentStatus::running && d.status != DeploymentStatus::stopped) return std::optional<Next>();
    }
    if (queued == nullptr) return std::optional<Next>();
    auto halt = [&](std::string const& why) -> result<std::optional<Next>> {
      auto r = apply_event(*s.stores.deployments, *queued, DeploymentEvent::rollout_halted, why, now);
      if (!r) return r.error();
      return std::optional<Next>();
    };
    auto agent = s.stores.agents->get(queued->agent_id);
    if (!agent) {
      if (agent.error() != registry::errc::not_found) return agent.error();
      auto r = apply_event(*s.stores.deployments, *queued, DeploymentEvent::agent_removed,
                           "agent " + queued->agent_id + " was removed", now);
      if (!r) return r.error();
      return std::optional<Next>();
    }
    auto version = s.stores.apps->get_version(queued->app_name, queued->version);
    if (!version) return halt("version " + queued->version + " of " + queued->app_name + ": " + version.error().message());
    auto held = held_by(s, *agent);
    if (!held) return held.error();
    api::DeployRequest const checks;  // node size and datacenter were checked when it was planned
    if (auto fit = check_fit(*agent, *version, checks, *held); !fit) return halt(fit.error().message());
    auto const held_now = *held ? (*held)->id : std::string();
    auto started = start_step(*s.stores.deployments, *queued, held_now, now);
    if (!started) {
      // The agent was claimed meanwhile (another deploy): that decides; the next pass looks again.
      if (started.error() == registry::errc::conflict) return std::optional<Next>();
      return started.error();
    }
    if (!*started) return std::optional<Next>();
    return std::optional<Next>(Next{std::move(**started), std::move(*agent)});
  });
  if (!next) co_return next.error();
  if (!*next) co_return result<void>{};
  detail::log::info("cp", "rolling deploy rollout=", rollout_id, " step=", (*next)->step.rollout_step + 1,
                    " deployment=", (*next)->step.id, " agent=", (*next)->agent.id);
  auto sent = co_await dispatch(s, (*next)->step, (*next)->agent);
  if (!sent) {
    detail::log::warn("cp", "rolling deploy rollout=", rollout_id, " step ", (*next)->step.id,
                      " not delivered: ", sent.error().message());
  }
  co_return result<void>{};
}

asio::awaitable<result<registry::Deployment>> undeploy(Services& s, registry::AgentRecord const& agent,
                                                       std::string const& who) {
  if (agent.deployment_id.empty()) {
    co_return Error(errc::deployment_not_active, "agent " + agent.id + " holds no deployment");
  }
  api::AgentUndeployRequest request{agent.deployment_id};
  auto response = co_await call_agent(s, agent, bhttp::verb::post, "/api/undeploy", api::to_json(request));
  if (!response) co_return response.error();
  // Shape only: an agent answers with what it stopped, which may be an older deployment.
  if (auto answer = read_deploy_answer(*response, "", agent.id); !answer) co_return answer.error();
  auto const now = s.now();
  auto stopped = co_await s.store([&s, &agent, &now, &who]() -> result<registry::Deployment> {
    auto d = s.stores.deployments->get(agent.deployment_id);
    if (!d) {
      // No record (a CP stopped between claim and insert): free the agent all the same.
      if (d.error() == registry::errc::not_found) (void)s.stores.agents->release_deployment(agent.id, agent.deployment_id);
      return d.error();
    }
    auto moved = apply_event(*s.stores.deployments, *d, DeploymentEvent::undeployed, "undeployed by " + who, now);
    if (!moved) return moved.error();
    if (*moved) return std::move(**moved);
    return s.stores.deployments->get(d->id);  // over already: what ended it stands
  });
  if (!stopped) co_return stopped.error();
  detail::log::info("cp", "undeployed deployment=", stopped->id, " agent=", agent.id, " by=", who);
  co_return stopped;
}

result<std::optional<registry::Deployment>> apply_workload_report(Services& s, registry::AgentRecord const& agent,
                                                                  registry::Deployment const& d,
                                                                  WorkloadReport const& report, TimePoint now) {
  auto& deployments = *s.stores.deployments;
  if (!report.rolled_back.empty() && report.rolled_back == d.id) {
    auto const detail = "did not start; the agent runs " +
                        (d.replaces.empty() ? std::string("nothing") : "deployment " + d.replaces) + " again";
    return apply_event(deployments, d, DeploymentEvent::rolled_back, detail, now);
  }
  if (report.reported_id != d.id) return std::optional<registry::Deployment>();
  if (report.state == "failed") {
    return apply_event(deployments, d, DeploymentEvent::reported_failed, "the agent reported the workload failed", now);
  }
  if (report.state != "running" || report.image_digest.empty()) return std::optional<registry::Deployment>();
  auto const expected = digest_of(d.image);
  if (report.image_digest != expected) {
    auto const detail = "agent runs " + report.image_digest + ", the catalog has " + expected;
    detail::log::warn("cp", "digest mismatch agent=", agent.id, " deployment=", d.id, " ", detail);
    auto failed = apply_event(deployments, d, DeploymentEvent::digest_mismatch, detail, now);
    if (!failed) return failed;
    if (auto r = s.stores.agents->set_verification(agent.id, false, std::string(kDigestReason) + detail, std::nullopt); !r) {
      return r.error();
    }
    return failed;
  }
  return apply_event(deployments, d, DeploymentEvent::reported_running, "", now);
}

}  // namespace ee::cp
