#pragma once
// What the CP's handlers and background tasks use, built once by ControlPlane::start and alive
// as long as it is. Handlers are free functions over this struct (STYLE.md, route handlers).
#include "cp/agent_listing.hpp"
#include "cp/agent_networks.hpp"
#include "cp/cp_metrics.hpp"
#include "cp/key_cache.hpp"
#include "cp/live_settings.hpp"
#include "cp/nonces.hpp"
#include "cp/oauth_states.hpp"
#include "cp/secrets.hpp"
#include "detail/offload.hpp"

#include <easyenclave/api/agents.hpp>
#include <easyenclave/api/signing.hpp>
#include <easyenclave/cloudflare/tunnels.hpp>
#include <easyenclave/cp/control_plane.hpp>
#include <easyenclave/cp/policy.hpp>
#include <easyenclave/http/client.hpp>
#include <easyenclave/http/router.hpp>
#include <easyenclave/jwt/github_oidc.hpp>
#include <easyenclave/jwt/jwks_cache.hpp>
#include <easyenclave/registry/store.hpp>
#include <easyenclave/tdx/appraisal.hpp>
#include <easyenclave/tdx/verify.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ee::cp {

using TimePoint = std::chrono::system_clock::time_point;

/// Evidence as a registration or heartbeat carries it.
struct Evidence {
  std::string nonce{};
  std::string intel_ta_token{};
  std::string quote_b64{};
};

/// The replay guard of signed requests over a store port (Stores::replays): memory in one
/// process, shared by replicas on one database. A store that fails refuses the signature.
class StoredSignatures final : public api::SeenSignatures {
 public:
  explicit StoredSignatures(std::shared_ptr<registry::OnceStore> store) : store_(std::move(store)) {}
  bool first_use(std::string_view signature, TimePoint expires_at, TimePoint now) override;

 private:
  std::shared_ptr<registry::OnceStore> store_;
};

/// The counts GET /health shows, read from the stores at most once a second: /health is what
/// load balancers and monitors poll, and must not cost database queries each time.
class StatusCounts {
 public:
  struct Counts {
    std::size_t agents = 0;
    std::size_t apps = 0;
    std::size_t used_nonces = 0;
  };
  static constexpr std::chrono::seconds kLifetime{1};

  /// The counts read less than kLifetime before `now`, if any.
  std::optional<Counts> fresh(std::chrono::steady_clock::time_point now) const {
    std::lock_guard lock(mutex_);
    if (!read_at_ || now - *read_at_ >= kLifetime) return std::nullopt;
    return counts_;
  }
  void remember(Counts counts, std::chrono::steady_clock::time_point read_at) {
    std::lock_guard lock(mutex_);
    counts_ = counts;
    read_at_ = read_at;
  }

 private:
  mutable std::mutex mutex_;
  Counts counts_{};
  std::optional<std::chrono::steady_clock::time_point> read_at_{};
};

struct Services {
  Options const& options;
  std::function<TimePoint()> now{};
  TimePoint started_at{};
  /// This start of this process (a UUID): the holder of its leases.
  std::string instance_id{};
  bool dev = false;
  /// Trust every MRTD: dev mode with no trusted MRTD configured.
  bool trust_any_mrtd = false;
  /// Options::owner_proof_mode resolved (required, or optional in dev, when unset).
  OwnerProofMode owner_proof_mode = OwnerProofMode::required;
  AgentNetworks agent_networks{};

  registry::Stores stores{};
  boost::asio::thread_pool& store_pool;
  std::shared_ptr<http::Client> http{};
  NonceTable& nonces;
  api::SeenSignatures& replay_guard;
  KeyCache& agent_keys;
  api::SigningKey signing_key;
  std::shared_ptr<cloudflare::TunnelProvider> tunnels{};
  std::shared_ptr<tdx::QuoteProvider> quote_provider{};
  std::mutex& quote_provider_mutex;  // providers are not required to be thread-safe

  tdx::Verifier verifier;
  jwt::JwksCache& ita_keys;
  jwt::JwksCache& github_keys;

  StatusCounts& status_counts;

  /// vm_names with a registration in flight: a second one for the same name is refused until
  /// the first is stored, so two registrations never decide on the same stale record.
  std::mutex& registering_mutex;
  std::set<std::string>& registering;

  CpMetrics& metrics;

  /// Session tokens and API keys verified before (auth.cpp, sessions.cpp), the pool Argon2id runs
  /// on, and the cost of new hashes.
  VerifiedSecrets& verified_keys;
  boost::asio::thread_pool& hash_pool;
  Argon2Params argon2{};
  /// Only the operator may create accounts (Access::account_creation).
  bool accounts_admin_only = false;
  OAuthStates& oauth_states;
  /// GitHub sign-in (null: not set up).
  std::shared_ptr<GithubOAuthClient> github_oauth{};

  /// GET /agents's snapshot of every agent's JSON (agent_listing.hpp).
  AgentListing& agent_listing;

  /// Settings changed at run time (null without Options::settings or stores.settings).
  LiveSettings* live = nullptr;

