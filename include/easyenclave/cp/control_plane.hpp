#pragma once
/// @file The control plane as a library object. `ee-cp` is a thin main over it; third parties
/// build their own control plane the same way: swap a store, add routes, add an admission hook.
///
/// What it serves is listed in docs/api.md (and docs/openapi.json): agent challenge,
/// registration, heartbeats and listing; the app catalog; deploys by GitHub identity;
/// deployments; trusted measurements and their admin routes; the CP's own attestation.
/// Every route answers under `/api/v1/...` and, for agents of the earlier control plane, under
/// `/api/...`.
#include <easyenclave/api/agents.hpp>
#include <easyenclave/api/signing.hpp>
#include <easyenclave/cloudflare/tunnels.hpp>
#include <easyenclave/cp/access.hpp>
#include <easyenclave/cp/github_oauth.hpp>
#include <easyenclave/cp/error.hpp>
#include <easyenclave/cp/policy.hpp>
#include <easyenclave/error.hpp>
#include <easyenclave/http/client.hpp>
#include <easyenclave/http/router.hpp>
#include <easyenclave/http/server.hpp>
#include <easyenclave/metrics.hpp>
#include <easyenclave/registry/store.hpp>
#include <easyenclave/settings.hpp>
#include <easyenclave/tdx/appraisal.hpp>
#include <easyenclave/tdx/collateral.hpp>
#include <easyenclave/tdx/fetcher.hpp>
#include <easyenclave/tdx/provider.hpp>
#include <easyenclave/tdx/verify.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ee::cp {

/// What an admission hook sees: the validated registration and its appraisal, which already
/// passed the nonce, key-binding and policy checks.
struct Admission {
  api::RegisterRequest const& request;
  tdx::Appraisal const& appraisal;
};

/// Intervals of the CP's background work and its protocol timings.
struct Timings {
  std::chrono::seconds nonce_ttl{300};
  /// How often agents heartbeat (sent to them at registration).
  std::chrono::seconds heartbeat_interval{30};
  /// How old an agent's last appraisal may get before a heartbeat asks for fresh evidence.
  std::chrono::seconds reattestation_interval{3600};
  /// Accepted clock distance for signed requests.
  std::chrono::seconds signature_window{300};
  /// Agents without a heartbeat for this long are removed with their tunnel (EE_AGENT_STALE_HOURS).
  std::chrono::seconds agent_stale_after{std::chrono::hours(24)};
  /// Deployments still `pending`/`deploying` after this long are failed.
  std::chrono::seconds deploy_timeout{600};
  /// How often background tasks run (nonce purge, stale agents, stuck deployments).
  std::chrono::seconds maintenance_interval{60};
  /// How often each agent's `/api/health` is scraped; 0 disables scraping.
  std::chrono::seconds health_scrape_interval{60};
  /// How long the agent recorded for a vm_name must have been silent (no heartbeat) before a
  /// registration with another key may take its place without the recorded key's signature or
  /// an owner's bootstrap token. Zero: three heartbeat intervals.
  std::chrono::seconds reregistration_grace{0};
  /// Timeout of one call to an agent's API (deploy, undeploy, logs, health).
  std::chrono::seconds agent_call_timeout{15};
};

/// A route of the embedder's own (Options::extra_routes). Who may call it is declared here, like
/// every built-in route's: the CP admits the request (docs/api.md, "Who may call what") before
/// `handler` runs.
/// Accounts and their API keys (docs/api.md, "Accounts"). With no account ever created the CP
/// behaves as without them.
struct AccountOptions {
  /// Argon2id cost of new API key hashes (a stored hash keeps the cost it was made with). Below
  /// OWASP's minimum for Argon2id (19456 KiB, 2 iterations, 1 lane), or above 1 GiB, 64
  /// iterations or 16 lanes, `start` fails with core errc::out_of_range.
  std::uint32_t argon2_memory_kib = 19456;
  std::uint32_t argon2_iterations = 2;
  std::uint32_t argon2_parallelism = 1;
  /// Only the operator may create accounts (POST /api/v1/accounts answers others 401/403).
  bool admin_only_creation = false;
  /// Verified (key, stored hash) pairs kept in memory, so a key used again costs a SHA-256
  /// rather than an Argon2id run; 0: none (every request with a key runs Argon2id).
  std::size_t verified_key_cache = 10'000;
  /// Threads that run Argon2id (new keys, and keys not in the cache), apart from the store
  /// threads so that a flood of wrong keys cannot hold up the database; each run holds
  /// `argon2_memory_kib` of memory. At least 1.
  std::size_t hash_threads = 2;
};

