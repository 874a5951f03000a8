#include <easyenclave/tdx/policy.hpp>

#include <gtest/gtest.h>

#include <algorithm>

namespace {

using ee::tdx::Policy;
using ee::tdx::TcbStatus;
using ee::tdx::Verdict;

constexpr auto kNow = std::chrono::system_clock::time_point{std::chrono::seconds{1752919234}};

ee::tdx::Measurement measurement(std::uint8_t fill) {
  ee::tdx::Measurement m{};
  m.fill(fill);
  return m;
}

// A verdict as verify() would produce it for an accepted, non-debug quote.
Verdict accepted_verdict(TcbStatus status = TcbStatus::up_to_date) {
  Verdict v;
  v.tcb_status = status;
  v.td_report.mr_td = measurement(0x11);
  v.td_report.rtmr[0] = measurement(0x20);
  v.collateral_issued_at = kNow - std::chrono::hours(24);
  v.steps.push_back({"quote_signature", true, "ok"});
  return v;
}

bool has_step(Verdict const& v, std::string const& name, bool passed) {
  return std::any_of(v.steps.begin(), v.steps.end(),
                     [&](auto const& s) { return s.name == name && s.passed == passed; });
}

TEST(TdxPolicy, DefaultAcceptsUpToDateAndRecordsSteps) {
  auto v = accepted_verdict();
  EXPECT_TRUE(ee::tdx::judge(Policy{}, v, kNow));
  EXPECT_TRUE(has_step(v, "policy_tcb_status", true));
  EXPECT_TRUE(has_step(v, "policy_debug", true));
  EXPECT_TRUE(v.accepted());
}

TEST(TdxPolicy, StrictRefusesStatusOutsideTheList) {
  auto v = accepted_verdict(TcbStatus::out_of_date);
  auto r = ee::tdx::judge(Policy{}, v, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ee::tdx::errc::tcb_status_not_allowed);
  EXPECT_EQ(r.error(), ee::condition::forbidden);
  EXPECT_NE(r.error().message().find("OutOfDate"), std::string::npos) << r.error().message();
  EXPECT_TRUE(has_step(v, "policy_tcb_status", false));
  EXPECT_FALSE(v.accepted());
  EXPECT_EQ(v.error, ee::tdx::errc::tcb_status_not_allowed);
}

TEST(TdxPolicy, WarnModeToleratesAndDisabledSkips) {
  Policy warn;
  warn.tcb_mode = Policy::TcbMode::warn;
  auto v = accepted_verdict(TcbStatus::sw_hardening_needed);
  EXPECT_TRUE(ee::tdx::judge(warn, v, kNow));
  EXPECT_TRUE(has_step(v, "policy_tcb_status", true));

  Policy off;
  off.tcb_mode = Policy::TcbMode::disabled;
  auto w = accepted_verdict(TcbStatus::out_of_date);
  EXPECT_TRUE(ee::tdx::judge(off, w, kNow));
  EXPECT_FALSE(has_step(w, "policy_tcb_status", true));

  Policy wider;
  wider.allowed_tcb_statuses = {TcbStatus::up_to_date, TcbStatus::sw_hardening_needed};
  auto x = accepted_verdict(TcbStatus::sw_hardening_needed);
  EXPECT_TRUE(ee::tdx::judge(wider, x, kNow));
}

TEST(TdxPolicy, OfflineVerdictNeedsExplicitConsent) {
  auto v = accepted_verdict(TcbStatus::unknown);
  v.offline = true;
  auto r = ee::tdx::judge(Policy{}, v, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ee::tdx::errc::offline_not_allowed);
  Policy allow;
  allow.allow_offline = true;
  auto w = accepted_verdict(TcbStatus::unknown);
  w.offline = true;
  EXPECT_TRUE(ee::tdx::judge(allow, w, kNow));
}

TEST(TdxPolicy, DebugTdRefusedUnlessAllowed) {
  auto v = accepted_verdict();
  v.td_report.td_attributes[0] = 0x01;
  auto r = ee::tdx::judge(Policy{}, v, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ee::tdx::errc::debug_td_refused);
  Policy allow;
  allow.allow_debug = true;
  auto w = accepted_verdict();
  w.td_report.td_attributes[0] = 0x01;
  EXPECT_TRUE(ee::tdx::judge(allow, w, kNow));
}

TEST(TdxPolicy, MrtdAllowlist) {
  Policy p;
  p.allowed_mrtds = {measurement(0x99), measurement(0x11)};
  auto v = accepted_verdict();
  EXPECT_TRUE(ee::tdx::judge(p, v, kNow));
  EXPECT_TRUE(has_step(v, "policy_mrtd", true));
  p.allowed_mrtds = {measurement(0x99)};
  auto w = accepted_verdict();
  auto r = ee::tdx::judge(p, w, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ee::tdx::errc::mrtd_not_trusted);
}

TEST(TdxPolicy, RtmrExpectations) {
  Policy p;
  p.expected_rtmrs[0] = measurement(0x20);
  auto v = accepted_verdict();
  EXPECT_TRUE(ee::tdx::judge(p, v, kNow));
  EXPECT_TRUE(has_step(v, "policy_rtmr0", true));
  p.expected_rtmrs[2] = measurement(0x33);
  auto w = accepted_verdict();
  auto r = ee::tdx::judge(p, w, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ee::tdx::errc::rtmr_mismatch);
  EXPECT_TRUE(has_step(w, "policy_rtmr2", false));
}

TEST(TdxPolicy, CollateralAge) {
  Policy p;
  p.max_collateral_age = std::chrono::hours(48);
  auto v = accepted_verdict();
  EXPECT_TRUE(ee::tdx::judge(p, v, kNow));
  p.max_collateral_age = std::chrono::hours(1);
  auto w = accepted_verdict();
  auto r = ee::tdx::judge(p, w, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ee::tdx::errc::collateral_too_old);
}

TEST(TdxPolicy, RefusesAVerdictTheVerifierRejected) {
  auto v = accepted_verdict();
  v.steps.push_back({"pck_chain", false, "untrusted root"});
  v.error = ee::Error(ee::tdx::errc::malformed_signature_data, "x");
  auto r = ee::tdx::judge(Policy{}, v, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), v.error);
}

}  // namespace
