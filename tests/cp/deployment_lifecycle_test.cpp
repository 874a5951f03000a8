// The deployment state machine as a table: every (status, event) pair against the move written
// out here, and the consequences apply_event draws on a real SQLite store (the replaced
// deployment, the halted rest of a rolling deploy, the agent's hold in the same transaction).
#include "cp/deployment_lifecycle.hpp"

#include <easyenclave/registry/sqlite.hpp>

#include <gtest/gtest.h>

#include <map>
#include <tuple>

namespace {

using ee::cp::DeploymentEvent;
using ee::cp::Transition;
using ee::registry::AgentHold;
using ee::registry::DeploymentStatus;
using S = DeploymentStatus;
using E = DeploymentEvent;
using H = AgentHold;

constexpr S kStatuses[] = {S::queued, S::pending, S::deploying, S::running, S::failed, S::stopped};
constexpr E kEvents[] = {E::started,   E::accepted,    E::reported_running, E::reported_failed, E::digest_mismatch,
                         E::not_delivered, E::rolled_back, E::lost,     E::timed_out,        E::replaced,
                         E::undeployed, E::agent_removed, E::rollout_halted};

// Every move there is; any pair not listed moves nothing.
std::map<std::pair<S, E>, std::pair<S, H>> const kMoves = {
    {{S::queued, E::started}, {S::pending, H::keep}},
    {{S::queued, E::undeployed}, {S::stopped, H::release}},
    {{S::queued, E::agent_removed}, {S::stopped, H::keep}},
    {{S::queued, E::rollout_halted}, {S::stopped, H::keep}},

    {{S::pending, E::accepted}, {S::deploying, H::keep}},
    {{S::pending, E::reported_running}, {S::running, H::keep}},
    {{S::pending, E::reported_failed}, {S::failed, H::release}},
    {{S::pending, E::digest_mismatch}, {S::failed, H::release}},
    {{S::pending, E::not_delivered}, {S::failed, H::hand_back}},
    {{S::pending, E::rolled_back}, {S::failed, H::hand_back}},
    {{S::pending, E::lost}, {S::failed, H::release}},
    {{S::pending, E::timed_out}, {S::failed, H::release}},
    {{S::pending, E::undeployed}, {S::stopped, H::release}},
    {{S::pending, E::agent_removed}, {S::stopped, H::keep}},

    {{S::deploying, E::reported_running}, {S::running, H::keep}},
    {{S::deploying, E::reported_failed}, {S::failed, H::release}},
    {{S::deploying, E::digest_mismatch}, {S::failed, H::release}},
    {{S::deploying, E::rolled_back}, {S::failed, H::hand_back}},
    {{S::deploying, E::lost}, {S::failed, H::release}},
    {{S::deploying, E::timed_out}, {S::failed, H::release}},
    {{S::deploying, E::undeployed}, {S::stopped, H::release}},
    {{S::deploying, E::agent_removed}, {S::stopped, H::keep}},

    {{S::running, E::reported_failed}, {S::failed, H::release}},
    {{S::running, E::digest_mismatch}, {S::failed, H::release}},
    {{S::running, E::replaced}, {S::stopped, H::keep}},
    {{S::running, E::undeployed}, {S::stopped, H::release}},
    {{S::running, E::agent_removed}, {S::stopped, H::keep}},
};

TEST(DeploymentLifecycle, EveryStatusAndEventMovesExactlyAsTheTableSays) {
  std::size_t moves = 0;
  for (auto from : kStatuses) {
    for (auto event : kEvents) {
      auto const got = ee::cp::transition(from, event);
      auto const want = kMoves.find({from, event});
      SCOPED_TRACE(std::string(ee::registry::to_string(from)) + " on " + std::string(ee::cp::to_string(event)));
      if (want == kMoves.end()) {
        EXPECT_FALSE(got.has_value());
        continue;
      }
      ASSERT_TRUE(got.has_value());
      EXPECT_EQ(got->to, want->second.first);
      EXPECT_EQ(got->hold, want->second.second);
      ++moves;
    }
  }
  EXPECT_EQ(moves, kMoves.size());
}

TEST(DeploymentLifecycle, NothingLeavesFailedOrStoppedAndEveryEventHasAName) {
  for (auto event : kEvents) {
    EXPECT_FALSE(ee::cp::transition(S::failed, event));
    EXPECT_FALSE(ee::cp::transition(S::stopped, event));
    EXPECT_FALSE(ee::cp::to_string(event).empty());
  }
  EXPECT_TRUE(ee::cp::is_over(S::failed));
  EXPECT_TRUE(ee::cp::is_over(S::stopped));
  EXPECT_FALSE(ee::cp::is_over(S::running));
}

class LifecycleOnAStore : public ::testing::Test {
 protected:
  void SetUp() override {
    auto stores = ee::registry::open_sqlite_stores(":memory:");
    ASSERT_TRUE(stores);
    stores_ = std::move(*stores);
    ee::registry::AgentRecord agent;
    agent.id = "agent-1";
    agent.vm_name = "vm-1";
    agent.owner = "github:org/octo-org";
    ASSERT_TRUE(stores_.agents->insert(agent));
  }

