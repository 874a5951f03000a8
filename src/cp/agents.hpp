#pragma once
// The agent operations under the routes: registration and heartbeats (cp/agents.cpp).
#include "cp/services.hpp"

#include <easyenclave/api/agents.hpp>

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

}  // namespace ee::cp
