#pragma once
// A stand-in for an agent's API (ee-agent's /api/*) on a real loopback server, for CP tests: it
// checks the CP's signature on deploy, undeploy and logs exactly as an agent must, and records
// what it was asked to do.
#include <easyenclave/api/agents.hpp>
#include <easyenclave/api/signing.hpp>
#include <easyenclave/http/server.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace ee::test {

class FakeAgentApi {
 public:
  static std::unique_ptr<FakeAgentApi> start();
  ~FakeAgentApi();

  std::string url() const;
  /// The CP key requests must be signed with (from the register response).
  void trust_cp_key(std::string const& base64_key);

  std::vector<api::AgentDeployRequest> deploys() const;
  std::vector<api::AgentUndeployRequest> undeploys() const;
  std::size_t rejected_signatures() const { return rejected_.load(); }
  std::size_t health_calls() const { return health_calls_.load(); }
  /// Makes /api/health answer 503 (false) or 200 (true).
  void set_healthy(bool healthy) { healthy_ = healthy; }
  /// Makes /api/deploy answer 500.
  void fail_deploys(bool fail) { fail_deploys_ = fail; }
  /// What /api/logs answers (with 200) from now on; by default the real agent's shape.
  void answer_logs_with(std::string body);
  /// What /api/metrics answers (with 200) from now on.
  void answer_metrics_with(std::string body);
  /// What /api/stats answers (with 200) from now on; by default the real agent's shape.
  void answer_stats_with(std::string body);
  /// Makes /api/undeploy answer 500 (an agent that cannot stop its workload, or is gone).
  void fail_undeploys(bool fail) { fail_undeploys_ = fail; }
  /// What /api/deploy answers (with 200) from now on; empty: the real agent's answer.
  void answer_deploys_with(std::string body);
  /// Requests of any kind that reached this API.
  std::size_t requests_seen() const { return requests_.load(); }
  /// Makes /api/deploy record the request and then not answer until hanging is turned off (or
  /// the fake stops): an agent that took the deploy and went silent.
  void hang_deploys(bool hang) { hang_deploys_ = hang; }
  /// Makes /api/health not answer until turned off (or the fake stops).
  void hang_health(bool hang) { hang_health_ = hang; }
  /// The workload /api/health reports (default: idle, no deployment).
  void set_workload(api::AgentWorkload workload);
  /// /api/health answers this body verbatim instead (non-empty), to test malformed answers.
  void set_health_body(std::string body);
  /// Requests that reached /api/deploy, answered or not.
  std::size_t deploy_calls() const { return deploy_calls_.load(); }

 private:
  FakeAgentApi() = default;
  result<void> check_signature(http::RequestContext const& ctx);

  std::unique_ptr<http::Server> server_;
  mutable std::mutex mutex_;
  std::optional<api::PublicKey> cp_key_;
  std::vector<api::AgentDeployRequest> deploys_;
  std::vector<api::AgentUndeployRequest> undeploys_;
  std::atomic<std::size_t> rejected_{0};
  std::atomic<std::size_t> health_calls_{0};
  std::atomic<std::size_t> requests_{0};
  std::string deploy_body_{};
  std::string logs_body_ =
      R"({"lines":[{"seq":1,"at":"2026-01-01T00:00:00Z","source":"workload","text":"workload started"},)"
      R"({"seq":2,"at":"2026-01-01T00:00:01Z","source":"workload","text":"listening on 8080"}],"dropped":0})";
  std::string metrics_body_ =
      "# HELP ee_agent_heartbeats_total Heartbeats sent\n# TYPE ee_agent_heartbeats_total counter\n"
      "ee_agent_heartbeats_total{outcome=\"ok\"} 12\n";
  std::atomic<bool> healthy_{true};
  std::atomic<bool> fail_deploys_{false};
  std::atomic<bool> fail_undeploys_{false};
  std::string stats_body_ =
      R"({"cpu":{"count":4,"load1":0.25,"load5":0.5,"load15":1},"memory":{"total_bytes":4294967296,)"
      R"("available_bytes":2147483648},"disk":{"path":"/var/lib/easyenclave","total_bytes":10737418240,)"
      R"("available_bytes":5368709120},"uptime":{"system_seconds":1234.5,"agent_seconds":1200}})";
  std::atomic<bool> hang_deploys_{false};
  std::atomic<bool> hang_health_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> deploy_calls_{0};
  api::AgentWorkload workload_{.state = "idle"};
  std::string health_body_{};
};

}  // namespace ee::test
