#include <easyenclave/tdx/policy.hpp>

#include "detail/encoding.hpp"

#include <algorithm>
#include <string>

namespace ee::tdx {
namespace {

std::string short_hex(Measurement const& m) { return detail::hex_encode(m).substr(0, 16) + "…"; }

// Records a step and, for a refusal, the verdict's error; returns the error or success.
result<void> record(Verdict& verdict, std::string name, bool passed, std::string detail, errc code) {
  verdict.steps.push_back({std::move(name), passed, detail});
  if (passed) return {};
  Error error(code, std::move(detail));
  verdict.error = error;
  return error;
}

std::string status_list(std::vector<TcbStatus> const& statuses) {
  std::string out;
  for (auto s : statuses) {
    if (!out.empty()) out += ", ";
    out += to_string(s);
  }
  return out.empty() ? "none" : out;
}

}  // namespace

result<void> judge(Policy const& policy, Verdict& verdict, TimePoint now) {
  if (!verdict.accepted()) {
    if (verdict.error.failed()) return verdict.error;
    auto const* failure = verdict.first_failure();
    return Error(errc::malformed_signature_data, failure ? failure->detail : "verdict not accepted");
  }

  if (verdict.offline) {
    if (auto r = record(verdict, "policy_tcb_status", policy.allow_offline,
                        policy.allow_offline ? "offline verification accepted by policy (TCB status unknown)"
                                             : "verified without collateral: TCB status unknown, and the policy "
                                               "requires collateral",
                        errc::offline_not_allowed);
        !r)
      return r;
  } else if (policy.tcb_mode != Policy::TcbMode::disabled) {
    bool const allowed = std::find(policy.allowed_tcb_statuses.begin(), policy.allowed_tcb_statuses.end(),
                                   verdict.tcb_status) != policy.allowed_tcb_statuses.end();
    std::string detail = "TCB status " + std::string(to_string(verdict.tcb_status)) +
                         (allowed ? " is allowed" : " is not in the allowed list (" +
                                                        status_list(policy.allowed_tcb_statuses) + ")");
    if (!allowed && policy.tcb_mode == Policy::TcbMode::warn) {
      verdict.steps.push_back({"policy_tcb_status", true, detail + "; tolerated (tcb mode warn)"});
    } else if (auto r = record(verdict, "policy_tcb_status", allowed, detail, errc::tcb_status_not_allowed); !r) {
      return r;
    }
  }

  bool const debug = verdict.td_report.debug();
  if (auto r = record(verdict, "policy_debug", !debug || policy.allow_debug,
                      debug ? (policy.allow_debug ? "debug TD allowed by policy"
                                                  : "the TD runs in debug mode (TDATTRIBUTES bit 0): its memory "
                                                    "is readable by the host")
                            : "not a debug TD",
                      errc::debug_td_refused);
      !r)
    return r;

  if (!policy.allowed_mrtds.empty()) {
    auto const& mrtd = verdict.td_report.mr_td;
    bool const trusted =
        std::find(policy.allowed_mrtds.begin(), policy.allowed_mrtds.end(), mrtd) != policy.allowed_mrtds.end();
    if (auto r = record(verdict, "policy_mrtd", trusted,
                        "MRTD " + short_hex(mrtd) + (trusted ? " is trusted" : " is not in the trusted list"),
                        errc::mrtd_not_trusted);
        !r)
      return r;
  }

  for (std::size_t i = 0; i < 4; ++i) {
    auto const& expected = policy.expected_rtmrs[i];
    if (!expected) continue;
    auto const& actual = verdict.td_report.rtmr[i];
    bool const match = actual == *expected;
    if (auto r = record(verdict, "policy_rtmr" + std::to_string(i), match,
                        "RTMR" + std::to_string(i) + " " + short_hex(actual) +
                            (match ? " matches" : " differs from the expected " + short_hex(*expected)),
                        errc::rtmr_mismatch);
        !r)
      return r;
  }

  if (policy.max_collateral_age && !verdict.offline) {
    auto const age = std::chrono::duration_cast<std::chrono::seconds>(now - verdict.collateral_issued_at);
    bool const fresh = age <= *policy.max_collateral_age;
    if (auto r = record(verdict, "policy_collateral_age", fresh,
                        "collateral issued " + std::to_string(age.count()) + " s ago (limit " +
                            std::to_string(policy.max_collateral_age->count()) + " s)",
                        errc::collateral_too_old);
        !r)
      return r;
  }
  return {};
}

}  // namespace ee::tdx
