#pragma once
/// @file Verify-then-talk: resolve a service in the control plane's catalog (or a GitHub
/// release), fetch fresh evidence from the agent that runs it, verify that evidence locally
/// (DCAP quote to a pinned root, nonce, key binding, published measurements and image digest,
/// TCB policy) and hand back a `Connection` that sends requests only to the verified endpoint.
///
/// Every step is recorded as a named `Check`; a failed check stops the connection and its error
/// (client::errc, see client/error.hpp) names that check with what was expected. The checks are
/// described, with what each protects against, in docs/connect.md.
///
/// Layers: `appraise_evidence` is the pure part (no I/O, the clock is a parameter); `connect`
/// and `Connection::request` are Asio coroutines over the injected `http::Client`; synchronous
/// callers use `ee::block_on`.
#include <easyenclave/client/error.hpp>
#include <easyenclave/error.hpp>
#include <easyenclave/http/client.hpp>
#include <easyenclave/tdx/appraisal.hpp>
#include <easyenclave/tdx/collateral.hpp>
#include <easyenclave/tdx/fetcher.hpp>
#include <easyenclave/tdx/policy.hpp>
#include <easyenclave/tdx/verify.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ee::client {

using TimePoint = std::chrono::system_clock::time_point;

/// One named step of a connection attempt.
struct Check {
  /// Stable: "target", "catalog_app", "catalog_versions", "running_agent", "evidence",
  /// "collateral", "quote", "nonce", "key_binding", "agent_key", "mrtd", "rtmrs",
  /// "workload_running", "image_digest", "tcb_policy", "freshness", "release".
  std::string name{};
  bool passed = false;
  /// The check did not run or could not apply (its `detail` says why); not a failure.
  bool skipped = false;
  std::string expected{};  ///< what the check required
  std::string actual{};    ///< what it found
  std::string detail{};    ///< anything else worth knowing (sources, step lists)
};

/// The account of an attempt: every check in the order it ran. A failed attempt ends with its
/// failed check.
struct Report {
  std::vector<Check> checks{};
  /// The first failed check, or nullptr.
  Check const* failure() const noexcept;
  /// The check named `name`, or nullptr.
  Check const* find(std::string const& name) const noexcept;
  /// A readable multi-line account: one line per check (PASS / FAIL / SKIP, name, what was
  /// expected and found), then the details indented below it.
  std::string text() const;
};

/// Where the evidence comes from.
enum class Source {
  catalog,         ///< the CP's catalog, then the agent's `GET /api/health?attest=true&nonce=`
  github_release,  ///< the newest GitHub release of org/repo carrying `attestation.json`
};

/// A published version as the catalog lists it.
struct PublishedVersion {
  std::string version{};
  std::string image{};         ///< NAME@sha256:<64 hex>
  std::string image_digest{};  ///< sha256:<64 hex> (the part after '@')
  tdx::Measurement mrtd{};
  std::array<std::optional<tdx::Measurement>, 4> rtmrs{};  ///< nullopt: not pinned
};

/// What the verified evidence must match: the catalog's view of the app.
struct Expectations {
  std::string app{};          ///< app name
  std::string source_repo{};  ///< org/repo
  std::vector<PublishedVersion> versions{};
  /// The version the CP's deployment record names; preferred when several versions match.
  std::string deployed_version{};
  /// The agent's public key (base64 DER) as the CP attested it; empty: not compared.
  std::string agent_public_key{};
};

/// The evidence an agent (or a release asset) presented.
struct Evidence {
  std::vector<std::uint8_t> quote{};
  /// The agent's public key, base64 DER SubjectPublicKeyInfo.
  std::string public_key{};
  /// The workload as the agent reports it; empty for a release asset.
  std::string workload_state{};
  std::string workload_image{};
  std::string workload_image_digest{};  ///< sha256:<64 hex>
  std::string deployment_id{};
  std::string provider{};  ///< "tsm", "simulator", ...
};