  ee::registry::Deployment make(std::string id, S status, std::string replaces = "", std::string rollout = "",
                                std::int64_t step = 0, std::string agent = "agent-1") {
    ee::registry::Deployment d;
    d.id = std::move(id);
    d.app_name = "hello";
    d.version = "1";
    d.agent_id = std::move(agent);
    d.image = "r/hello@sha256:" + std::string(64, 'a');
    d.status = status;
    d.replaces = std::move(replaces);
    d.rollout_id = std::move(rollout);
    d.rollout_step = step;
    return d;
  }

  ee::registry::Deployment get(std::string const& id) { return stores_.deployments->get(id).value(); }
  std::string held() { return stores_.agents->get("agent-1").value().deployment_id; }

  std::optional<ee::registry::Deployment> apply(std::string const& id, E event, std::string const& detail = "why") {
    auto r = ee::cp::apply_event(*stores_.deployments, get(id), event, detail, ee::registry::TimePoint{});
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : std::nullopt;
  }

  ee::registry::Stores stores_;
};

TEST_F(LifecycleOnAStore, RunningStopsTheReplacedDeploymentAndKeepsTheAgentOnTheNewOne) {
  ASSERT_TRUE(stores_.deployments->insert(make("old", S::running)));
  ASSERT_TRUE(stores_.deployments->insert_holding(make("new", S::deploying, "old"), ""));
  EXPECT_EQ(held(), "new");
  ASSERT_TRUE(apply("new", E::reported_running));
  EXPECT_EQ(get("new").status, S::running);
  EXPECT_EQ(get("old").status, S::stopped);
  EXPECT_EQ(held(), "new");
}

TEST_F(LifecycleOnAStore, ARollbackHandsTheAgentBackAndTheOldOneKeepsRunning) {
  ASSERT_TRUE(stores_.deployments->insert(make("old", S::running)));
  ASSERT_TRUE(stores_.deployments->insert_holding(make("new", S::deploying, "old"), ""));
  ASSERT_TRUE(apply("new", E::rolled_back));
  EXPECT_EQ(get("new").status, S::failed);
  EXPECT_EQ(get("old").status, S::running);
  EXPECT_EQ(held(), "old");
}

TEST_F(LifecycleOnAStore, NotDeliveredHandsBackButAFailureAfterTheSwapStopsTheOldOneToo) {
  ASSERT_TRUE(stores_.deployments->insert(make("old", S::running)));
  ASSERT_TRUE(stores_.deployments->insert_holding(make("new", S::pending, "old"), ""));
  ASSERT_TRUE(apply("new", E::not_delivered));
  EXPECT_EQ(get("old").status, S::running);
  EXPECT_EQ(held(), "old");

  ASSERT_TRUE(stores_.deployments->insert_holding(make("newer", S::deploying, "old"), "old"));
  ASSERT_TRUE(apply("newer", E::reported_failed));
  EXPECT_EQ(get("newer").status, S::failed);
  EXPECT_EQ(get("old").status, S::stopped);
  EXPECT_EQ(held(), "");
}

TEST_F(LifecycleOnAStore, AnEventThatDoesNotApplyOrARaceLostChangesNothing) {
  ASSERT_TRUE(stores_.deployments->insert_holding(make("d", S::deploying), ""));
  auto stale = get("d");
  ASSERT_TRUE(apply("d", E::reported_running));
  // `stale` still says deploying: its compare-and-set loses to the move above.
  auto r = ee::cp::apply_event(*stores_.deployments, stale, E::timed_out, "late", ee::registry::TimePoint{});
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(get("d").status, S::running);
  EXPECT_EQ(held(), "d");
  EXPECT_FALSE(apply("d", E::accepted));
}

TEST_F(LifecycleOnAStore, AReleaseNeverFreesAnAgentANewerDeployHasClaimed) {
  ASSERT_TRUE(stores_.deployments->insert(make("d1", S::deploying)));
  ASSERT_TRUE(stores_.deployments->insert_holding(make("d2", S::pending), ""));
  ASSERT_TRUE(apply("d1", E::timed_out));
  EXPECT_EQ(held(), "d2");
}

TEST_F(LifecycleOnAStore, AFailedStepHaltsTheQueuedRestOfItsRollout) {
  ee::registry::AgentRecord other;
  other.id = "agent-2";
  other.vm_name = "vm-2";
  ASSERT_TRUE(stores_.agents->insert(other));
  ASSERT_TRUE(stores_.deployments->insert_holding(make("s0", S::deploying, "", "r1", 0), ""));
  ASSERT_TRUE(stores_.deployments->insert(make("s1", S::queued, "", "r1", 1, "agent-2")));
  ASSERT_TRUE(stores_.deployments->insert(make("s2", S::queued, "", "r1", 2, "agent-2")));
  ASSERT_TRUE(stores_.deployments->insert(make("x", S::queued, "", "r2", 1, "agent-2")));
  ASSERT_TRUE(apply("s0", E::reported_failed, "crashed"));
  EXPECT_EQ(get("s1").status, S::stopped);
  EXPECT_EQ(get("s2").status, S::stopped);
  EXPECT_NE(get("s1").detail.find("crashed"), std::string::npos);
  EXPECT_EQ(get("x").status, S::queued) << "another rollout is not touched";
}

TEST_F(LifecycleOnAStore, AStepStartsOnlyFromQueuedAndOnlyWhileItsAgentHoldsWhatItReplaces) {
  ASSERT_TRUE(stores_.deployments->insert(make("old", S::running)));
  ASSERT_TRUE(stores_.agents->set_deployment("agent-1", "old"));
  ASSERT_TRUE(stores_.deployments->insert(make("s1", S::queued, "", "r1", 1)));
  // The agent holds "old", not nothing: the claim fails and the step stays queued.
  auto wrong = ee::cp::start_step(*stores_.deployments, get("s1"), "", ee::registry::TimePoint{});
  EXPECT_FALSE(wrong);
  EXPECT_EQ(get("s1").status, S::queued);
  auto started = ee::cp::start_step(*stores_.deployments, get("s1"), "old", ee::registry::TimePoint{});
  ASSERT_TRUE(started && *started);
  EXPECT_EQ((*started)->status, S::pending);
  EXPECT_EQ((*started)->replaces, "old");
  EXPECT_EQ(held(), "s1");
  auto again = ee::cp::start_step(*stores_.deployments, get("s1"), "old", ee::registry::TimePoint{});
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->has_value());
}

}  // namespace
