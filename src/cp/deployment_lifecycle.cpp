#include "cp/deployment_lifecycle.hpp"

#include "detail/log.hpp"

#include <array>

namespace ee::cp {
namespace {

using registry::AgentHold;
using registry::DeploymentStatus;

constexpr std::array<std::string_view, 13> kEventNames = {
    "started",   "accepted", "reported_running", "reported_failed", "digest_mismatch",
    "not_delivered", "rolled_back", "lost", "timed_out", "replaced", "undeployed",
    "agent_removed", "rollout_halted"};

bool is_active(DeploymentStatus s) {
  return s == DeploymentStatus::pending || s == DeploymentStatus::deploying || s == DeploymentStatus::running;
}
bool is_in_flight(DeploymentStatus s) { return s == DeploymentStatus::pending || s == DeploymentStatus::deploying; }

// Runs one event: the compare-and-set of the table's move, nothing when it does not apply.
result<std::optional<registry::Deployment>> move(registry::DeploymentStore& deployments, registry::Deployment const& d,
                                                 DeploymentEvent event, std::string const& detail,
                                                 registry::TimePoint now) {
  auto const t = transition(d.status, event);
  if (!t) return std::optional<registry::Deployment>();
  auto moved = deployments.set_status_if(d.id, d.status, t->to, detail, now, t->hold);
  if (!moved) {
    // Another request or pass moved it first (a heartbeat, an undeploy): what it decided stands.
    if (moved.error() == registry::errc::conflict || moved.error() == registry::errc::not_found) {
      return std::optional<registry::Deployment>();
    }
    return moved.error();
  }
  detail::log::debug("cp", "deployment ", d.id, " ", to_string(d.status), " -> ", to_string(t->to),
                     " on ", to_string(event));
  return std::optional<registry::Deployment>(std::move(*moved));
}

// Applies `event` to the deployment `id` as it is now (not_found: nothing to do).
result<void> apply_to(registry::DeploymentStore& deployments, std::string const& id, DeploymentEvent event,
                      std::string const& detail, registry::TimePoint now) {
  auto d = deployments.get(id);
  if (!d) return d.error() == registry::errc::not_found ? result<void>{} : result<void>(d.error());
  auto moved = apply_event(deployments, *d, event, detail, now);
  if (!moved) return moved.error();
  return {};
}

}  // namespace

std::string_view to_string(DeploymentEvent event) noexcept {
  auto const index = static_cast<std::size_t>(event);
  return index < kEventNames.size() ? kEventNames[index] : std::string_view{};
}

bool is_over(DeploymentStatus status) noexcept {
  return status == DeploymentStatus::failed || status == DeploymentStatus::stopped;
}

std::optional<Transition> transition(DeploymentStatus from, DeploymentEvent event) noexcept {
  using E = DeploymentEvent;
  auto to = [](DeploymentStatus s, AgentHold h = AgentHold::keep) { return std::optional<Transition>(Transition{s, h}); };
  switch (event) {
    case E::started:
      if (from == DeploymentStatus::queued) return to(DeploymentStatus::pending);
      break;
    case E::accepted:
      if (from == DeploymentStatus::pending) return to(DeploymentStatus::deploying);
      break;
    case E::reported_running:
      if (is_in_flight(from)) return to(DeploymentStatus::running);
      break;
    case E::reported_failed:
    case E::digest_mismatch:
      if (is_active(from)) return to(DeploymentStatus::failed, AgentHold::release);
      break;
    case E::not_delivered:
      // The agent never took it, so it still runs what it ran: it holds that again.
      if (from == DeploymentStatus::pending) return to(DeploymentStatus::failed, AgentHold::hand_back);
      break;
    case E::rolled_back:
      if (is_in_flight(from)) return to(DeploymentStatus::failed, AgentHold::hand_back);
      break;
    case E::lost:
    case E::timed_out:
      if (is_in_flight(from)) return to(DeploymentStatus::failed, AgentHold::release);
      break;
    case E::replaced:
      // Its agent holds the successor already: nothing to release.
      if (from == DeploymentStatus::running) return to(DeploymentStatus::stopped);
      break;
    case E::undeployed:
      if (from == DeploymentStatus::queued || is_active(from)) return to(DeploymentStatus::stopped, AgentHold::release);
      break;
    case E::agent_removed:
      // The agent's record goes with it.
      if (from == DeploymentStatus::queued || is_active(from)) return to(DeploymentStatus::stopped);
      break;
    case E::rollout_halted:
      if (from == DeploymentStatus::queued) return to(DeploymentStatus::stopped);
      break;
  }
  return std::nullopt;
}

result<std::optional<registry::Deployment>> apply_event(registry::DeploymentStore& deployments,
                                                        registry::Deployment const& d, DeploymentEvent event,
                                                        std::string const& detail, registry::TimePoint now) {
  using E = DeploymentEvent;
  auto moved = move(deployments, d, event, detail, now);
  if (!moved || !*moved) return moved;
  auto const& after = **moved;

  if (!after.replaces.empty()) {
    auto const release = transition(d.status, event)->hold == AgentHold::release;
    if (after.status == DeploymentStatus::running) {
      auto const why = "replaced by deployment " + after.id + " (" + after.app_name + " " + after.version + ")";
      if (auto r = apply_to(deployments, after.replaces, E::replaced, why, now); !r) return r.error();
    } else if (after.status == DeploymentStatus::failed && release) {
      // The agent stopped the old one to start this one, and has neither now.
      auto const why = "replaced by deployment " + after.id + ", which failed: " + detail;
      if (auto r = apply_to(deployments, after.replaces, E::replaced, why, now); !r) return r.error();
    }
  }

  if (!after.rollout_id.empty() && is_over(after.status) && event != E::replaced) {
    registry::DeploymentFilter filter;
    filter.rollout_id = after.rollout_id;
    filter.status = DeploymentStatus::queued;
    auto queued = deployments.list(filter);
    if (!queued) return queued.error();
    auto const why = "rolling deploy halted: step " + std::to_string(after.rollout_step + 1) + " (deployment " +
                     after.id + ") " + std::string(to_string(after.status)) + ": " + detail;
    for (auto const& step : *queued) {
      if (auto r = move(deployments, step, E::rollout_halted, why, now); !r) return r.error();
    }
  }
  return moved;
}

result<std::optional<registry::Deployment>> start_step(registry::DeploymentStore& deployments,
                                                       registry::Deployment const& d, std::string const& held_now,
                                                       registry::TimePoint now) {
  if (!transition(d.status, DeploymentEvent::started)) return std::optional<registry::Deployment>();
  auto started = deployments.start_queued(d.id, held_now, now);
  if (!started) {
    if (started.error() == registry::errc::not_found) return std::optional<registry::Deployment>();
    // Not queued any more (halted, undeployed): what moved it stands. The agent's conflict is the
    // caller's to handle, so it is told apart by reading the deployment again.
    if (started.error() == registry::errc::conflict) {
      auto now_is = deployments.get(d.id);
      if (now_is && now_is->status != registry::DeploymentStatus::queued) return std::optional<registry::Deployment>();
    }
    return started.error();
  }
  return std::optional<registry::Deployment>(std::move(*started));
}

}  // namespace ee::cp
