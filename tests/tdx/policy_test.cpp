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

// --- the one judge, of an Appraisal ------------------------------------------------------------

ee::tdx::Appraisal ita_appraisal(TcbStatus status = TcbStatus::up_to_date) {
  ee::tdx::Appraisal a;
  a.appraised_by = ee::tdx::Appraiser::intel_trust_authority;
  a.tcb_status = status;
  a.mr_td = measurement(0x11);
  a.rtmr[0] = measurement(0x20);
  return a;
}

TEST(TdxPolicyAppraisal, WarnToleratesAndSaysWhat) {
  Policy warn;
  warn.tcb_mode = Policy::TcbMode::warn;
  auto j = ee::tdx::judge(warn, ita_appraisal(TcbStatus::out_of_date), kNow);
  EXPECT_TRUE(j.accepted());
  ASSERT_EQ(j.tolerated.size(), 1u);
  EXPECT_EQ(j.tolerated[0].name, "policy_tcb_status");
  EXPECT_NE(j.tolerated[0].detail.find("OutOfDate"), std::string::npos) << j.tolerated[0].detail;
  EXPECT_NE(j.tolerated[0].detail.find("tolerated"), std::string::npos) << j.tolerated[0].detail;
  // Strict refuses the same appraisal; disabled neither refuses nor warns.
  auto strict = ee::tdx::judge(Policy{}, ita_appraisal(TcbStatus::out_of_date), kNow);
  EXPECT_FALSE(strict.accepted());
  EXPECT_EQ(strict.error, ee::tdx::errc::tcb_status_not_allowed);
  EXPECT_EQ(strict.steps.back().name, "policy_tcb_status");
  Policy off;
  off.tcb_mode = Policy::TcbMode::disabled;
  auto disabled = ee::tdx::judge(off, ita_appraisal(TcbStatus::out_of_date), kNow);
  EXPECT_TRUE(disabled.accepted());
  EXPECT_TRUE(disabled.tolerated.empty());
}

TEST(TdxPolicyAppraisal, TheDebugAttributeIsJudgedFirst) {
  auto a = ita_appraisal(TcbStatus::out_of_date);
  a.td_attributes[0] = 0x01;
  auto j = ee::tdx::judge(Policy{}, a, kNow);
  EXPECT_EQ(j.error, ee::tdx::errc::debug_td_refused);
  ASSERT_EQ(j.steps.size(), 1u);
  EXPECT_EQ(j.steps[0].name, "policy_debug");
  // Not even the warn mode tolerates it: it is not a TCB matter.
  Policy warn;
  warn.tcb_mode = Policy::TcbMode::warn;
  EXPECT_EQ(ee::tdx::judge(warn, a, kNow).error, ee::tdx::errc::debug_td_refused);
}

TEST(TdxPolicyAppraisal, CollateralAgeNeedsTheIssueTime) {
  Policy p;
  p.max_collateral_age = std::chrono::hours(48);
  auto a = ita_appraisal();
  auto j = ee::tdx::judge(p, a, kNow);  // an ITA token does not say when its collateral was issued
  EXPECT_EQ(j.error, ee::tdx::errc::collateral_too_old);
  EXPECT_NE(j.error.message().find("does not say"), std::string::npos) << j.error.message();
  a.collateral_issued_at = kNow - std::chrono::hours(24);
  EXPECT_TRUE(ee::tdx::judge(p, a, kNow).accepted());
}

TEST(TdxPolicyAppraisal, AnOfflineAppraisalNeedsConsent) {
  auto a = ita_appraisal(TcbStatus::unknown);
  a.appraised_by = ee::tdx::Appraiser::local_dcap;
  a.offline = true;
  EXPECT_EQ(ee::tdx::judge(Policy{}, a, kNow).error, ee::tdx::errc::offline_not_allowed);
  Policy allow;
  allow.allow_offline = true;
  EXPECT_TRUE(ee::tdx::judge(allow, a, kNow).accepted());
}

TEST(TdxPolicyAppraisal, TheVerdictFormRecordsTheJudgementOfItsAppraisal) {
  Policy p;
  p.allowed_mrtds = {measurement(0x11)};
  p.expected_rtmrs[0] = measurement(0x20);
  p.max_collateral_age = std::chrono::hours(48);
  auto v = accepted_verdict();
  auto const before = v.steps.size();
  ASSERT_TRUE(ee::tdx::judge(p, v, kNow));
  auto j = ee::tdx::judge(p, ee::tdx::appraisal_from_verdict(v), kNow);
  ASSERT_TRUE(j.accepted());
  ASSERT_EQ(v.steps.size() - before, j.steps.size());
  for (std::size_t i = 0; i < j.steps.size(); ++i) {
    EXPECT_EQ(v.steps[before + i].name, j.steps[i].name);
    EXPECT_EQ(v.steps[before + i].detail, j.steps[i].detail);
  }
}

}  // namespace
