#pragma once
/// @file The agent ↔ control plane messages and their JSON mapping, shared by both sides so they
/// cannot drift: challenge, register, heartbeat, and the deploy/undeploy the CP sends to an
/// agent. `parse_*` validate every field (formats and sizes) and name the field at fault;
/// `to_json` writes compact JSON with absent optionals left out.
#include <easyenclave/api/error.hpp>
#include <easyenclave/error.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace ee::api {

// --- field formats (each returns api::errc::invalid_field naming `field` and the rule) ---------

/// 1-63 chars of [A-Za-z0-9._-], starting with a letter or digit.
result<void> check_vm_name(std::string_view value, std::string_view field = "vm_name");
/// "github:org/NAME" or "github:user/NAME", NAME a GitHub login (1-39 of [A-Za-z0-9-], no
/// leading '-').
result<void> check_owner(std::string_view value, std::string_view field = "owner");
/// 1-32 of [a-z0-9-], starting with a letter or digit ("tiny", "standard", "llm", ...).
result<void> check_node_size(std::string_view value, std::string_view field = "node_size");
/// "CLOUD:ZONE", each 1-40 of [a-z0-9-] starting with a letter or digit ("gcp:us-central1-a",
/// "baremetal:lab1").
result<void> check_datacenter(std::string_view value, std::string_view field = "datacenter");
/// An image pinned by digest, "NAME@sha256:<64 lowercase hex>":
/// `ImageReference::parse_pinned` (api/image_reference.hpp) with its errors.
result<void> check_pinned_image(std::string_view value, std::string_view field = "image");
/// "sha256:<64 lowercase hex>".
result<void> check_digest(std::string_view value, std::string_view field = "image_digest");
/// The NAME of an owner label, lowercased ("github:org/Acme" → "acme"); empty if malformed.
std::string owner_login(std::string_view owner);
/// A GitHub login: 1-39 of [A-Za-z0-9-], not starting with '-' (either case).
bool is_github_login(std::string_view login);

// --- challenge ----------------------------------------------------------------------------------

/// GET /api/v1/agents/challenge → 200.
struct Challenge {
  std::string nonce{};  ///< 64 lowercase hex chars (32 random bytes)
  std::int64_t expires_in_seconds = 0;
  std::int64_t ttl_seconds = 0;
  std::chrono::system_clock::time_point issued_at{};
};
std::string to_json(Challenge const& c);
result<Challenge> parse_challenge(std::string_view json);

// --- register -----------------------------------------------------------------------------------

/// POST /api/v1/agents/register. Evidence is `intel_ta_token` and/or `quote_b64`. Older agents
/// send only intel_ta_token, vm_name, nonce (32 hex chars), node_size and datacenter.
struct RegisterRequest {
  std::string vm_name{};
  std::string owner{};       ///< empty only for legacy agents
  std::string node_size{};
  std::string datacenter{};
  std::string nonce{};       ///< hex: 64 chars, or 32 for legacy agents
  std::string public_key{};  ///< base64 DER SubjectPublicKeyInfo (or PEM); empty for legacy agents
  std::string intel_ta_token{};
  std::string quote_b64{};
  std::string agent_url{};   ///< origin where the CP can reach the agent API without a tunnel (dev)
  /// Secret: an owner's bootstrap token (`POST /api/v1/owners/bootstrap-tokens`), proving that
  /// the owner asked for this agent. Never logged.
  std::string bootstrap_token{};
  /// Base64 of a raw r||s signature, by the key the CP recorded for this vm_name, over
  /// `continuity_message(*this)`: lets an agent move its registration to a new key.
  std::string continuity_signature{};
};
std::string to_json(RegisterRequest const& r);
/// What `continuity_signature` signs: the vm_name, owner, new public key (canonical base64) and
/// nonce, length-prefixed, so a signature moves one registration, over one fresh challenge, to
/// one key.
std::string continuity_message(RegisterRequest const& r);
/// "ee_bt_" and 43 base64url characters (32 random bytes): the form of a bootstrap token.
result<void> check_bootstrap_token(std::string_view value, std::string_view field = "bootstrap_token");
/// Validates formats and sizes; at least one piece of evidence is required.
result<RegisterRequest> parse_register_request(std::string_view json);

struct RegisterResponse {
  std::string agent_id{};
  std::string tunnel_token{};  ///< secret; empty when the CP has no tunnel provider (dev)
  std::string hostname{};
  std::int64_t heartbeat_interval_seconds = 30;
  std::string cp_public_key{};  ///< base64 DER SubjectPublicKeyInfo of the CP's signing key
};
std::string to_json(RegisterResponse const& r);
result<RegisterResponse> parse_register_response(std::string_view json);

