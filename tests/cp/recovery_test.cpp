// Recovery at start (ControlPlane::recover_deployments): each state an abrupt stop of the CP can
// leave in the deploy path, set up in the registry exactly as the deploy route leaves it, then a
// restart on the same registry and the recovery pass, with the agent's API answering each way.
#include "cp/cp_harness.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>

namespace {

using ee::test::CpHarness;
using ee::test::HarnessOptions;
using ee::test::TestAgent;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;
namespace registry = ee::registry;
using registry::DeploymentStatus;
using namespace std::chrono_literals;

std::string digest(char fill = 'a') { return "sha256:" + std::string(64, fill); }

class CpRecovery : public ::testing::Test {
 protected:
  explicit CpRecovery(HarnessOptions options = {}) : h(std::move(options)) {}

  void SetUp() override {
    h.register_ok(agent);
    ASSERT_EQ(h.publish(token, "hello").result(), bhttp::status::created);
  }

  // What the deploy route has written when the CP dies: the agent claimed, the deployment recorded.
  registry::Deployment interrupted(DeploymentStatus status, std::string const& id = "dep-1",
                                   std::string agent_id = {}) {
    registry::Deployment d;
    d.id = id;
    d.app_name = "hello";
    d.version = "1.0.0";
    d.agent_id = agent_id.empty() ? agent.agent_id : agent_id;
    d.image = CpHarness::image();
    d.status = status;
    d.requested_by = "octo-org/hello";
    d.created_at = h.now();
    d.updated_at = d.created_at;
    if (agent_id.empty()) {
      EXPECT_TRUE(h.stores().agents->claim_for_deployment(d.agent_id, d.id).has_value());
    }
    EXPECT_TRUE(h.stores().deployments->insert(d).has_value());
    return d;
  }

  // Past the dispatch grace (the agent call timeout, 15 s, and a 5 s margin): younger `pending`
  // deployments may be another replica's deploy in progress and are deferred (tested below).
  static constexpr auto kPastTheDispatchGrace = 26s;

  ee::cp::RecoveryReport restart_and_recover() {
    h.advance(kPastTheDispatchGrace);
    h.restart(false);
    auto report = h.cp().recover_deployments();
    EXPECT_TRUE(report) << report.error().message();
    return report ? *report : ee::cp::RecoveryReport{};
  }

  registry::Deployment deployment(std::string const& id = "dep-1") { return h.stores().deployments->get(id).value(); }
  std::string held() { return h.stores().agents->get(agent.agent_id).value().deployment_id; }

  void report_workload(std::string state, std::string deployment_id = "dep-1", std::string image_digest = {}) {
    ee::api::AgentWorkload w;
    w.state = std::move(state);
    w.deployment_id = std::move(deployment_id);
    w.image_digest = std::move(image_digest);
    agent.api->set_workload(w);
  }

  // The interrupted deploy is over: the agent is free and the same deploy is accepted again.
  void expect_retry_accepted() {
    EXPECT_EQ(held(), "");
    auto retried = h.call_bearer(bhttp::verb::post, "/api/v1/deploy", token,
                                 R"({"app_name":"hello","version":"1.0.0","agent_id":")" + agent.agent_id + "\"}");
    ASSERT_EQ(retried.result(), bhttp::status::ok) << retried.body();
    auto const id = std::string(bj::parse(retried.body()).at("deployment_id").as_string());
    EXPECT_EQ(held(), id);
    ASSERT_FALSE(agent.api->deploys().empty());
    EXPECT_EQ(agent.api->deploys().back().deployment_id, id);
  }

  static testing::AssertionResult failed_with(registry::Deployment const& d, std::string const& mention) {
    if (d.status != DeploymentStatus::failed) {
      return testing::AssertionFailure() << "status " << registry::to_string(d.status) << ": " << d.detail;
    }
    for (auto const& part : {std::string("the CP restarted during the deploy"), mention}) {
      if (d.detail.find(part) == std::string::npos) return testing::AssertionFailure() << "detail: " << d.detail;
    }
    return testing::AssertionSuccess();
  }

  CpHarness h;
  TestAgent agent = h.agent("vm-recover");
  std::string const token = h.github_token();
};

// --- the agent never got it, or runs something else ---------------------------------------------

TEST_F(CpRecovery, APendingDeployTheAgentNeverReceivedFailsAndFreesTheAgent) {
  interrupted(DeploymentStatus::pending);
  auto report = restart_and_recover();
  EXPECT_EQ(report.deployments_failed, 1u);
  EXPECT_EQ(report.deployments_kept, 0u);
  EXPECT_GE(agent.api->health_calls(), 1u);
  EXPECT_TRUE(failed_with(deployment(), "runs no deployment (workload idle)"));
  expect_retry_accepted();
}