struct ExtraRoute {
  boost::beast::http::verb method{};
  std::string pattern{};  ///< the whole path pattern, such as "/api/v1/hello"
  Access access = Access::admin;
  http::Handler handler{};
};

/// People signing in (docs/operations.md, "Sessions"): the admin password and GitHub OAuth.
/// Sessions need `Options::stores.sessions` (every database the CP opens has it). With no
/// password and no OAuth app set, no session is ever made and the CP behaves as without them.
struct LoginOptions {
  /// Argon2id PHC string ("$argon2id$v=19$...") of the admin password; `make_options` hashes
  /// CP_ADMIN_PASSWORD at start or takes CP_ADMIN_PASSWORD_HASH as it is. Empty: no password
  /// login.
  std::string admin_password_hash{};
  /// GitHub logins (lowercase) whose OAuth sessions are the operator's; everyone else who signs
  /// in with GitHub gets an owner session, scoped to their account and organisations.
  std::vector<std::string> admin_github_logins{};
  /// The GitHub OAuth app. Empty client_id: no GitHub sign-in.
  GithubOAuthSettings github{};
  /// Talks to GitHub for the OAuth flow. Null: made from `github` with `Options::http`.
  std::shared_ptr<GithubOAuthClient> github_client{};
  /// How long a session lasts.
  std::chrono::seconds session_ttl{24 * 3600};
  /// How long a browser has between GET /auth/github and the callback.
  std::chrono::seconds oauth_state_ttl{600};
  /// Where the browser goes after a GitHub sign-in (a path on this CP).
  std::string after_login_path = "/";
};

struct Options {
  /// Where the API listens; port 0 lets the kernel pick (see `ControlPlane::endpoint`).
  http::ServerOptions server{};
  /// Where the CP counts its requests, registrations, attestations, heartbeats, tunnel
  /// operations, deployments, background passes and the process's figures; served at
  /// GET /metrics to the operator (docs/operations.md lists the metrics). Null: its own.
  std::shared_ptr<metrics::Registry> metrics{};
  /// A second listener that serves only GET /metrics, to anyone: for a Prometheus that scrapes
  /// over a private network without the admin token. Unset: none.
  std::optional<http::ServerOptions> metrics_server{};
  /// Development mode: the start-up safety checks are skipped (so the simulator root, a
  /// disabled nonce check and an empty trusted-MRTD list are accepted) and, with no trusted
  /// MRTD configured, every MRTD is trusted.
  bool dev = false;
  /// Serve the read-only web console (docs/console.md): its page at `/` and its files under
  /// `/console/`, open to anyone and showing only what the public routes show.
  bool console = true;
  /// The clock; injected so tests control expiry, staleness and uptime.
  std::function<std::chrono::system_clock::time_point()> now = [] {
    return std::chrono::system_clock::now();
  };

  /// The registry. Null members: an in-memory SQLite database (its contents are lost at exit,
  /// which the cache design tolerates; `ee-cp --db` gives a file).
  registry::Stores stores{};
  /// Outbound HTTP (JWKS, Intel PCS, Cloudflare, agents). Null: `http::make_https_client()`.
  std::shared_ptr<http::Client> http{};

  AttestationPolicy policy{};
  /// Whether agents must prove their owner label with an owner's bootstrap token. Unset:
  /// `required`, or `optional` with `dev`; outside dev anything but `required` refuses to start.
  std::optional<OwnerProofMode> owner_proof_mode{};
  /// Where, outside dev, the CP may reach an agent at the `agent_url` it reported when it has no
  /// tunnel hostname: CIDRs ("10.0.0.0/8", "fd00::/8") that an IP-literal agent_url must fall in,
  /// or host names ("agents.internal" exactly, "*.internal" for its subdomains) a named one must
  /// match. Loopback and link-local addresses are reachable only through a CIDR that names them.
  /// Empty: agents are reached only through the tunnel hostnames the CP created, or, in dev,
  /// at every agent_url as reported (a non-empty list binds in dev too). Only the origin of an
  /// agent_url is used; the paths are the CP's.
  std::vector<std::string> agent_networks{};
  /// Seeded into the trusted-measurement store at start (kept if already there).
  std::vector<registry::TrustedMeasurement> trusted_mrtds{};
  /// Custom admission check run at every registration after the built-in ones (nonce, key
  /// binding, attestation policy), before anything is stored; not run again at heartbeat
  /// re-attestations. An error refuses the registration: its condition picks the status and
  /// its code and detail reach the agent in the error body, so return
  /// `Error(errc::admission_refused, "why, and what is expected")` (403) unless another code fits.
  /// Called on a server thread, concurrently for concurrent registrations: keep it quick and
  /// thread-safe, with no blocking I/O. Must not throw.
  std::function<result<void>(Admission const&)> admit{};