/// What `appraise_evidence` needs besides the evidence.
struct AppraisalInputs {
  tdx::TrustedRoot root = tdx::TrustedRoot::intel_sgx_root_ca();
  /// Collateral for the quote's platform; nullptr verifies offline (which the default policy
  /// refuses).
  std::shared_ptr<tdx::Collateral const> collateral{};
  /// Where the collateral came from, for the report ("file x.json", "PCS https://...").
  std::string collateral_source{};
  tdx::Policy policy{};
  /// The nonce sent; nullopt when freshness cannot be checked (release assets).
  std::optional<std::array<std::uint8_t, 32>> nonce{};
  /// Compare the workload's state and image digest (false for release assets, which carry none).
  bool check_workload = true;
  /// Accept evidence that carries no public key (legacy agents that bind none) instead of
  /// failing "key_binding". Off by default: without a bound key nothing ties the endpoint that
  /// answered to the quoted TD. Even when set, a keyless answer fails "agent_key" when
  /// `Expectations::agent_public_key` (the key the CP lists for the agent) is set.
  bool allow_keyless_agents = false;
};

/// The outcome of a successful appraisal.
struct Appraised {
  tdx::Appraisal appraisal{};
  PublishedVersion version{};  ///< the published version the evidence matched
};

/// Appraises `evidence` against `expected` at `now`, appending one check per step to `report`:
/// "quote" (parse and DCAP verification to `inputs.root`), "nonce", "key_binding" (evidence
/// without a public key fails it unless `inputs.allow_keyless_agents`), "agent_key" (skipped
/// when `expected.agent_public_key` is empty; a keyless answer fails it), "mrtd", "rtmrs",
/// "workload_running", "image_digest" (both skipped without `check_workload`), "tcb_policy"
/// (`tdx::judge` with `inputs.policy`; its MRTD and RTMR lists are judged too when set).
/// The quote is verified by the process's `tdx::Verifier` for `inputs.root` (one per root, at
/// most 8, kept between calls), whose verdicts are `tdx::verify`'s; what it has verified before
/// (chains, the same collateral object, QE reports) is not verified again.
/// No I/O. Stops at the first failed check.
/// @returns the appraisal and matched version, or the client::errc of the failed check
///          (quote_rejected, nonce_mismatch, key_not_bound, agent_key_mismatch,
///          mrtd_not_published, rtmr_mismatch, workload_not_running, image_digest_mismatch,
///          policy_refused, malformed_evidence) whose message names the check and what was
///          expected. Thread-safe; never throws (except bad_alloc).
result<Appraised> appraise_evidence(Evidence const& evidence, Expectations const& expected,
                                    AppraisalInputs const& inputs, TimePoint now, Report& report);

struct ConnectOptions {
  /// The control plane, "https://cp.example.com" (Source::catalog).
  std::string cp_url{};
  Source source = Source::catalog;
  /// GitHub's REST API base (Source::github_release).
  std::string github_api = "https://api.github.com";
  /// Accept only this published version; empty: any.
  std::string version{};
  /// Use this agent; empty: the newest running deployment on a verified agent.
  std::string agent_id{};
  /// TCB status, debug TDs, collateral age (and, if set, extra MRTD/RTMR pins).
  tdx::Policy policy{};
  /// Accept agents whose evidence carries no public key (legacy agents); see
  /// `AppraisalInputs::allow_keyless_agents`. Off by default. Even when set, an agent the CP
  /// lists with a key must present that key.
  bool allow_keyless_agents = false;
  /// The pinned root of the PCK chain: Intel's by default. The simulator's root only for demos
  /// and tests.
  tdx::TrustedRoot root = tdx::TrustedRoot::intel_sgx_root_ca();
  /// Fixed collateral (e.g. loaded from a bundle file); when null, `fetcher` is used.
  std::shared_ptr<tdx::Collateral const> collateral{};
  /// Fetches collateral for the quote's platform (PCS or a PCCS, with its cache). When neither
  /// this nor `collateral` is set, one is made over `http` for Intel PCS.
  std::optional<tdx::CollateralFetcher> fetcher{};
  /// Transport for the CP, the agent, GitHub and PCS. Required.
  std::shared_ptr<http::Client> http{};
  /// Timeout and size cap of each request.
  http::RequestOptions request{};
  /// `Connection::request` re-verifies first when the evidence is older than this.
  std::chrono::seconds max_evidence_age{std::chrono::minutes{5}};
  /// The clock; empty: `std::chrono::system_clock::now`. Must be thread-safe.
  std::function<TimePoint()> clock{};
  /// Fills the nonce; empty: OpenSSL's CSPRNG. Tests inject it to play a replaying agent.
  std::function<std::array<std::uint8_t, 32>()> nonce{};
};

