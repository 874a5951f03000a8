#pragma once
/// @file The agent runtime: what runs inside each TDX VM. It generates a P-256 key in memory,
/// attests (the CP's nonce and the key's digest bound into a quote's report data), registers with
/// the control plane, keeps cloudflared up with the tunnel token it got, runs one workload,
/// heartbeats (signed with the attested key, with fresh evidence when the CP asks), and serves a
/// small API whose mutating and private routes accept only requests signed by the CP it
/// registered with. In cp-bootstrap mode it runs ee-cp itself as its workload instead.
///
/// `ee-agent` is a thin main over this; C++ applications embed it the same way, with their own
/// quote provider, workload runtime or HTTP client.
///
/// Agent API (served on `Options::server`):
///   GET  /api/health[?attest=true&nonce=HEX]   public; with attest, a fresh quote binding the
///                                              caller's nonce (≤ 32 bytes) and the agent's key
///   GET  /api/logs[?since=RFC3339&lines=N]     signed by the CP
///   GET  /api/stats                            signed by the CP: cpu, memory, disk, uptime
///   POST /api/deploy    api::AgentDeployRequest, signed by the CP; idempotent by deployment id
///   POST /api/undeploy  api::AgentUndeployRequest, signed by the CP
///   any other path      passed to the workload (`Options::workload_url`)
#include <easyenclave/agent/log_buffer.hpp>
#include <easyenclave/agent/workload.hpp>
#include <easyenclave/error.hpp>
#include <easyenclave/http/client.hpp>
#include <easyenclave/http/server.hpp>
#include <easyenclave/jwt/ita.hpp>
#include <easyenclave/tdx/provider.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ee::agent {

enum class Mode {
  agent,         ///< register with a CP and run what it deploys
  cp_bootstrap,  ///< run ee-cp as the workload; no registration
};

struct RegistrationTimings {
  /// Backoff between failed registration attempts (transport errors, 5xx), doubled up to the cap,
  /// with jitter.
  std::chrono::milliseconds retry_min{1'000};
  std::chrono::milliseconds retry_max{60'000};
  /// After a refusal that retrying cannot fix (untrusted MRTD, bad owner, ...): try again this
  /// rarely, in case the operator fixes the CP's policy.
  std::chrono::milliseconds refused_retry{300'000};
  /// Fresh evidence with a heartbeat at least this often, even if the CP does not ask.
  std::chrono::seconds reattestation_interval{3600};
  /// Used until the CP says otherwise in its register response.
  std::chrono::seconds heartbeat_interval{30};
  /// Accepted clock distance of CP-signed requests.
  std::chrono::seconds signature_window{300};
  /// Timeout of one call to the CP or to Intel Trust Authority.
  std::chrono::seconds call_timeout{30};
};

struct Options {
  Mode mode = Mode::agent;

  // --- identity, sent at registration
  std::string cp_url{};  ///< "https://cp.example.com" (agent mode)
  std::string vm_name{};
  std::string owner{};  ///< "github:org/NAME" or "github:user/NAME"
  std::string node_size{};
  std::string datacenter{};
  /// Where the CP can reach this API without a tunnel (dev); empty in production.
  std::string agent_url{};

  // --- evidence
  /// Where quotes come from (configfs-tsm in a TD, the simulator in dev). Required.
  std::shared_ptr<tdx::QuoteProvider> quotes{};
  /// When set, each quote is also appraised by Intel Trust Authority and the token is sent.
  std::optional<jwt::ItaClientOptions> ita{};
  /// Send the raw quote for the CP's local DCAP appraisal (appraisal "quote"). With `ita` unset
  /// the quote is always sent.
  bool send_quote = true;

  // --- what runs
  /// The workload runtime (agent mode). Required in agent mode.
  std::shared_ptr<WorkloadRuntime> workload{};
  /// Where the workload serves. The agent API passes every request whose path is not one of its
  /// own there, so the agent's address serves like its tunnel hostname does (whose ingress sends
  /// those paths to the workload directly): in dev, without a tunnel, clients reach the service
  /// and the agent's attestation at one address. Empty: such paths answer 404.
  std::string workload_url = "http://127.0.0.1:8080";
  /// cloudflared (a path, or a name in PATH). It is run as `cloudflared tunnel --no-autoupdate
  /// run` with the token in TUNNEL_TOKEN, so the token never shows in the process list.
  std::string cloudflared = "cloudflared";
  /// cp-bootstrap: the pre-configured tunnel token (agent mode gets its token from the CP).
  std::string tunnel_token{};
  /// The owner's bootstrap token, sent with every registration (the CP spends one use only when
  /// it admits a new vm_name or key). Secret: never logged.
  std::string bootstrap_token{};
  /// cp-bootstrap: the ee-cp command; it inherits the agent's environment plus `cp_env`.
  std::vector<std::string> cp_command{};
  std::map<std::string, std::string> cp_env{};

  // --- local state and services
  /// Keeps the registration (agent id, hostname, tunnel token) so a reboot brings the tunnel up
  /// before the CP answers. Created 0700; the file 0600. The agent's key is never written.
  std::filesystem::path state_dir = "/data/ee-agent";
  http::ServerOptions server{};
  /// Outbound HTTP (CP, ITA). Null: `http::make_https_client()`.
  std::shared_ptr<http::Client> http{};
  /// The shared log buffer. Null: a new 4 MiB one.
  std::shared_ptr<LogBuffer> logs{};
  RegistrationTimings timings{};
  std::function<std::chrono::system_clock::time_point()> now = [] {
    return std::chrono::system_clock::now();
  };
};

/// A snapshot for health and tests.
struct AgentStatus {
  Mode mode = Mode::agent;
  bool registered = false;
  std::string agent_id{};
  std::string hostname{};
  std::string vm_name{};
  /// "not_started", "running", "restarting", "missing_binary", "stopped", or "none" (no token).
  std::string tunnel{};
  int tunnel_restarts = 0;
  /// cp-bootstrap: the state of ee-cp, as `tunnel`.
  std::string control_plane{};
  WorkloadStatus workload{};
  /// The last registration or heartbeat problem, for operators; never a secret.
  std::string last_error{};
};

class AgentRuntime {
 public:
  /// Validates the options, loads the saved registration (starting the tunnel it names), starts
  /// the API server and the registration/heartbeat loop (or ee-cp, in cp-bootstrap mode).
  /// @returns agent::errc::invalid_config for missing or malformed options; the server's and
  ///          the state directory's errors. Never throws (except bad_alloc).
  static result<std::unique_ptr<AgentRuntime>> start(Options options);
  ~AgentRuntime();

  /// "http://HOST:PORT" of the agent API.
  std::string url() const;
  boost::asio::ip::tcp::endpoint endpoint() const noexcept;
  AgentStatus status() const;
  /// The agent's public key as registered (base64 DER SubjectPublicKeyInfo).
  std::string public_key() const;
  std::shared_ptr<LogBuffer> logs() const;
  /// Blocks until the agent is registered (true) or `timeout` passes (false).
  bool wait_registered(std::chrono::milliseconds timeout) const;
  /// Stops everything: the loop, the API server, the workload's log follower, cloudflared and
  /// ee-cp. The workload itself keeps running (a restarted agent re-registers and reports it).
  void stop();
  /// Blocks until SIGINT/SIGTERM, then stops.
  void wait_for_signal();

  struct Impl;

 private:
  explicit AgentRuntime(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace ee::agent
