// Background passes run under leases (registry::LeaseStore): of the control plane processes
// sharing a database, only the holder of a pass's lease runs it. Here the "other process" is a
// lease taken in the CP's own registry by another holder, and the pass observed is the
// maintenance pass's removal of a stale agent.
#include "cp/cp_harness.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace {

using ee::test::CpHarness;
using ee::test::HarnessOptions;
using ee::test::TestAgent;
using namespace std::chrono_literals;

class CpLeases : public ::testing::Test {
 protected:
  CpLeases()
      : h(HarnessOptions{.customize = [](ee::cp::Options& o) {
          o.background_tasks = true;
          o.timings.maintenance_interval = 1s;
          o.timings.health_scrape_interval = 0s;
          o.timings.agent_stale_after = 1h;
        }}) {}

  bool registered(TestAgent const& a) { return h.stores().agents->get(a.agent_id).has_value(); }

  // Waits up to `limit` for the agent's registration to be `expected`.
  bool becomes(TestAgent const& a, bool expected, std::chrono::seconds limit) {
    auto const deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (registered(a) == expected) return true;
      std::this_thread::sleep_for(50ms);
    }
    return registered(a) == expected;
  }

  CpHarness h;
  TestAgent agent = h.agent("tdx-lease-1");
};

TEST_F(CpLeases, AnotherHoldersLeaseKeepsThePassFromRunningUntilItIsReleased) {
  h.register_ok(agent);
  h.advance(std::chrono::hours(2));  // the agent is stale now
  auto& leases = *h.stores().leases;
  auto taken = leases.acquire("maintenance", "other-replica", h.now(), std::chrono::hours(1));
  ASSERT_TRUE(taken.has_value());
  ASSERT_TRUE(*taken);

  // Three maintenance intervals: the lease is the other process's, so this one removes nothing.
  std::this_thread::sleep_for(3s);
  EXPECT_TRUE(registered(agent));
  auto metrics = h.call_bearer(boost::beast::http::verb::get, "/metrics", h.admin_token()).body();
  EXPECT_NE(metrics.find("ee_cp_task_runs_total{task=\"maintenance\",outcome=\"skipped\"}"), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("ee_cp_task_runs_total{task=\"maintenance\",outcome=\"ok\"}"), std::string::npos) << metrics;

  // The other process stops and lets go: this one takes the pass over at its next interval.
  ASSERT_TRUE(leases.release("maintenance", "other-replica").has_value());
  EXPECT_TRUE(becomes(agent, false, 5s));
  // The run is counted when the pass ends, just after the removal.
  for (int i = 0; i < 40; ++i) {
    metrics = h.call_bearer(boost::beast::http::verb::get, "/metrics", h.admin_token()).body();
    if (metrics.find("ee_cp_task_runs_total{task=\"maintenance\",outcome=\"ok\"}") != std::string::npos) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_NE(metrics.find("ee_cp_task_runs_total{task=\"maintenance\",outcome=\"ok\"}"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("ee_cp_task_duration_seconds_count{task=\"maintenance\"}"), std::string::npos) << metrics;
}

TEST_F(CpLeases, AnExpiredLeaseIsTakenOverWithoutARelease) {
  h.register_ok(agent);
  auto& leases = *h.stores().leases;
  // A holder that died: its lease ran out a second ago.
  auto taken = leases.acquire("maintenance", "dead-replica", h.now() - 61s, 60s);
  ASSERT_TRUE(taken.has_value());
  ASSERT_TRUE(*taken);
  h.advance(std::chrono::hours(2));
  EXPECT_TRUE(becomes(agent, false, 5s));
}

}  // namespace