/// A response from the verified service.
using Response = http::Response;

/// A verified endpoint. Cheap to copy (copies share state) and thread-safe: `request` may run
/// from several coroutines at once; a re-verification replaces the evidence for all copies.
class Connection {
 public:
  /// Where requests go: "https://<tunnel hostname>" or the agent's URL.
  std::string endpoint() const;
  std::string app() const;
  /// The published version the evidence matched.
  PublishedVersion version() const;
  /// The agent's id at the CP (empty for a release source).
  std::string agent_id() const;
  tdx::Appraisal appraisal() const;
  /// The agent's public key, base64 DER SubjectPublicKeyInfo, bound into the quote.
  std::string agent_public_key() const;
  /// The checks of the last (re-)verification.
  Report checks() const;
  TimePoint verified_at() const;
  Source source() const;
  /// `checks().text()` with a heading naming the target, endpoint and time.
  std::string report() const;

  /// Sends `method path` with `body` and `headers` to the endpoint. When the evidence is older
  /// than `max_evidence_age`, first verifies again (same agent, fresh nonce); a failure of that
  /// verification is returned and nothing is sent. `path` must start with '/'.
  /// @returns the response (any status), or the re-verification's client::errc, or the
  ///          transport's http::errc. Never throws (except bad_alloc). The Connection must be
  ///          alive when the returned awaitable is first awaited; from then on the coroutine
  ///          keeps the shared state alive.
  boost::asio::awaitable<result<Response>> request(
      boost::beast::http::verb method, std::string path, std::string body = {},
      std::vector<std::pair<std::string, std::string>> headers = {}) const;

  /// Verifies again now, whatever the age of the evidence (same agent, fresh nonce, the catalog
  /// as read at connect time). On success the evidence, checks and `verified_at` are replaced;
  /// on failure they are kept and the failed check's client::errc is returned.
  boost::asio::awaitable<result<void>> reverify() const;

  struct State;
  explicit Connection(std::shared_ptr<State> state) : state_(std::move(state)) {}

 private:
  std::shared_ptr<State> state_;
};

/// The outcome of `attempt`: a connection, or the error and the report that led to it.
struct Attempt {
  std::optional<Connection> connection{};
  Error error{};
  Report report{};
};

/// Connects to `target` ("org/repo", an app's source repository, or an app name) as
/// `options.source` says, recording each check. Catalog steps: "target", "catalog_app",
/// "catalog_versions", "running_agent", "evidence" (GET <endpoint>/api/health?attest=true with a
/// fresh 32-byte nonce), "collateral", then the checks of `appraise_evidence`. Release steps:
/// "target", "release", "collateral", the appraisal checks, and "freshness" (skipped: a quote
/// in a release asset was made before the client asked, so it proves nothing about now).
/// The app's versions are read at the same time as the agent's chain (deployments, agent,
/// health), and for org/repo both beside the app list (docs/connect.md, "What a connection
/// costs"); the checks are recorded and judged in the order above.
/// Never throws (except bad_alloc); everything in `options` is copied.
boost::asio::awaitable<Attempt> attempt(std::string target, ConnectOptions options);

/// `attempt` as a result: the connection, or the error of the failed check.
boost::asio::awaitable<result<Connection>> connect(std::string target, ConnectOptions options);

}  // namespace ee::client