TEST_F(CpRecovery, ADeployTheAgentRunsAnotherDeploymentInsteadOfFails) {
  interrupted(DeploymentStatus::deploying);
  report_workload("running", "dep-before", digest());
  EXPECT_EQ(restart_and_recover().deployments_failed, 1u);
  EXPECT_TRUE(failed_with(deployment(), "runs deployment dep-before (workload running)"));
  expect_retry_accepted();
}

TEST_F(CpRecovery, ADeployTheAgentHasStoppedFails) {
  interrupted(DeploymentStatus::deploying);
  report_workload("stopped");
  EXPECT_EQ(restart_and_recover().deployments_failed, 1u);
  EXPECT_TRUE(failed_with(deployment(), "has the deployment stopped"));
  EXPECT_EQ(held(), "");
}

// --- the agent runs it ---------------------------------------------------------------------------

TEST_F(CpRecovery, APendingDeployTheAgentIsPullingGoesOnAsDeploying) {
  interrupted(DeploymentStatus::pending);
  report_workload("pulling");
  auto report = restart_and_recover();
  EXPECT_EQ(report.deployments_kept, 1u);
  EXPECT_EQ(report.deployments_failed, 0u);
  EXPECT_EQ(deployment().status, DeploymentStatus::deploying);
  EXPECT_EQ(held(), "dep-1");
  // From here heartbeats carry it as for any deploy.
  ee::api::HeartbeatRequest hb;
  hb.status = "running";
  hb.deployment_id = "dep-1";
  hb.image_digest = digest();
  ASSERT_EQ(h.heartbeat(agent, hb).result(), bhttp::status::ok);
  EXPECT_EQ(deployment().status, DeploymentStatus::running);
}

TEST_F(CpRecovery, ADeployTheAgentRunsWithTheCatalogsDigestBecomesRunning) {
  interrupted(DeploymentStatus::pending);
  report_workload("running", "dep-1", digest());
  EXPECT_EQ(restart_and_recover().deployments_kept, 1u);
  EXPECT_EQ(deployment().status, DeploymentStatus::running);
  EXPECT_EQ(held(), "dep-1");
  EXPECT_TRUE(h.stores().agents->get(agent.agent_id).value().verified);
}

// The heartbeat's rule, not a second one: another digest fails it and marks the agent.
TEST_F(CpRecovery, ADeployTheAgentRunsWithAnotherDigestFailsAndMarksTheAgent) {
  interrupted(DeploymentStatus::deploying);
  report_workload("running", "dep-1", digest('b'));
  EXPECT_EQ(restart_and_recover().deployments_failed, 1u);
  auto const d = deployment();
  EXPECT_EQ(d.status, DeploymentStatus::failed);
  EXPECT_NE(d.detail.find("agent runs " + digest('b')), std::string::npos) << d.detail;
  EXPECT_EQ(held(), "");
  auto const a = h.stores().agents->get(agent.agent_id).value();
  EXPECT_FALSE(a.verified);
  EXPECT_EQ(a.unverified_reason.rfind("digest mismatch: ", 0), 0u) << a.unverified_reason;
}

TEST_F(CpRecovery, ADeployTheAgentReportsFailedFails) {
  interrupted(DeploymentStatus::deploying);
  report_workload("failed");
  EXPECT_EQ(restart_and_recover().deployments_failed, 1u);
  EXPECT_EQ(deployment().status, DeploymentStatus::failed);
  EXPECT_EQ(deployment().detail, "the agent reported the workload failed");
  expect_retry_accepted();
}

// --- no usable answer ----------------------------------------------------------------------------

TEST_F(CpRecovery, AnAgentAnsweringWithAnErrorStatusFailsTheDeploy) {
  interrupted(DeploymentStatus::pending);
  agent.api->set_healthy(false);
  EXPECT_EQ(restart_and_recover().deployments_failed, 1u);
  EXPECT_TRUE(failed_with(deployment(), "answered 503"));
  agent.api->set_healthy(true);
  expect_retry_accepted();
}

TEST_F(CpRecovery, AnAgentThatIsGoneFailsTheDeploy) {
  interrupted(DeploymentStatus::pending);
  agent.api.reset();  // nothing listens there now
  EXPECT_EQ(restart_and_recover().deployments_failed, 1u);
  EXPECT_TRUE(failed_with(deployment(), "no answer from the agent"));
  EXPECT_EQ(held(), "");
}

