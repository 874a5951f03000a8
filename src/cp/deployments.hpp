#pragma once
// The deployment operations under the routes, the heartbeat and the background passes: deploy
// (to one agent, an upgrade in place, or a rolling deploy), undeploy, and what an agent's report
// of its workload does. Every status change goes through the lifecycle table
// (cp/deployment_lifecycle.hpp).
#include "cp/deployment_lifecycle.hpp"
#include "cp/services.hpp"

#include <easyenclave/api/deploy.hpp>
#include <easyenclave/jwt/github_oidc.hpp>

#include <boost/asio/awaitable.hpp>

#include <string>

namespace ee::cp {

/// The prefix of an agent's unverified_reason after it reported another image digest than the
/// catalog's; it stays until an operator removes the agent.
inline constexpr std::string_view kDigestReason = "digest mismatch: ";

/// A deploy of `request` for the workflow of `claims`. Picks the agents (api::DeployRequest
/// says how), checks each (the caller's owner, verified, the version's MRTD and RTMRs, node size
/// and datacenter, and idle or running another version of the same app), records the first
/// step holding its agent and the later steps queued, in that order, and sends the first to its
/// agent. Errors: cp::errc::owner_mismatch, agent_unverified, agent_mrtd_mismatch, agent_busy,
/// no_eligible_agent, the store's not_found (app, version or agent), and the agent's failure to
/// take the first step (that deployment is then failed).
boost::asio::awaitable<result<api::DeployResponse>> deploy(Services& services, api::DeployRequest const& request,
                                                           jwt::GithubClaims const& claims);

/// Sends `d` to `agent` and records the outcome: accepted (deploying) or not_delivered (failed,
/// the agent holding what it held before). Returns `d` as it is afterwards, or the agent's error.
boost::asio::awaitable<result<registry::Deployment>> dispatch(Services& services, registry::Deployment const& d,
                                                              registry::AgentRecord const& agent);

/// Starts the next step of the rolling deploy `rollout_id` when none is in flight and every
/// earlier one runs: claims its agent (which must be idle or run another version of the app),
/// then dispatches it. A step whose agent is gone or no longer eligible stops, and with it the
/// rest. Safe to call at any time and from several places (the claim is a compare-and-set).
boost::asio::awaitable<result<void>> advance_rollout(Services& services, std::string const& rollout_id);

/// Stops the deployment `agent` holds: asks the agent, then records it stopped (undeployed, by
/// `who`). cp::errc::deployment_not_active when it holds none.
boost::asio::awaitable<result<registry::Deployment>> undeploy(Services& services, registry::AgentRecord const& agent,
                                                              std::string const& who);

/// What an agent's report of its workload (a signed heartbeat, or its health answer at
/// recovery) does to deployment `d` that it holds. `state` and `image_digest` describe the
/// workload of `reported_id`; `rolled_back` names a deployment the agent went back from.
///   - `rolled_back` is `d`: rolled_back (the agent runs `d.replaces` again);
///   - `reported_id` is `d`: "failed" fails it; "running" with the catalog's digest makes it
///     running, with another digest fails it and marks the agent unverified (kDigestReason);
///   - anything else: unchanged.
/// Returns `d` after the change, or nullopt when unchanged. Blocking: inside Services::store.
struct WorkloadReport {
  std::string reported_id{};
  std::string state{};
  std::string image_digest{};
  std::string rolled_back{};
};
result<std::optional<registry::Deployment>> apply_workload_report(Services& services,
                                                                  registry::AgentRecord const& agent,
                                                                  registry::Deployment const& d,
                                                                  WorkloadReport const& report, TimePoint now);

}  // namespace ee::cp
