#pragma once
// The deployment state machine: every status change of a deployment is an event, the table of
// `transition` says where each event takes each status and what happens to the deployment the
// agent holds, and `apply_event` is the only code that writes a deployment's status. Routes,
// heartbeats, the recovery pass and the maintenance pass name the event; none of them writes a
// status itself.
//
//   queued ──started──► pending ──accepted──► deploying ──reported_running──► running
//      │                   │                      │                             │
//      └ rollout_halted,   ├ not_delivered,       ├ reported_failed, digest_    ├ reported_failed,
//        undeployed,       │ rolled_back, lost,   │ mismatch, rolled_back,      │ digest_mismatch
//        agent_removed     │ timed_out, ...       │ lost, timed_out             │   → failed
//        → stopped         └ → failed             └ → failed                    └ replaced, undeployed,
//                                                                                  agent_removed → stopped
// (undeployed and agent_removed stop any deployment that is not over.)
#include <easyenclave/error.hpp>
#include <easyenclave/registry/store.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace ee::cp {

enum class DeploymentEvent {
  started,           ///< a rolling deploy reached it (its agent now holds it)
  accepted,          ///< its agent accepted it
  reported_running,  ///< its agent runs it, with the catalog's digest
  reported_failed,   ///< its agent says it failed
  digest_mismatch,   ///< its agent runs another image digest than the catalog's
  not_delivered,     ///< its agent could not be reached, or refused it
  rolled_back,       ///< it did not start and its agent went back to the deployment it replaced
  lost,              ///< after a CP restart, its agent does not run it
  timed_out,         ///< not running within the deploy timeout
  replaced,          ///< its successor on the agent runs, or took its place and failed
  undeployed,        ///< an owner or an admin stopped it
  agent_removed,     ///< its agent was removed
  rollout_halted,    ///< an earlier step of its rolling deploy did not reach running
};

std::string_view to_string(DeploymentEvent event) noexcept;

/// Where an event takes a status.
struct Transition {
  registry::DeploymentStatus to = registry::DeploymentStatus::failed;
  /// What happens to the agent's hold on the deployment, in the same transaction.
  registry::AgentHold hold = registry::AgentHold::keep;
};

/// The table: nullopt when `event` does not move a deployment that is `from` (a report about a
/// deployment already over changes nothing).
std::optional<Transition> transition(registry::DeploymentStatus from, DeploymentEvent event) noexcept;

/// Applies `event` to `d` as read: a compare-and-set from `d.status` with the agent's hold in the
/// same transaction, then its consequences, each an event of its own:
///   - `d` reaching running stops the deployment it replaced (replaced);
///   - `d` failing after its agent dropped the deployment it replaced (any failure but
///     not_delivered and rolled_back, which leave the old one running) stops that one too;
///   - `d` failing or being stopped other than by replacement halts the queued steps of its
///     rolling deploy (rollout_halted).
/// Returns `d` after the move, or nullopt when the event does not apply to `d.status` or `d`
/// moved meanwhile (what moved it stands). Blocking: call it inside Services::store.
result<std::optional<registry::Deployment>> apply_event(registry::DeploymentStore& deployments,
                                                        registry::Deployment const& d, DeploymentEvent event,
                                                        std::string const& detail, registry::TimePoint now);

/// The `started` event, written with its claim: `d` (queued) becomes pending, replacing
/// `held_now`, and its agent holds it, if the agent holds `held_now` now. nullopt when `d` is no
/// longer queued; registry::errc::conflict when the agent holds another deployment. Blocking.
result<std::optional<registry::Deployment>> start_step(registry::DeploymentStore& deployments,
                                                       registry::Deployment const& d, std::string const& held_now,
                                                       registry::TimePoint now);

/// True for the statuses a deployment never leaves (failed, stopped).
bool is_over(registry::DeploymentStatus status) noexcept;

}  // namespace ee::cp
