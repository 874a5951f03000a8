#pragma once
// A control plane on loopback with every outside party faked the way it speaks: the TDX quote
// simulator (agents' quotes), the Intel Trust Authority stand-in, a GitHub OIDC issuer, optionally
// the Cloudflare API stand-in, and per-agent fake agent APIs. Tests drive it over real HTTP as an
// agent or a GitHub workflow would.
#include "cp/fake_agent_api.hpp"
#include "fakes/fake_cloudflare.hpp"
#include "fakes/fake_github.hpp"
#include "fakes/fake_ita.hpp"

#include <easyenclave/api/agents.hpp>
#include <easyenclave/api/signing.hpp>
#include <easyenclave/cp/control_plane.hpp>
#include <easyenclave/http/client.hpp>
#include <easyenclave/registry/store.hpp>
#include <easyenclave/tdx/simulator.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace ee::test {

struct HarnessOptions {
  bool cloudflare = false;
  /// Runs last on the CP options (policy, timings, stores, ...).
  std::function<void(cp::Options&)> customize{};
};

/// What a test agent sends as evidence.
enum class EvidenceKind { quote, ita_token, both };

struct TestAgent {
  std::string vm_name{};
  std::string owner = "github:org/octo-org";
  std::string node_size = "tiny";
  std::string datacenter = "gcp:us-central1-a";
  api::SigningKey key;
  std::string agent_id{};
  std::unique_ptr<FakeAgentApi> api{};
};

class CpHarness {
 public:
  /// The MRTD the simulator measures and the CP trusts.
  static tdx::Measurement trusted_mrtd();
  static tdx::Measurement other_mrtd();
  static std::string image(char digest_fill = 'a');

  explicit CpHarness(HarnessOptions options = {});
  ~CpHarness();

  cp::ControlPlane& cp() { return *cp_; }
  /// The registry the CP runs on, to set up what an abrupt stop leaves behind.
  registry::Stores const& stores() const { return stores_; }
  /// Stops the CP and starts a new one with the same settings, key and fakes; with
  /// `wipe_database` its registry starts empty (the cache design: agents must rebuild it).
  void restart(bool wipe_database);
  tdx::Simulator const& simulator() const { return *simulator_; }
  FakeCloudflare* cloudflare() { return cloudflare_.get(); }
  FakeIta& ita() { return *ita_; }
  FakeGithubIssuer& github() { return *github_; }
  std::string const& admin_token() const { return admin_token_; }

  /// The CP's clock: real time plus an offset the test moves.
  std::chrono::system_clock::time_point now() const;
  void advance(std::chrono::seconds by) { offset_ += by.count(); }

  /// One request to the CP. `path` starts with '/'.
  http::Response call(boost::beast::http::verb method, std::string const& path, std::string body = "",
                      std::map<std::string, std::string> const& headers = {});
  http::Response call_bearer(boost::beast::http::verb method, std::string const& path, std::string const& token,
                             std::string body = "");

  std::string challenge(std::string const& vm_name = "");

  /// A new agent with its own key and fake API.
  TestAgent agent(std::string vm_name);
  /// A quote binding `report_data` with `mrtd` (default trusted_mrtd()).
  std::vector<std::uint8_t> quote(tdx::ReportData const& report_data, std::optional<tdx::Measurement> mrtd = {});
  /// REPORTDATA = nonce ‖ SHA-256(key DER).
  static tdx::ReportData report_data(std::string const& nonce_hex, api::PublicKey const& key);
  /// A registration for `agent` over a fresh challenge (or `nonce`), with evidence of `kind`.
  api::RegisterRequest registration(TestAgent const& agent, EvidenceKind kind = EvidenceKind::quote,
                                    std::optional<std::string> nonce = {}, std::optional<tdx::Measurement> mrtd = {});
  /// Registers; on 200 stores agent_id in `agent` and tells its fake API the CP's key.
  http::Response register_agent(TestAgent& agent, api::RegisterRequest const& request);
  /// registration() + register_agent(), expecting 200.
  void register_ok(TestAgent& agent, EvidenceKind kind = EvidenceKind::quote);
  /// A heartbeat signed by `signer` (default the agent's key) at now() + `skew`.
  http::Response heartbeat(TestAgent const& agent, api::HeartbeatRequest const& hb,
                           std::chrono::seconds skew = std::chrono::seconds(0),
                           api::SigningKey const* signer = nullptr);
  /// A signed request exactly as heartbeat() sends it, for replays.
  http::Request signed_heartbeat(TestAgent const& agent, api::HeartbeatRequest const& hb,
                                 std::chrono::seconds skew = std::chrono::seconds(0),
                                 api::SigningKey const* signer = nullptr);
  http::Response send(http::Request request);

  /// A GitHub Actions OIDC token of `repository` ("org/repo"; repository_owner is "org").
  std::string github_token(std::string const& repository = "octo-org/hello", std::string audience = "easyenclave");
  /// Publishes app `name` with its first version; returns the response.
  http::Response publish(std::string const& token, std::string const& name, std::string const& version = "1.0.0",
                         std::optional<tdx::Measurement> mrtd = {}, std::string image = {},
                         std::string const& source_repo = "octo-org/hello");

 private:
  std::shared_ptr<tdx::Simulator> simulator_;
  std::unique_ptr<FakeIta> ita_;
  std::unique_ptr<FakeGithubIssuer> github_;
  std::unique_ptr<FakeCloudflare> cloudflare_;
  void start_cp();

  HarnessOptions options_;
  registry::Stores stores_;
  std::optional<api::SigningKey> cp_key_;
  std::unique_ptr<cp::ControlPlane> cp_;
  std::shared_ptr<http::Client> client_;
  std::shared_ptr<http::Client> ita_client_http_;
  std::string admin_token_ = "test-admin-token";
  std::atomic<std::int64_t> offset_{0};
};

}  // namespace ee::test