  /// Has the next step of a rolling deploy started soon, off the request that made a step run
  /// (set by ControlPlane when it runs background tasks; the maintenance pass starts any step
  /// that is due as well, so a lost kick only delays).
  std::function<void(std::string rollout_id)> kick_rollout{};

  /// The timings in force: Options::timings with the reloadable keys as currently set.
  Timings timings() const { return live != nullptr ? live->current()->timings : options.timings; }
  /// Timings::reregistration_grace resolved: three heartbeat intervals when zero.
  std::chrono::seconds reregistration_grace() const {
    auto const t = timings();
    return t.reregistration_grace.count() > 0 ? t.reregistration_grace : 3 * t.heartbeat_interval;
  }

  /// Runs a blocking call (a store, the quote provider) on the worker pool, off the I/O threads.
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F&>> store(F f) {
    co_return co_await detail::offload(store_pool, std::move(f));
  }
  /// Runs Argon2id (hash_secret, verify_secret, verify_nothing) on its own pool: off the I/O
  /// threads, and off the store threads so that a flood of wrong credentials cannot hold up the
  /// database calls agents' heartbeats wait on.
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F&>> hash(F f) {
    co_return co_await detail::offload(hash_pool, std::move(f));
  }
};

// --- the attestation gate (attestation_gate.cpp) ----------------------------------------------------

/// Evidence that passed the gate. It holds the nonce the evidence used: `consume()` keeps it used;
/// a pass dropped without it makes the nonce usable again, so a nonce is spent only by a
/// registration or re-attestation that succeeds (a later step failing leaves the agent free to
/// retry with the same challenge). Move-only.
class AttestationPass {
 public:
  AttestationPass(Services& services, std::optional<NonceTable::Entry> nonce, tdx::Appraisal appraisal,
                  std::vector<PolicyWarning> warnings);
  AttestationPass(AttestationPass&& other) noexcept;
  AttestationPass& operator=(AttestationPass&&) = delete;
  AttestationPass(AttestationPass const&) = delete;
  AttestationPass& operator=(AttestationPass const&) = delete;
  ~AttestationPass();

  tdx::Appraisal const& appraisal() const noexcept { return appraisal_; }
  /// The stored form of the appraisal.
  registry::AttestationRecord const& record() const noexcept { return record_; }
  /// What the policy tolerated (to log).
  std::vector<PolicyWarning> const& warnings() const noexcept { return warnings_; }
  /// Keeps the nonce used: the operation the evidence was for has succeeded.
  void consume() noexcept { nonce_.reset(); }

 private:
  Services* services_;
  std::optional<NonceTable::Entry> nonce_;
  tdx::Appraisal appraisal_;
  registry::AttestationRecord record_;
  std::vector<PolicyWarning> warnings_;
};

/// The one gate registration and re-attestation pass through, in this order:
///   1. the nonce: taken per the nonce mode, reserved for `vm_name` when it was issued for one;
///   2. the appraisal: the quote verified locally or the ITA token, as the policy allows;
///   3. the binding: the verified report data begins with the nonce and carries SHA-256 of `key`
///      (when given) in bytes 32..64;
///   4. the judgement: the trusted measurements and the policy for an agent of `node_size`.
/// Errors: those of each step (cp::errc::unknown_nonce, nonce_expired, nonce_for_other_vm,
/// evidence_missing, appraiser_not_allowed, attestation_failed, nonce_not_bound, key_not_bound,
/// the policy's codes, upstream failures of key sets and collateral); after any of them the
/// nonce is usable again.
boost::asio::awaitable<result<AttestationPass>> pass_attestation_gate(Services& services, Evidence const& evidence,
                                                                      std::string const& vm_name,
                                                                      std::optional<api::PublicKey> const& key,
                                                                      std::string const& node_size);

/// The stored form of an appraisal.
registry::AttestationRecord attestation_record(tdx::Appraisal const& appraisal);

// --- bootstrap tokens (bootstrap_tokens.cpp) -------------------------------------------------------

/// SHA-256 (hex) of a bootstrap token: the only form the CP keeps.
std::string bootstrap_token_hash(std::string_view secret);
/// What a minting request may constrain; zero and empty: the defaults (1 use, 24 h, any).
struct BootstrapTokenRequest {
  std::int64_t uses = 1;
  std::int64_t expires_in_seconds = 24 * 3600;
  std::string vm_name{}, datacenter{}, node_size{};
};
/// Parses and bounds the body of POST /owners/bootstrap-tokens (uses 1-1000, expiry 60 s to
/// 30 days). ee::errc codes naming the field.
result<BootstrapTokenRequest> parse_bootstrap_token_request(std::string_view body);
/// A new token for the owner of `claims`: the record to store and the secret (shown once).
result<std::pair<registry::BootstrapToken, std::string>> mint_bootstrap_token(jwt::GithubClaims const& claims,
                                                                              BootstrapTokenRequest const& request,
                                                                              TimePoint now);