TEST_F(CpRecovery, AMalformedAnswerIsNotTrusted) {
  interrupted(DeploymentStatus::pending);
  // It names the deployment and says running, but its digest field is not a digest.
  agent.api->set_health_body(R"({"status":"ok","workload":{"state":"running","deployment_id":"dep-1","image_digest":"md5:0"}})");
  EXPECT_EQ(restart_and_recover().deployments_failed, 1u);
  EXPECT_TRUE(failed_with(deployment(), "body.workload.image_digest"));
  EXPECT_NE(deployment().detail.find("malformed"), std::string::npos);
  EXPECT_EQ(held(), "");
}

TEST_F(CpRecovery, AnAnswerThatIsNotJsonIsNotTrusted) {
  interrupted(DeploymentStatus::deploying);
  agent.api->set_health_body("<html>gateway</html>");
  EXPECT_EQ(restart_and_recover().deployments_failed, 1u);
  EXPECT_TRUE(failed_with(deployment(), "malformed"));
}

TEST_F(CpRecovery, AnAnswerFromAnotherAgentIsNotTrusted) {
  interrupted(DeploymentStatus::deploying);
  agent.api->set_health_body(R"({"status":"ok","agent_id":"someone-else","workload":{"state":"running","deployment_id":"dep-1"}})");
  EXPECT_EQ(restart_and_recover().deployments_failed, 1u);
  EXPECT_TRUE(failed_with(deployment(), "answers as agent someone-else"));
}

class CpRecoveryShortTimeout : public CpRecovery {
 protected:
  CpRecoveryShortTimeout()
      : CpRecovery(HarnessOptions{.customize = [](ee::cp::Options& o) { o.timings.agent_call_timeout = 2s; }}) {}
};

