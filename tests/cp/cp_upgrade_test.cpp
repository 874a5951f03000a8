// Upgrades and rolling deploys end to end in process: a deploy of a new version replaces the one
// an agent runs, an agent that goes back to the old version fails the new one and holds the old
// one again, and a deploy over several agents goes one agent at a time and stops at the first
// that fails.
#include "cp/cp_harness.hpp"

#include <easyenclave/api/deploy.hpp>
#include <easyenclave/encoding.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

namespace {

using ee::test::CpHarness;
using ee::test::TestAgent;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;

bj::value body(ee::http::Response const& r) { return bj::parse(r.body()); }

std::string digest(char fill) { return "sha256:" + std::string(64, fill); }

class CpUpgrade : public ::testing::Test {
 protected:
  void SetUp() override {
    token_ = h_.github_token("octo-org/hello");
    ASSERT_EQ(h_.publish(token_, "hello", "1.0.0").result(), bhttp::status::created);
    add_version("2.0.0", 'b');
    add_version("3.0.0", 'c');
  }

  void add_version(std::string const& version, char fill) {
    auto const body = R"({"version":")" + version + R"(","image":")" + CpHarness::image(fill) + R"(","mrtd":")" +
                      ee::hex_encode(CpHarness::trusted_mrtd()) + R"("})";
    auto added = h_.call_bearer(bhttp::verb::post, "/api/v1/apps/hello/versions", token_, body);
    ASSERT_EQ(added.result(), bhttp::status::created) << added.body();
  }

  ee::http::Response deploy(std::string const& json) {
    return h_.call_bearer(bhttp::verb::post, "/api/v1/deploy", token_, json);
  }

  ee::api::DeployResponse deploy_ok(std::string const& json) {
    auto answer = deploy(json);
    EXPECT_EQ(answer.result(), bhttp::status::ok) << answer.body();
    auto parsed = ee::api::parse_deploy_response(answer.body());
    EXPECT_TRUE(parsed) << answer.body();
    return parsed ? *parsed : ee::api::DeployResponse{};
  }

  void report(TestAgent const& agent, std::string const& deployment_id, std::string const& state, char fill,
              std::string const& rolled_back = "") {
    ee::api::HeartbeatRequest hb;
    hb.status = state;
    hb.deployment_id = deployment_id;
    if (state == "running") hb.image_digest = digest(fill);
    hb.rolled_back = rolled_back;
    auto beat = h_.heartbeat(agent, hb);
    ASSERT_EQ(beat.result(), bhttp::status::ok) << beat.body();
  }

  bj::object deployment(std::string const& id) {
    return body(h_.call(bhttp::verb::get, "/api/v1/deployments/" + id)).as_object();
  }
  std::string status_of(std::string const& id) { return std::string(deployment(id).at("status").as_string()); }
  std::string held_by(TestAgent const& agent) {
    auto a = body(h_.call(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id)).as_object();
    auto const* d = a.if_contains("deployment_id");
    return d != nullptr && d->is_string() ? std::string(d->as_string()) : std::string();
  }

  // An agent running version 1.0.0 of hello.
  std::string running_v1(TestAgent& agent) {
    auto first = deploy_ok(R"({"app_name":"hello","version":"1.0.0","agent_id":")" + agent.agent_id + "\"}");
    report(agent, first.deployment_id, "running", 'a');
    EXPECT_EQ(status_of(first.deployment_id), "running");
    return first.deployment_id;
  }

  CpHarness h_;
  std::string token_;
};

TEST_F(CpUpgrade, ANewVersionReplacesTheOneTheAgentRunsOnceItRuns) {
  auto agent = h_.agent("vm-up");
  h_.register_ok(agent);
  auto const v1 = running_v1(agent);

  auto v2 = deploy_ok(R"({"app_name":"hello","version":"2.0.0","agent_id":")" + agent.agent_id + "\"}");
  EXPECT_EQ(v2.status, "deploying");
  ASSERT_EQ(v2.steps.size(), 1u);
  EXPECT_EQ(v2.steps[0].replaces, v1);
  ASSERT_EQ(agent.api->deploys().size(), 2u);
  EXPECT_EQ(agent.api->deploys()[1].image, CpHarness::image('b'));
  EXPECT_EQ(held_by(agent), v2.deployment_id);
  // The old one runs until the new one does.
  EXPECT_EQ(status_of(v1), "running");

  report(agent, v2.deployment_id, "running", 'b');
  EXPECT_EQ(status_of(v2.deployment_id), "running");
  auto old = deployment(v1);
  EXPECT_EQ(old.at("status").as_string(), "stopped");
  EXPECT_NE(std::string(old.at("detail").as_string()).find(v2.deployment_id), std::string::npos);
  EXPECT_EQ(held_by(agent), v2.deployment_id);
}