// --- heartbeat ----------------------------------------------------------------------------------

/// POST /api/v1/agents/{id}/heartbeat, signed by the agent's attested key.
struct HeartbeatRequest {
  std::string status{};           ///< workload state: "idle", "pulling", "running", "failed", ...
  std::string image_digest{};     ///< of the running workload; empty when none
  std::string deployment_id{};    ///< the deployment the workload belongs to; empty when none
  /// A deployment that did not start, after which the agent went back to the one it replaced
  /// (which `deployment_id` then names); kept until the next deploy or undeploy.
  std::string rolled_back{};
  /// Fresh evidence, sent when the CP asked for it (HeartbeatResponse::attestation_due).
  std::string nonce{};
  std::string intel_ta_token{};
  std::string quote_b64{};
};
std::string to_json(HeartbeatRequest const& r);
result<HeartbeatRequest> parse_heartbeat_request(std::string_view json);

struct HeartbeatResponse {
  bool verified = true;
  /// The CP wants fresh evidence with the next heartbeat (fetch a challenge first).
  bool attestation_due = false;
  std::int64_t heartbeat_interval_seconds = 30;
};
std::string to_json(HeartbeatResponse const& r);
result<HeartbeatResponse> parse_heartbeat_response(std::string_view json);

// --- workload reports between heartbeats ---------------------------------------------------------

/// POST /api/v1/agents/{id}/status, signed by the agent's attested key: the workload's state as a
/// heartbeat reports it, without evidence (fresh evidence goes only with a heartbeat).
struct AgentStatusReport {
  std::string status{};         ///< required: "idle", "pulling", "starting", "running", "failed", ...
  std::string deployment_id{};  ///< the deployment the workload belongs to; empty when none
  std::string image_digest{};   ///< of the running workload; empty when none
  std::string rolled_back{};    ///< as HeartbeatRequest::rolled_back
};
std::string to_json(AgentStatusReport const& r);
/// `status` required ([a-z][a-z0-9_-]{0,31}); ids and digest in the heartbeat's formats; at most
/// 64 KiB. Unknown fields are ignored. api::errc::invalid_field or ee::errc codes naming the
/// field. Never throws (except bad_alloc).
result<AgentStatusReport> parse_agent_status_report(std::string_view json);

/// POST /api/v1/agents/{id}/deployed, signed by the agent's attested key: the workload of
/// `deployment_id` runs, from the image with `image_digest`. The same as a status report of
/// "running" with both fields.
struct DeployedReport {
  std::string deployment_id{};  ///< required
  std::string image_digest{};   ///< required: "sha256:<64 lowercase hex>"
};
std::string to_json(DeployedReport const& r);
/// Both fields required, in the heartbeat's formats; at most 64 KiB. Unknown fields are ignored.
result<DeployedReport> parse_deployed_report(std::string_view json);

// --- CP → agent ---------------------------------------------------------------------------------

/// POST /api/deploy on the agent, signed by the CP's key. Idempotent by deployment_id.
struct AgentDeployRequest {
  std::string deployment_id{};
  std::string app_name{};
  std::string version{};
  std::string image{};  ///< pinned by digest
  std::map<std::string, std::string> env{};
};
std::string to_json(AgentDeployRequest const& r);
result<AgentDeployRequest> parse_agent_deploy_request(std::string_view json);

/// POST /api/undeploy on the agent, signed by the CP's key.
struct AgentUndeployRequest {
  std::string deployment_id{};  ///< empty: whatever runs
};
std::string to_json(AgentUndeployRequest const& r);
result<AgentUndeployRequest> parse_agent_undeploy_request(std::string_view json);

/// The agent's answer to deploy and undeploy.
struct AgentDeployResponse {
  std::string deployment_id{};
  std::string status{};  ///< "deploying", "running", "stopped", ...
};
std::string to_json(AgentDeployResponse const& r);
result<AgentDeployResponse> parse_agent_deploy_response(std::string_view json);

// --- agent stats --------------------------------------------------------------------------------

/// GET /api/stats on the agent (CP-signed, or a console token with scope "stats"), relayed by the
/// CP at GET /api/v1/agents/{id}/stats. Numbers only, besides the disk's path.
struct AgentStats {
  std::int64_t cpu_count = 0;
  double load1 = 0, load5 = 0, load15 = 0;
  std::uint64_t memory_total_bytes = 0, memory_available_bytes = 0;
  /// Present when the agent could read its state directory's file system.
  std::optional<std::string> disk_path{};
  std::uint64_t disk_total_bytes = 0, disk_available_bytes = 0;
  double system_uptime_seconds = 0;
  std::int64_t agent_uptime_seconds = 0;
};
/// {"cpu":{"count","load1","load5","load15"},"memory":{"total_bytes","available_bytes"},
///  "disk":{"path","total_bytes","available_bytes"} or {},"uptime":{"system_seconds","agent_seconds"}}
std::string to_json(AgentStats const& s);
/// Every member of to_json's shape required (the disk's three together, or none); counts are
/// whole numbers from 0 to 2^62, loads and the system uptime finite numbers from 0 to 1e12, the
/// path 1-4096 characters; at most 16 KiB. Unknown fields are ignored. ee::errc codes or
/// api::errc::invalid_field naming the field. Never throws (except bad_alloc).
result<AgentStats> parse_agent_stats(std::string_view json);