TEST_F(CpRecoveryShortTimeout, AnAgentSilentPastTheCallTimeoutFailsTheDeploy) {
  interrupted(DeploymentStatus::pending);
  agent.api->hang_health(true);
  auto const started = std::chrono::steady_clock::now();
  EXPECT_EQ(restart_and_recover().deployments_failed, 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  EXPECT_TRUE(failed_with(deployment(), "no answer from the agent"));
  agent.api->hang_health(false);
  expect_retry_accepted();
}

// A heartbeat that settles the deployment while the recovery waits for the agent wins: the
// recovery changes only what is still as it read it.
TEST_F(CpRecoveryShortTimeout, AHeartbeatDuringRecoveryIsNotOverwritten) {
  interrupted(DeploymentStatus::pending);
  agent.api->hang_health(true);  // the recovery will get no answer, and would fail it
  h.advance(kPastTheDispatchGrace);
  h.restart(false);
  auto recovery = std::async(std::launch::async, [this] { return h.cp().recover_deployments(); });
  auto const deadline = std::chrono::steady_clock::now() + 10s;
  while (agent.api->health_calls() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_GT(agent.api->health_calls(), 0u) << "the recovery never asked the agent";
  ee::api::HeartbeatRequest hb;
  hb.status = "running";
  hb.deployment_id = "dep-1";
  hb.image_digest = digest();
  ASSERT_EQ(h.heartbeat(agent, hb).result(), bhttp::status::ok);
  ASSERT_EQ(deployment().status, DeploymentStatus::running);
  auto report = recovery.get();
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(report->deployments_failed, 0u);
  EXPECT_EQ(deployment().status, DeploymentStatus::running);
  EXPECT_EQ(held(), "dep-1");
}

// --- half-done writes ----------------------------------------------------------------------------

// Stopped between claiming the agent and recording the deployment: no record, agent held.
TEST_F(CpRecovery, AnAgentClaimedForADeploymentWithNoRecordIsFreed) {
  ASSERT_TRUE(h.stores().agents->claim_for_deployment(agent.agent_id, "dep-ghost").has_value());
  auto report = restart_and_recover();
  EXPECT_EQ(report.agents_released, 1u);
  EXPECT_EQ(report.deployments_failed, 0u);
  EXPECT_EQ(agent.api->health_calls(), 0u);
  expect_retry_accepted();
}

// Stopped between failing (or stopping) the deployment and freeing its agent.
TEST_F(CpRecovery, AnAgentHoldingADeploymentThatIsOverIsFreed) {
  for (auto status : {DeploymentStatus::failed, DeploymentStatus::stopped}) {
    auto const id = "dep-" + std::string(registry::to_string(status));
    interrupted(status, id);
    auto report = restart_and_recover();
    EXPECT_EQ(report.agents_released, 1u) << id;
    EXPECT_EQ(held(), "") << id;
    EXPECT_EQ(deployment(id).status, status) << "a deployment that is over stays as it is";
  }
  expect_retry_accepted();
}

TEST_F(CpRecovery, AnAgentHoldingAnotherAgentsDeploymentIsFreed) {
  auto other = h.agent("vm-other");
  h.register_ok(other);
  registry::Deployment d = interrupted(DeploymentStatus::running, "dep-of-other", other.agent_id);
  ASSERT_TRUE(h.stores().agents->claim_for_deployment(other.agent_id, d.id).has_value());
  ASSERT_TRUE(h.stores().agents->claim_for_deployment(agent.agent_id, d.id).has_value());
  EXPECT_EQ(restart_and_recover().agents_released, 1u);
  EXPECT_EQ(held(), "");
  EXPECT_EQ(h.stores().agents->get(other.agent_id).value().deployment_id, d.id);
  EXPECT_EQ(deployment(d.id).status, DeploymentStatus::running);
}

TEST_F(CpRecovery, ADeploymentWhoseAgentIsGoneFails) {
  interrupted(DeploymentStatus::pending, "dep-1", "agent-removed");
  EXPECT_EQ(restart_and_recover().deployments_failed, 1u);
  EXPECT_TRUE(failed_with(deployment(), "agent agent-removed no longer exists"));
  EXPECT_EQ(agent.api->health_calls(), 0u);
}

// The agent was freed and took a newer deployment, which the recovery must leave alone.
TEST_F(CpRecovery, ADeploymentWhoseAgentHoldsAnotherFailsAndTheOtherStays) {
  auto const newer = interrupted(DeploymentStatus::running, "dep-newer");
  registry::Deployment stale = interrupted(DeploymentStatus::deploying, "dep-stale", agent.agent_id);
  (void)stale;
  EXPECT_EQ(restart_and_recover().deployments_failed, 1u);
  EXPECT_TRUE(failed_with(deployment("dep-stale"), "holds deployment dep-newer"));
  EXPECT_EQ(held(), newer.id);
  EXPECT_EQ(deployment(newer.id).status, DeploymentStatus::running);
}

TEST_F(CpRecovery, NothingInFlightChangesNothing) {
  interrupted(DeploymentStatus::running);
  report_workload("running", "dep-1", digest());
  auto report = restart_and_recover();
  EXPECT_EQ(report.deployments_kept + report.deployments_failed + report.agents_released, 0u);
  EXPECT_EQ(agent.api->health_calls(), 0u);
  EXPECT_EQ(deployment().status, DeploymentStatus::running);
  EXPECT_EQ(held(), "dep-1");
}

// --- the deploy route's own steps ---------------------------------------------------------------

// Its last step is a compare-and-set too: a heartbeat that reports the workload running before
// the agent's answer to the deploy call reaches the CP is not overwritten with `deploying`.
TEST_F(CpRecovery, TheDeployRouteKeepsWhatAHeartbeatDecidedFirst) {
  agent.api->hang_deploys(true);
  auto in_flight = std::async(std::launch::async, [this] {
    return h.call_bearer(bhttp::verb::post, "/api/v1/deploy", token,
                         R"({"app_name":"hello","version":"1.0.0","agent_id":")" + agent.agent_id + "\"}");
  });
  auto const deadline = std::chrono::steady_clock::now() + 10s;
  while (agent.api->deploys().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(agent.api->deploys().size(), 1u);
  auto const id = agent.api->deploys().front().deployment_id;
  ee::api::HeartbeatRequest hb;
  hb.status = "running";
  hb.deployment_id = id;
  hb.image_digest = digest();
  ASSERT_EQ(h.heartbeat(agent, hb).result(), bhttp::status::ok);
  ASSERT_EQ(deployment(id).status, DeploymentStatus::running);
  agent.api->hang_deploys(false);
  auto answer = in_flight.get();
  ASSERT_EQ(answer.result(), bhttp::status::ok) << answer.body();
  EXPECT_EQ(bj::parse(answer.body()).at("status").as_string(), "running");
  EXPECT_EQ(deployment(id).status, DeploymentStatus::running);
}

// --- replicas: a young pending deployment may be another process's deploy in progress ------------

TEST_F(CpRecovery, AYoungPendingDeploymentIsDeferredNotFailed) {
  // Another replica claimed the agent and recorded the deployment a moment ago and is waiting
  // for the agent's answer; this process restarts now. Failing the deploy would break a deploy
  // that is about to succeed.
  interrupted(DeploymentStatus::pending);
  h.restart(false);
  auto report = h.cp().recover_deployments();
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(report->deployments_deferred, 1u);
  EXPECT_EQ(report->deployments_failed, 0u);
  EXPECT_EQ(agent.api->health_calls(), 0u) << "a deferred deployment's agent is not even asked";
  EXPECT_EQ(deployment().status, DeploymentStatus::pending);
  EXPECT_EQ(held(), "dep-1");
  // Once it is older than the grace nobody can still be dispatching it.
  h.advance(kPastTheDispatchGrace);
  report = h.cp().recover_deployments();
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(report->deployments_deferred, 0u);
  EXPECT_EQ(report->deployments_failed, 1u);
  EXPECT_TRUE(failed_with(deployment(), "runs no deployment"));
}

TEST_F(CpRecovery, AYoungDeployingDeploymentIsJudgedAtOnce) {
  // `deploying` means its agent accepted it: asking the agent is safe whoever dispatched it.
  interrupted(DeploymentStatus::deploying);
  report_workload("running", "dep-1", digest());
  h.restart(false);
  auto report = h.cp().recover_deployments();
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(report->deployments_deferred, 0u);
  EXPECT_EQ(report->deployments_kept, 1u);
}

// --- at start ------------------------------------------------------------------------------------

class CpRecoveryAtStart : public CpRecovery {
 protected:
  CpRecoveryAtStart()
      : CpRecovery(HarnessOptions{.customize = [](ee::cp::Options& o) { o.background_tasks = true; }}) {}
};

// With background tasks on, start runs the pass itself, without the deploy timeout.
TEST_F(CpRecoveryAtStart, StartRecoversInTheBackground) {
  interrupted(DeploymentStatus::pending);
  h.advance(kPastTheDispatchGrace);
  h.restart(false);
  auto const deadline = std::chrono::steady_clock::now() + 10s;
  while (deployment().status == DeploymentStatus::pending && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(failed_with(deployment(), "runs no deployment"));
  expect_retry_accepted();
}

// Of processes starting on one database, the one holding the "recovery" lease recovers; here
// another holds it, so this start leaves the interrupted deployment alone.
TEST_F(CpRecoveryAtStart, AnotherProcessHoldingTheRecoveryLeaseRecoversInsteadOfThisOne) {
  interrupted(DeploymentStatus::pending);
  auto taken = h.stores().leases->acquire("recovery", "other-replica", h.now(), std::chrono::hours(1));
  ASSERT_TRUE(taken.has_value());
  ASSERT_TRUE(*taken);
  h.advance(kPastTheDispatchGrace);  // old enough that only the lease keeps this start away
  h.restart(false);
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(deployment().status, DeploymentStatus::pending);
}

// The pass start runs waits the grace (real time, 6 s with a 1 s call timeout) for the young
// pending deployments, then judges those still pending and unchanged, and leaves alone those a
// living dispatcher moved on meanwhile.
class CpRecoveryAtStartWithReplicas : public CpRecovery {
 protected:
  CpRecoveryAtStartWithReplicas()
      : CpRecovery(HarnessOptions{.customize = [](ee::cp::Options& o) {
          o.background_tasks = true;
          o.timings.agent_call_timeout = 1s;
        }}) {}
};

TEST_F(CpRecoveryAtStartWithReplicas, DeferredDeploymentsAreJudgedAfterTheGraceUnlessTheirDispatcherMovedThemOn) {
  auto other = h.agent("vm-recover-other");
  h.register_ok(other);
  interrupted(DeploymentStatus::pending, "dep-1");
  interrupted(DeploymentStatus::pending, "dep-2", other.agent_id);
  ASSERT_TRUE(h.stores().agents->claim_for_deployment(other.agent_id, "dep-2").has_value());
  h.restart(false);
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(deployment("dep-1").status, DeploymentStatus::pending) << "judged inside the grace";
  EXPECT_EQ(deployment("dep-2").status, DeploymentStatus::pending) << "judged inside the grace";
  // The other replica's dispatch of dep-2 completes: its agent accepted it.
  ASSERT_TRUE(h.stores()
                  .deployments->set_status_if("dep-2", DeploymentStatus::pending, DeploymentStatus::deploying, "",
                                              h.now())
                  .has_value());
  auto const deadline = std::chrono::steady_clock::now() + 20s;
  while (deployment("dep-1").status == DeploymentStatus::pending && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(failed_with(deployment("dep-1"), "runs no deployment"));
  EXPECT_EQ(deployment("dep-2").status, DeploymentStatus::deploying) << deployment("dep-2").detail;
  EXPECT_EQ(h.stores().agents->get(other.agent_id).value().deployment_id, "dep-2");
}

}  // namespace