TEST_F(CpUpgrade, AnAgentThatRollsBackFailsTheNewVersionAndHoldsTheOldOneAgain) {
  auto agent = h_.agent("vm-back");
  h_.register_ok(agent);
  auto const v1 = running_v1(agent);
  auto v2 = deploy_ok(R"({"app_name":"hello","version":"2.0.0","agent_id":")" + agent.agent_id + "\"}");

  // The agent could not start 2.0.0 and runs 1.0.0 again.
  report(agent, v1, "running", 'a', v2.deployment_id);
  auto failed = deployment(v2.deployment_id);
  EXPECT_EQ(failed.at("status").as_string(), "failed");
  EXPECT_NE(std::string(failed.at("detail").as_string()).find(v1), std::string::npos);
  EXPECT_EQ(status_of(v1), "running");
  EXPECT_EQ(held_by(agent), v1);

  // Repeated heartbeats with the same rollback change nothing more.
  report(agent, v1, "running", 'a', v2.deployment_id);
  EXPECT_EQ(status_of(v1), "running");
  EXPECT_EQ(held_by(agent), v1);
  // And the next upgrade is accepted from the restored version.
  auto v3 = deploy_ok(R"({"app_name":"hello","version":"3.0.0","agent_id":")" + agent.agent_id + "\"}");
  EXPECT_EQ(v3.steps.at(0).replaces, v1);
}

TEST_F(CpUpgrade, ANewVersionThatFailsWithoutRollbackStopsTheOldOneAndFreesTheAgent) {
  auto agent = h_.agent("vm-fail");
  h_.register_ok(agent);
  auto const v1 = running_v1(agent);
  auto v2 = deploy_ok(R"({"app_name":"hello","version":"2.0.0","agent_id":")" + agent.agent_id + "\"}");
  report(agent, v2.deployment_id, "failed", 'b');
  EXPECT_EQ(status_of(v2.deployment_id), "failed");
  EXPECT_EQ(status_of(v1), "stopped");
  EXPECT_EQ(held_by(agent), "");
}

TEST_F(CpUpgrade, AnUpgradeTheAgentCannotTakeLeavesTheOldVersionHeld) {
  auto agent = h_.agent("vm-refuse");
  h_.register_ok(agent);
  auto const v1 = running_v1(agent);
  agent.api->fail_deploys(true);
  auto refused = deploy(R"({"app_name":"hello","version":"2.0.0","agent_id":")" + agent.agent_id + "\"}");
  EXPECT_EQ(refused.result(), bhttp::status::bad_gateway) << refused.body();
  EXPECT_EQ(status_of(v1), "running");
  EXPECT_EQ(held_by(agent), v1);
}

TEST_F(CpUpgrade, TheSameVersionAnotherAppOrAnUnfinishedDeployIsRefused) {
  auto agent = h_.agent("vm-busy");
  h_.register_ok(agent);
  auto const v1 = running_v1(agent);
  auto same = deploy(R"({"app_name":"hello","version":"1.0.0","agent_id":")" + agent.agent_id + "\"}");
  EXPECT_EQ(same.result(), bhttp::status::conflict) << same.body();
  EXPECT_EQ(body(same).at("code").as_string(), "cp.agent_busy");

  ASSERT_EQ(h_.publish(token_, "other", "1.0.0").result(), bhttp::status::created);
  auto other = deploy(R"({"app_name":"other","version":"1.0.0","agent_id":")" + agent.agent_id + "\"}");
  EXPECT_EQ(other.result(), bhttp::status::conflict) << other.body();

  // 2.0.0 is on its way: 3.0.0 waits until it has settled.
  deploy_ok(R"({"app_name":"hello","version":"2.0.0","agent_id":")" + agent.agent_id + "\"}");
  auto racing = deploy(R"({"app_name":"hello","version":"3.0.0","agent_id":")" + agent.agent_id + "\"}");
  EXPECT_EQ(racing.result(), bhttp::status::conflict) << racing.body();
  EXPECT_EQ(status_of(v1), "running");
}