  /// Local DCAP: the root PCK chains must end at, and where collateral comes from. Set
  /// `collateral` (fixed, e.g. the simulator's) or `collateral_fetcher` (Intel PCS / a PCCS);
  /// with neither, raw quotes are refused.
  tdx::TrustedRoot quote_root = tdx::TrustedRoot::intel_sgx_root_ca();
  std::shared_ptr<tdx::Collateral const> collateral{};
  std::shared_ptr<tdx::CollateralFetcher> collateral_fetcher{};

  /// Intel Trust Authority tokens: where the signing keys are, and who may issue them.
  std::string ita_jwks_url = "https://portal.trustauthority.intel.com/certs";
  std::vector<std::string> ita_issuers{"Intel Trust Authority", "https://portal.trustauthority.intel.com"};

  /// GitHub Actions OIDC tokens (publish, deploy, undeploy).
  std::string github_jwks_url = "https://token.actions.githubusercontent.com/.well-known/jwks";
  std::string github_issuer = "https://token.actions.githubusercontent.com";
  std::string github_audience = "easyenclave";

  /// Tunnels for agents. Null (dev, no Cloudflare settings): no tunnel; the CP reaches agents
  /// at the `agent_url` they registered with.
  std::shared_ptr<cloudflare::TunnelProvider> tunnels{};
  /// The CP's signing key (signs its calls to agents; its public half goes to every agent).
  /// Unset: a fresh key, so agents re-register after a restart as they do anyway.
  std::optional<api::SigningKey> signing_key{};
  /// The CP's own quote source for `GET /api/v1/attestation` (configfs-tsm in a TDX VM, the
  /// simulator in dev). Null: that route answers 503.
  std::shared_ptr<tdx::QuoteProvider> quote_provider{};
  /// Bearer token of the admin routes. Empty (and no admin login in `logins`): admin routes
  /// answer 403.
  std::string admin_token{};
  LoginOptions logins{};
  /// The settings (of `setting_registry()`, include/easyenclave/cp/settings.hpp) these Options
  /// were made from by flags, environment and defaults; `make_options` sets it. With it and
  /// `stores.settings`, the admin settings routes show and change settings, a stored change of
  /// a reloadable key applies within seconds, and every other takes effect at the next start.
  /// Unset (an embedder filling Options itself): those routes answer 503 cp.settings_unavailable.
  std::optional<settings::Settings> settings{};

  Timings timings{};
  AccountOptions accounts{};
  /// Upper bound of used, unexpired nonces the CP remembers to keep them single use (issuing a
  /// challenge stores nothing; only a registration or re-attestation uses one).
  std::size_t max_used_nonces = 100'000;
  /// Worker threads that run blocking store calls.
  std::size_t store_threads = 4;
  /// Run the background tasks on their intervals. Tests turn this off and call
  /// `run_maintenance()` / `scrape_health()` themselves.
  bool background_tasks = true;
  /// The embedder's own routes, added after the built-in ones (same router, same server, same
  /// error bodies and limits) during `start`, each behind its declared `ExtraRoute::access`. A
  /// route that repeats a built-in (method, pattern), or whose rule needs a `{id}` or `{name}`
  /// its pattern lacks, makes `start` fail with http::errc::invalid_route, so an extension cannot
  /// shadow the protocol. The handlers run on the server's threads, concurrently: what they share
  /// must be thread-safe, and what they refer to must outlive the control plane. `routes()` lists
  /// them.
  std::vector<ExtraRoute> extra_routes{};
};

/// Counts of what one maintenance pass did.
struct MaintenanceReport {
  std::size_t nonces_purged = 0;
  std::size_t signatures_purged = 0;        ///< accepted request signatures past their window
  std::size_t bootstrap_tokens_purged = 0;  ///< expired or used up
  std::size_t sessions_purged = 0;          ///< login sessions past their expiry
  std::size_t agents_removed = 0;
  std::size_t deployments_timed_out = 0;
};

