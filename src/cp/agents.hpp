#pragma once
// The agent operations under the routes: registration, heartbeats and workload reports
// (cp/agents.cpp); an agent's lifecycle by its owner or the operator: removal, reset, owner,
// console access (cp/agent_lifecycle.cpp). Routes, the /me routes and background tasks call these.
#include "cp/deployments.hpp"
#include "cp/services.hpp"

#include <easyenclave/api/agents.hpp>
#include <easyenclave/api/console_token.hpp>

#include <boost/asio/awaitable.hpp>

namespace ee::cp {

/// Registers an agent, or registers it again: the attestation gate (nonce, appraisal, binding to
/// the nonce and `public_key`, judgement), the embedder's admission hook, then, holding the
/// vm_name's registration slot, who may take an existing vm_name (same owner; the same key, the
/// recorded key's continuity signature, the owner's bootstrap token, or the recorded agent's
/// silence past the grace), owner proof, its tunnel, and the record. The nonce is spent only
/// when all of it succeeds. Errors: the gate's, cp::errc::vm_name_taken, mrtd_changed,
/// owner_proof_required, bootstrap_token_invalid / _mismatch, upstream failures (tunnel, store).
boost::asio::awaitable<result<api::RegisterResponse>> register_agent(Services& services,
                                                                     api::RegisterRequest const& request);

/// A heartbeat of `agent` (its signature already verified against its recorded key): records it;
/// with fresh evidence re-attests through the gate (a failure marks the agent unverified, an
/// MRTD change for good); moves the deployment it holds along with what it reports; answers
/// whether it is verified and whether fresh evidence is due.
boost::asio::awaitable<result<api::HeartbeatResponse>> record_heartbeat(Services& services,
                                                                        registry::AgentRecord const& agent,
                                                                        api::HeartbeatRequest const& heartbeat);

/// A workload report of `agent` between heartbeats (POST /agents/{id}/status and /deployed, its
/// signature already verified): records it as a heartbeat records its report (liveness, reported
/// status and digest) and moves the deployment the agent holds the same way (see
/// apply_workload_report). Carries no evidence, so it never re-attests. Returns the agent's
/// record afterwards. Errors: the store's.
boost::asio::awaitable<result<registry::AgentRecord>> record_workload_report(Services& services,
                                                                            registry::AgentRecord const& agent,
                                                                            WorkloadReport const& report);

/// Removes `agent` for `who` (DELETE /agents/{id} and /admin/agents/{id}): asks the agent to
/// stop its workload when it holds a deployment and can be reached (a failure is logged, not
/// fatal: the tunnel goes next, so nothing reaches that workload any more), then remove_agent:
/// its tunnel and DNS record, its deployment stopped (agent_removed, "removed by <who>"), its
/// record. Errors: registry not_found; the tunnel provider's (the record then stays, so the
/// removal can be retried); the store's.
boost::asio::awaitable<result<void>> delete_agent(Services& services, registry::AgentRecord const& agent,
                                                  std::string const& who);

/// What a reset did.
struct ResetOutcome {
  registry::AgentRecord agent{};                  ///< the record afterwards
  std::optional<registry::Deployment> stopped{};  ///< the deployment it closed, if it held one
  /// The agent answered its undeploy (false: unreachable; its deployment was closed anyway).
  bool agent_reached = false;
  /// "none" (no tunnel provider), "kept" (the recorded tunnel exists) or "recreated".
  std::string tunnel{};
};

/// Resets `agent` to undeployed for `who` (POST /agents/{id}/reset, and the owner's
/// /me/agents/{id}/reset): asks the agent to undeploy (what it holds, or whatever runs), closes
/// the deployment it holds as `undeploy` does (stopped, "reset by <who>") even when the agent
/// cannot be reached, and makes sure its tunnel exists (TunnelProvider::ensure; a tunnel or DNS
/// record that had gone is recreated and recorded). An agent whose tunnel was recreated runs
/// cloudflared with the old tunnel's token until it registers again (a restart of ee-agent).
/// Errors: the store's; the tunnel provider's (the deployment is closed by then).
boost::asio::awaitable<result<ResetOutcome>> reset_agent(Services& services, registry::AgentRecord const& agent,
                                                         std::string const& who);
/// The answer of a reset: {"agent", "stopped_deployment" (or null), "agent_reached", "tunnel"}.
std::string reset_json(ResetOutcome const& reset, TimePoint now);

/// Sets the owner label of `agent` (PATCH /agents/{id}/owner). `owner` must pass
/// api::check_owner. When the login changes, the proven owner id is cleared: it was proven by
/// the previous owner's bootstrap token and names the previous owner's GitHub account, so kept
/// beside a new label it would make the agent nobody's (owns_agent wants both to match) and,
/// worse, let a later organisation that takes over the old id pass the id check. A change of
/// case only keeps it. Refused with cp::errc::agent_busy while the agent holds a deployment:
/// the new owner would read the previous owner's logs and stop their workload. Returns the
/// record afterwards. Errors: api::errc::invalid_field, agent_busy, the store's.
boost::asio::awaitable<result<registry::AgentRecord>> set_agent_owner(Services& services,
                                                                      registry::AgentRecord const& agent,
                                                                      std::string const& owner,
                                                                      std::string const& who);

/// Mints a console token for `agent` (POST /agents/{id}/console-access, and the owner's
/// /me/agents/{id}/console-access): scope logs and stats, valid `request.ttl_seconds` from now,
/// signed with the CP's request-signing key, which the agent already trusts. Logs the grant
/// (agent, who, jti, expiry), never the token. Errors: api::errc::console_token_malformed for a
/// lifetime out of bounds (the parser refuses those first), crypto failures.
result<api::ConsoleAccess> mint_console_access(Services& services, registry::AgentRecord const& agent,
                                               api::ConsoleAccessRequest const& request, std::string const& who);

}  // namespace ee::cp