TEST_F(CpUpgrade, ADeployWithoutAnAgentUpgradesEveryAgentThatRunsTheAppOneAtATime) {
  std::vector<TestAgent> agents;
  std::vector<std::string> v1;
  for (int i = 0; i < 3; ++i) {
    agents.push_back(h_.agent("vm-roll-" + std::to_string(i)));
    h_.register_ok(agents.back());
    v1.push_back(running_v1(agents.back()));
  }
  auto idle = h_.agent("vm-idle");
  h_.register_ok(idle);

  auto dry = deploy_ok(R"({"app_name":"hello","version":"2.0.0","dry_run":true})");
  EXPECT_EQ(dry.status, "dry_run");
  ASSERT_EQ(dry.steps.size(), 3u);
  EXPECT_TRUE(dry.steps[0].deployment_id.empty());

  auto roll = deploy_ok(R"({"app_name":"hello","version":"2.0.0"})");
  ASSERT_EQ(roll.steps.size(), 3u) << "the idle agent is not part of an upgrade";
  EXPECT_FALSE(roll.rollout_id.empty());
  EXPECT_EQ(roll.steps[0].status, "deploying");
  EXPECT_EQ(roll.steps[1].status, "queued");
  EXPECT_EQ(roll.steps[2].status, "queued");
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(roll.steps[i].agent_id, agents[i].agent_id);
    EXPECT_EQ(roll.steps[i].replaces, v1[i]);
  }
  EXPECT_EQ(agents[1].api->deploys().size(), 1u) << "the second agent waits for the first";
  EXPECT_TRUE(idle.api->deploys().empty());

  for (std::size_t i = 0; i < 3; ++i) {
    report(agents[i], roll.steps[i].deployment_id, "running", 'b');
    EXPECT_EQ(status_of(roll.steps[i].deployment_id), "running");
    EXPECT_EQ(status_of(v1[i]), "stopped");
    // The next step starts from the maintenance pass (the kick needs background tasks).
    ASSERT_TRUE(h_.cp().run_maintenance());
    if (i + 1 < 3) {
      ASSERT_EQ(agents[i + 1].api->deploys().size(), 2u);
      EXPECT_EQ(agents[i + 1].api->deploys()[1].deployment_id, roll.steps[i + 1].deployment_id);
      EXPECT_EQ(status_of(roll.steps[i + 1].deployment_id), "deploying");
    }
  }
}

TEST_F(CpUpgrade, ARollingDeployStopsAtTheFirstAgentThatFails) {
  std::vector<TestAgent> agents;
  std::vector<std::string> v1;
  for (int i = 0; i < 3; ++i) {
    agents.push_back(h_.agent("vm-halt-" + std::to_string(i)));
    h_.register_ok(agents.back());
    v1.push_back(running_v1(agents.back()));
  }
  std::string ids;
  for (auto const& a : agents) ids += (ids.empty() ? "\"" : ",\"") + a.agent_id + "\"";
  auto roll = deploy_ok(R"({"app_name":"hello","version":"2.0.0","agent_ids":[)" + ids + "]}");
  ASSERT_EQ(roll.steps.size(), 3u);
  report(agents[0], roll.steps[0].deployment_id, "running", 'b');
  ASSERT_TRUE(h_.cp().run_maintenance());
  // The second agent rolls back: the third never gets the new version.
  report(agents[1], v1[1], "running", 'a', roll.steps[1].deployment_id);
  EXPECT_EQ(status_of(roll.steps[1].deployment_id), "failed");
  auto halted = deployment(roll.steps[2].deployment_id);
  EXPECT_EQ(halted.at("status").as_string(), "stopped");
  EXPECT_NE(std::string(halted.at("detail").as_string()).find("halted"), std::string::npos);
  ASSERT_TRUE(h_.cp().run_maintenance());
  EXPECT_EQ(agents[2].api->deploys().size(), 1u);
  EXPECT_EQ(status_of(v1[2]), "running");
  EXPECT_EQ(status_of(v1[1]), "running");
}

TEST_F(CpUpgrade, ARollingDeployIsAllOrNothingWhenOneNamedAgentIsNotEligible) {
  auto mine = h_.agent("vm-mine");
  h_.register_ok(mine);
  auto theirs = h_.agent("vm-theirs");
  theirs.owner = "github:org/someone-else";
  h_.register_ok(theirs);
  auto refused = deploy(R"({"app_name":"hello","version":"1.0.0","agent_ids":[")" + mine.agent_id + "\",\"" +
                        theirs.agent_id + "\"]}");
  EXPECT_EQ(refused.result(), bhttp::status::forbidden) << refused.body();
  EXPECT_TRUE(mine.api->deploys().empty());
  EXPECT_TRUE(body(h_.call(bhttp::verb::get, "/api/v1/deployments")).as_array().empty());
}

TEST_F(CpUpgrade, AHeartbeatCannotRollBackADeploymentItsAgentDoesNotHold) {
  auto a = h_.agent("vm-a");
  h_.register_ok(a);
  auto b = h_.agent("vm-b");
  h_.register_ok(b);
  auto const a_v1 = running_v1(a);
  auto a_v2 = deploy_ok(R"({"app_name":"hello","version":"2.0.0","agent_id":")" + a.agent_id + "\"}");
  // Agent b (genuine, signed) claims a rollback of a's deployment: nothing changes.
  report(b, "", "idle", 'a', a_v2.deployment_id);
  EXPECT_EQ(status_of(a_v2.deployment_id), "deploying");
  EXPECT_EQ(held_by(a), a_v2.deployment_id);
  EXPECT_EQ(status_of(a_v1), "running");
}

}  // namespace
