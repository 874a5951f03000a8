// The control plane's attestation policy through real HTTP: registrations over loopback whose
// simulator quotes carry a TCB status the policy does not list, or the debug attribute, judged
// under tcb_mode strict, warn and disabled and with and without allow_debug.
#include "cp/cp_harness.hpp"
#include "support/log_capture.hpp"

#include <easyenclave/encoding.hpp>
#include <easyenclave/log.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace {

using ee::test::CpHarness;
using TcbMode = ee::tdx::Policy::TcbMode;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;

bj::value body(ee::http::Response const& r) { return bj::parse(r.body()); }

using ee::test::LogCapture;

ee::test::HarnessOptions policy(TcbMode mode, bool allow_debug = false) {
  return {.cloudflare = false, .customize = [mode, allow_debug](ee::cp::Options& o) {
            o.policy.tcb_mode = mode;
            o.policy.allow_debug = allow_debug;
          }};
}

// A registration of `agent` whose quote is the simulator's TD report after `change`, signed by the
// simulated platform the CP trusts (so only the policy can refuse it).
ee::api::RegisterRequest registration_with(CpHarness& h, ee::test::TestAgent const& agent,
                                           std::function<void(ee::tdx::TdReport&)> const& change) {
  auto request = h.registration(agent);
  auto report = h.simulator().td_report(CpHarness::report_data(request.nonce, agent.key.public_key()));
  change(report);
  request.quote_b64 = ee::base64_encode(h.simulator().quote(report).value());
  return request;
}

// An older TDX module component than the platform's own level: the simulator's collateral then
// matches its all-zero level, OutOfDate, which the default allowed list (UpToDate) does not hold.
void out_of_date(ee::tdx::TdReport& report) { report.tee_tcb_svn[2] = 2; }
void debug_td(ee::tdx::TdReport& report) { report.td_attributes[0] |= 0x01; }

// The answer is an error of `status` with `code`, and a message containing `part`.
void expect_error(ee::http::Response const& r, bhttp::status status, std::string const& code,
                  std::string const& part) {
  ASSERT_EQ(r.result(), status) << r.body();
  auto doc = body(r);
  EXPECT_EQ(doc.at("code").as_string(), code) << r.body();
  EXPECT_NE(std::string(doc.at("message").as_string()).find(part), std::string::npos) << r.body();
}

std::string recorded_tcb_status(CpHarness& h, std::string const& agent_id) {
  auto record = body(h.call(bhttp::verb::get, "/api/v1/agents/" + agent_id + "/attestation"));
  return std::string(record.at("tcb_status").as_string());
}

TEST(CpPolicyHttp, StrictRefusesATcbStatusOutsideTheAllowedList) {
  CpHarness h(policy(TcbMode::strict));
  auto agent = h.agent("vm-strict");
  expect_error(h.register_agent(agent, registration_with(h, agent, out_of_date)), bhttp::status::forbidden,
               "tdx.tcb_status_not_allowed", "OutOfDate");
  EXPECT_EQ(body(h.call(bhttp::verb::get, "/api/v1/agents")).as_array().size(), 0u);
}

TEST(CpPolicyHttp, WarnAdmitsATcbStatusOutsideTheListAndLogsItAsTolerated) {
  LogCapture log;
  CpHarness h(policy(TcbMode::warn));
  auto agent = h.agent("vm-warn");
  auto r = h.register_agent(agent, registration_with(h, agent, out_of_date));
  ASSERT_EQ(r.result(), bhttp::status::ok) << r.body();
  EXPECT_EQ(recorded_tcb_status(h, agent.agent_id), "OutOfDate");
  auto tolerated = log.matching({"policy tolerated", "agent=" + agent.agent_id, "check=tcb_status", "OutOfDate"});
  EXPECT_EQ(tolerated.size(), 1u);

  // An allowed status is admitted without a warning.
  auto fine = h.agent("vm-warn-fine");
  h.register_ok(fine);
  EXPECT_TRUE(log.matching({"policy tolerated", "agent=" + fine.agent_id}).empty());
}

TEST(CpPolicyHttp, DisabledAdmitsATcbStatusOutsideTheListWithoutAWarning) {
  LogCapture log;
  CpHarness h(policy(TcbMode::disabled));
  auto agent = h.agent("vm-tcb-off");
  auto r = h.register_agent(agent, registration_with(h, agent, out_of_date));
  ASSERT_EQ(r.result(), bhttp::status::ok) << r.body();
  EXPECT_EQ(recorded_tcb_status(h, agent.agent_id), "OutOfDate");
  EXPECT_TRUE(log.matching({"policy tolerated"}).empty());
}

TEST(CpPolicyHttp, ADebugTdIsRefusedUnlessAllowDebugIsSet) {
  // Refused by default, and also when the TCB status is not checked: the debug attribute is not
  // a TCB matter.
  for (auto mode : {TcbMode::strict, TcbMode::warn, TcbMode::disabled}) {
    CpHarness h(policy(mode));
    auto agent = h.agent("vm-debug");
    expect_error(h.register_agent(agent, registration_with(h, agent, debug_td)), bhttp::status::forbidden,
                 "tdx.debug_td_refused", "debug");
    EXPECT_EQ(body(h.call(bhttp::verb::get, "/api/v1/agents")).as_array().size(), 0u);
  }
  CpHarness h(policy(TcbMode::strict, /*allow_debug=*/true));
  auto agent = h.agent("vm-debug-allowed");
  auto r = h.register_agent(agent, registration_with(h, agent, debug_td));
  ASSERT_EQ(r.result(), bhttp::status::ok) << r.body();
  EXPECT_EQ(recorded_tcb_status(h, agent.agent_id), "UpToDate");
  // allow_debug does not loosen the TCB check.
  auto stale = h.agent("vm-debug-stale");
  expect_error(h.register_agent(stale, registration_with(h, stale,
                                                         [](ee::tdx::TdReport& report) {
                                                           debug_td(report);
                                                           out_of_date(report);
                                                         })),
               bhttp::status::forbidden, "tdx.tcb_status_not_allowed", "OutOfDate");
}

TEST(CpPolicyHttp, TrustedMrtdsApplyToTheirNodeSize) {
  CpHarness h({.cloudflare = false, .customize = [](ee::cp::Options& o) {
                 for (auto& m : o.trusted_mrtds) m.node_size = "large";
               }});
  auto tiny = h.agent("vm-tiny");  // node size "tiny"
  expect_error(h.register_agent(tiny, h.registration(tiny)), bhttp::status::forbidden, "tdx.mrtd_not_trusted",
               "node size 'tiny'");
  auto large = h.agent("vm-large");
  large.node_size = "large";
  h.register_ok(large);
}

}  // namespace
