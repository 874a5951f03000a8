#pragma once
/// @file The agent runtime: what runs inside each TDX VM. It keeps a P-256 key in memory (and,
/// with `Options::key_file`, in a tmpfs file across restarts of its process), attests the control
/// plane when told what to expect (`Options::cp_attestation`), attests itself (the CP's nonce and
/// the key's digest bound into a quote's report data), registers with the control plane, keeps cloudflared up with the tunnel token it got, runs one workload,
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
#include <easyenclave/tdx/fetcher.hpp>
#include <easyenclave/tdx/policy.hpp>
#include <easyenclave/tdx/provider.hpp>
#include <easyenclave/tdx/verify.hpp>

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

/// What the agent requires of the control plane's own attestation before it trusts the CP's key.
///
/// Before each registration the agent makes 32 random bytes, asks `GET {cp_url}/api/v1/attestation
/// ?nonce=HEX` and accepts the CP only when, in this order: the quote is appraised (`appraiser`);
/// the appraised REPORTDATA[0..32) is the agent's nonce; REPORTDATA[32..64) is SHA-256 of the
/// `cp_public_key` the route returned; `policy` accepts the TD (MRTD, RTMRs, TCB status, debug).
/// The register answer's `cp_public_key` must then be that attested key; when it differs (the CP
/// changed its key) the CP is attested again, once, and must now bind the answered key.
/// Otherwise the agent does not accept the registration, accepts no CP command, and retries with
/// backoff (`RegistrationTimings::retry_min` .. `retry_max`).
struct CpAttestationPolicy {
  enum class Appraiser {
    dcap,  ///< local DCAP verification (`tdx::verify`) to `root`, with Intel collateral
    ita,   ///< Intel Trust Authority appraises the quote; its token is verified against its JWKS
  };
  Appraiser appraiser = Appraiser::dcap;
  /// Judges the appraised TD with `tdx::judge`: set `allowed_mrtds` to the expected MRTD (empty
  /// is refused by `AgentRuntime::start`: without an MRTD there is nothing to attest against),
  /// `expected_rtmrs`, the TCB statuses and debug policy.
  tdx::Policy policy{};
  /// dcap: the pinned root of the PCK chain. The simulator's root only in development.
  tdx::TrustedRoot root = tdx::TrustedRoot::intel_sgx_root_ca();
  /// dcap: fixed collateral (a bundle file); when null, `collateral_fetcher` is used.
  std::shared_ptr<tdx::Collateral const> collateral{};
  /// dcap: fetches collateral for the CP's platform. Null (and no `collateral`): one for Intel
  /// PCS over the agent's HTTP client.
  std::shared_ptr<tdx::CollateralFetcher> collateral_fetcher{};
  /// ita: the appraisal client's settings (base URL and API key; secret).
  jwt::ItaClientOptions ita{};
  /// ita: the key set ITA signs tokens with, and how tokens are verified.
  std::string ita_jwks_url{jwt::kItaJwksUrl};
  jwt::ItaVerifyOptions ita_verify{};
};

/// How the agent trusts the control plane's key, as `/api/health` reports it (`cp_trust`).
enum class CpTrust {
  trust_on_first_use,  ///< no `cp_attestation`: the key of the first register answer is taken
  not_attested,        ///< `cp_attestation` is set and the CP has not passed it (yet)
  attested,            ///< the registered CP's key is bound into a quote the policy accepted
};
/// "trust_on_first_use", "not_attested", "attested".
std::string_view to_string(CpTrust trust) noexcept;

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
  /// Agent mode: attest the CP before trusting its key. Unset: trust on first use (TLS to
  /// `cp_url` only).
  std::optional<CpAttestationPolicy> cp_attestation{};
  /// cp-bootstrap: the ee-cp command; it inherits the agent's environment plus `cp_env`.
  std::vector<std::string> cp_command{};
  std::map<std::string, std::string> cp_env{};

  // --- local state and services
  /// Keeps the registration (agent id, hostname, tunnel token) so a reboot brings the tunnel up
  /// before the CP answers. Created 0700; the file 0600. The agent's key is never written here.
  std::filesystem::path state_dir = "/data/ee-agent";
  /// Keeps the agent's key across restarts of this process, in memory the host cannot read: the
  /// file's directory must be on a tmpfs or ramfs (unless `key_file_allow_disk`); it is created
  /// 0700 when missing. An existing file is loaded and must be a regular file owned by the
  /// effective user with no access for group or others, holding a P-256 key in PEM; a missing
  /// one is created (0600, written beside it and renamed). Empty: the key lives only in this
  /// process (a new one each start).
  std::filesystem::path key_file{};
  /// Development: accept a `key_file` on any file system (a disk the host can read).
  bool key_file_allow_disk = false;
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
  /// How the CP's key is trusted; with `attested`, the CP's attested MRTD (hex).
  CpTrust cp_trust = CpTrust::trust_on_first_use;
  std::string cp_mrtd{};
};

class AgentRuntime {
 public:
  /// Validates the options, loads or creates the key (`key_file`), loads the saved registration
  /// (starting the tunnel it names), starts the API server and the registration/heartbeat loop
  /// (or ee-cp, in cp-bootstrap mode).
  /// @returns agent::errc::invalid_config for missing or malformed options (a `cp_attestation`
  ///          without an MRTD); agent::errc::key_file_refused naming what is wrong with the key
  ///          file; the server's and the state directory's errors. Never throws (except
  ///          bad_alloc).
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