/// What the recovery pass at start did (`ControlPlane::recover_deployments`).
struct RecoveryReport {
  /// In-flight deployments whose agent runs them: kept `deploying`, or made `running`.
  std::size_t deployments_kept = 0;
  /// In-flight deployments failed: their agent runs something else, nothing, reported them
  /// failed, answered malformed, could not be reached, or is gone.
  std::size_t deployments_failed = 0;
  /// Agents freed that held a deployment with no record, or one already over.
  std::size_t agents_released = 0;
  /// `pending` deployments changed less than the agent call timeout (plus a margin) ago, left
  /// alone: another process sharing the database may still be dispatching them. The pass `start`
  /// runs settles them once they are that old; `recover_deployments` reports them.
  std::size_t deployments_deferred = 0;
};

/// A running control plane. Thread-safe; stops on destruction.
class ControlPlane {
 public:
  /// Checks the configuration, opens what is missing, builds the routes and starts serving.
  /// @returns cp::errc::unsafe_configuration when, outside dev mode, the simulator root is
  ///          trusted, nonce checking is not `required`, no trusted MRTD is configured, or the
  ///          quote provider is the simulator; the stores' and the server's errors otherwise.
  ///          Never throws (except bad_alloc).
  static result<std::unique_ptr<ControlPlane>> start(Options options);
  ~ControlPlane();

  boost::asio::ip::tcp::endpoint endpoint() const noexcept;
  /// "http://127.0.0.1:PORT".
  std::string url() const;
  /// The metrics listener's address, when Options::metrics_server started one.
  std::optional<boost::asio::ip::tcp::endpoint> metrics_endpoint() const;
  /// Every route this CP serves, built-in and extra, with who may call it, in registration
  /// order (docs/api.md and docs/openapi.json are checked against it).
  std::vector<RouteInfo> routes() const;
  /// The CP's public key as sent to agents (base64 DER SubjectPublicKeyInfo).
  std::string public_key() const;
  /// Graceful stop: background tasks first, then the server (see `http::Server::stop`).
  void stop();
  /// Blocks until SIGINT/SIGTERM (then stops gracefully) or `stop()`.
  void wait_for_signal();

  /// One pass of the maintenance tasks: purge expired nonces, remove stale agents (and their
  /// tunnels), fail deployments stuck past the deploy timeout. Blocking; safe beside the
  /// scheduled runs.
  result<MaintenanceReport> run_maintenance();
  /// One scrape of every agent's `/api/health`, applying the hysteresis (down after 3 failures,
  /// up after 2 successes). Blocking.
  result<void> scrape_health();
  /// Settles what a CP that stopped abruptly (kill -9, power loss) left half-done in the deploy
  /// path, so an interrupted deploy can be retried at once instead of after the deploy timeout.
  /// For each deployment `pending` or `deploying`, it asks the agent's `/api/health` (a call
  /// signed by the CP, with the agent call timeout) what it runs: the same deployment keeps
  /// going (`pending` becomes `deploying`; `running` with the catalog's digest, or `failed`, by
  /// the heartbeat's rule); anything else — another deployment, nothing, no or a malformed
  /// answer, an agent that no longer exists or holds another deployment — fails it with a detail
  /// saying the CP restarted during the deploy and what the agent reported, and frees the agent
  /// if it still holds that deployment. Agents that hold a deployment with no record, or one
  /// already failed or stopped, are freed. Every change is a compare-and-set, so a concurrent
  /// heartbeat, undeploy or new deploy is never overwritten. A `pending` deployment younger than
  /// the agent call timeout plus a margin is deferred, not judged: with replicas on one
  /// database, its dispatcher may be another process that is alive and still waiting for the
  /// agent's answer.
  ///
  /// `start` runs this once in the background, right after the server is up, over the state
  /// read before it served anything (when `Options::background_tasks` is on). Without
  /// background tasks, call it yourself before deploys arrive: a deploy in progress in this
  /// process would be taken for an interrupted one. Blocking. Store failures are returned;
  /// agent failures are outcomes, not errors.
  result<RecoveryReport> recover_deployments();

 private:
  struct Impl;
  explicit ControlPlane(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ee::cp