/// The stored token `secret` names, if it admits `request`: unknown, expired or used up is
/// errc::bootstrap_token_invalid; another owner, vm_name, datacenter or node size is
/// errc::bootstrap_token_mismatch. Spends nothing (see BootstrapTokenStore::use).
boost::asio::awaitable<result<registry::BootstrapToken>> find_bootstrap_token(Services& services,
                                                                              std::string const& secret,
                                                                              api::RegisterRequest const& request);

// --- agents' APIs (agent_calls.cpp) ----------------------------------------------------------------

/// The base URL of the agent's API: https://<hostname> of the tunnel the CP created, else the
/// origin of its agent_url when dev mode or Options::agent_networks allow it (never its path).
/// errc::agent_unreachable saying why not.
result<std::string> agent_base_url(Services const& services, registry::AgentRecord const& agent);
/// Sends a request signed with the CP's key to the agent's API. A non-2xx answer is
/// errc::agent_unreachable naming the status; the response is returned on 2xx.
boost::asio::awaitable<result<http::Response>> call_agent(Services& services,
                                                          registry::AgentRecord const& agent,
                                                          boost::beast::http::verb method,
                                                          std::string target, std::string body);

/// The agent's answer to /api/deploy or /api/undeploy, read as api::AgentDeployResponse and
/// about `deployment_id` (when not empty): errc::agent_answer_malformed otherwise, never relayed.
result<api::AgentDeployResponse> read_deploy_answer(http::Response const& response, std::string const& deployment_id,
                                                    std::string const& agent_id);

// --- recovery after a restart (recovery.cpp) ---------------------------------------------------------

/// What a previous run of the CP may have left half-done: deployments `pending` or `deploying`,
/// and agents holding a deployment. Read before the server accepts its first request, so nothing
/// in it was started by this run.
struct InFlight {
  std::vector<registry::Deployment> deployments{};
  std::vector<registry::AgentRecord> holders{};
};

/// Reads the in-flight state from the stores. Blocking.
result<InFlight> read_in_flight(Services& services);

/// How long after its last change a `pending` deployment may still be in its dispatcher's hands:
/// the agent call (Timings::agent_call_timeout) and the store write after it.
std::chrono::seconds dispatch_grace(Services const& services);

/// Settles `in_flight` (see ControlPlane::recover_deployments), asking each deployment's agent
/// what it runs, at most eight at a time. Logs one line per deployment kept or failed and per
/// agent freed. `pending` deployments changed after `defer_pending_changed_after` (now minus
/// dispatch_grace, at first) are not judged but returned in `deferred`: another replica may be
/// dispatching them.
struct Recovered {
  RecoveryReport report{};
  std::vector<registry::Deployment> deferred{};
};
boost::asio::awaitable<result<Recovered>> recover_in_flight(Services& services, InFlight const& in_flight,
                                                            TimePoint defer_pending_changed_after);
/// After recover_in_flight deferred some: waits out dispatch_grace (timed here, not by the
/// records' clock), then judges those still `pending` and unchanged, which have no living
/// dispatcher (it would have moved them on).
boost::asio::awaitable<result<void>> recover_deferred(Services& services, std::vector<registry::Deployment> deferred);

// --- background work (tasks.cpp) --------------------------------------------------------------------

/// Removes the agent: its tunnel and DNS record (when it has them), its deployment (stopped with
/// `reason`) and its record.
boost::asio::awaitable<result<void>> remove_agent(Services& services, registry::AgentRecord const& agent,
                                                  std::string reason);
/// One pass: purge expired nonces, remove stale agents, fail stuck deployments.
boost::asio::awaitable<result<MaintenanceReport>> run_maintenance_pass(Services& services);
/// One scrape of every agent's /api/health with the hysteresis applied.
boost::asio::awaitable<result<void>> run_health_scrape(Services& services);

// --- metrics (cp_metrics.cpp) -------------------------------------------------------------------------

/// The registry in the text format, with the scrape-time gauges (agents by status, active
/// deployments) read from the stores when older than CpMetrics::kGaugeLifetime. A store that
/// fails leaves the gauges as last read (logged), so a scrape still answers.
boost::asio::awaitable<http::Response> render_metrics(Services& services);
/// The router of Options::metrics_server: GET /metrics, to anyone.
http::Router metrics_router(Services& services);

// --- JSON views (views.cpp): public forms, never a secret ------------------------------------------

std::string agent_json(registry::AgentRecord const& agent, TimePoint now);
std::string agents_json(std::vector<registry::AgentRecord> const& agents, TimePoint now);
std::string attestation_json(registry::AgentRecord const& agent);
std::string app_json(registry::App const& app, std::vector<registry::AppVersion> const* versions);
std::string apps_json(std::vector<registry::App> const& apps);
std::string version_json(registry::AppVersion const& version);
std::string deployment_json(registry::Deployment const& deployment);
/// The same with its history (GET /deployments/{id}).
std::string deployment_json(registry::Deployment const& deployment, std::vector<registry::DeploymentChange> const& history);
std::string deployments_json(std::vector<registry::Deployment> const& deployments);
std::string measurement_json(registry::TrustedMeasurement const& m);
std::string measurements_json(std::vector<registry::TrustedMeasurement> const& ms);

}  // namespace ee::cp