// --- agent health -------------------------------------------------------------------------------

/// The workload part of an agent's health answer.
struct AgentWorkload {
  std::string state{};          ///< "idle", "pulling", "starting", "running", "stopped", "failed"
  std::string deployment_id{};  ///< the deployment the workload belongs to; empty when none
  std::string image{};          ///< the image it runs, pinned by digest; empty when none
  std::string image_digest{};   ///< of the running workload; empty when none
  /// Why it failed, or what it is doing, for people; never a secret. Free text: only its type is
  /// checked.
  std::string detail{};
  std::int64_t restarts = 0;  ///< times the runtime restarted it since it was deployed
};

/// The tunnel part of an agent's health answer: cloudflared as the agent supervises it.
struct AgentTunnel {
  /// "not_started", "running", "restarting", "missing_binary", "stopped", or "none" (no token).
  std::string state{};
  std::int64_t restarts = 0;
};

/// The evidence part of an agent's health answer to `?attest=true&nonce=HEX`.
struct HealthAttestation {
  std::string quote_b64{};    ///< standard base64 of the TDX quote
  std::string report_data{};  ///< 128 hex: the nonce (zero-padded) and SHA-256 of the agent key
  std::string provider{};     ///< the quote provider: "tsm", "simulator", ...
};

/// GET /api/health on the agent (docs/agent.md), the whole answer. ee-agent builds one and writes
/// it with `to_json`; the CP (its health scrape and its recovery at start) and clients read it
/// with `parse_agent_health`. Unsigned: as trustworthy as the path it came over, except the
/// quote, which clients verify.
///
/// `to_json` writes what ee-agent always sends every time, empty strings as "", zeros and false
/// included, in the agent's order; `control_plane`, `cp_trust`, `cp_mrtd` and `last_error` only
/// when not empty, and `attestation` only when present. `parse_agent_health` requires only
/// `workload.state` (older agents and stand-ins send less): a field that is absent reads as its
/// default, as does JSON null, and "" reads as "".
struct AgentHealth {
  std::string status{};     ///< "ok"
  std::string version{};    ///< the agent's easyenclave version ("0.1.0")
  std::string mode{};       ///< "agent" or "cp-bootstrap"
  std::string agent_id{};   ///< the id the CP gave it; empty before it registered
  std::string vm_name{};
  bool registered = false;  ///< it holds a registration with the CP
  std::string hostname{};   ///< its tunnel hostname; empty before it registered or without one
  /// The agent's key, base64 DER SubjectPublicKeyInfo; empty when left out. Only its size is
  /// checked here: clients judge it against the quote (key binding) and the CP's record.
  std::string public_key{};
  std::int64_t uptime_seconds = 0;  ///< since the agent started
  AgentWorkload workload{};
  AgentTunnel tunnel{};
  /// cp-bootstrap: the state of ee-cp, in the words of `tunnel.state`; empty in agent mode.
  std::string control_plane{};
  /// Agent mode: how it trusts the CP's key, "attested", "not_attested" or
  /// "trust_on_first_use"; empty in cp-bootstrap mode.
  std::string cp_trust{};
  /// With cp_trust "attested": the CP's attested MRTD, 96 lowercase hex; empty otherwise.
  std::string cp_mrtd{};
  /// The last registration or heartbeat problem, for people; never a secret. Free text: only its
  /// type is checked.
  std::string last_error{};
  /// Present when the request asked for attestation.
  std::optional<HealthAttestation> attestation{};
};
/// Compact JSON as described at AgentHealth. Does not throw (but std::bad_alloc).
std::string to_json(AgentHealth const& h);
/// Requires `workload` with its `state`, and `attestation.quote_b64` when `attestation` is
/// there; checks every field it reads (id, names, version, image, digest, states, hostname,
/// counts, base64 and hex formats, sizes) and names the field at fault
/// ("body.workload.image_digest", "body.tunnel.restarts"). Ignores fields it does not know.
/// Fails with a ee::errc code or errc::invalid_field; does not throw.
result<AgentHealth> parse_agent_health(std::string_view json);

}  // namespace ee::api
