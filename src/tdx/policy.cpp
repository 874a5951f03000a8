// The one policy judge, over an Appraisal; the Verdict form converts and records its steps.
#include <easyenclave/tdx/policy.hpp>

#include "detail/encoding.hpp"

#include <algorithm>
#include <string>

namespace ee::tdx {
namespace {

std::string status_list(std::vector<TcbStatus> const& statuses) {
  std::string out;
  for (auto s : statuses) {
    if (!out.empty()) out += ", ";
    out += to_string(s);
  }
  return out.empty() ? "none" : out;
}

// Records one check in the judgement; a failed one becomes its error. Returns whether it passed.
bool record(Judgement& j, std::string name, bool passed, std::string detail, errc code) {
  j.steps.push_back({std::move(name), passed, detail});
  if (!passed) j.error = Error(code, std::move(detail));
  return passed;
}

}  // namespace

Judgement judge(Policy const& policy, Appraisal const& appraisal, TimePoint now) {
  Judgement j;

  // The debug attribute first: a TD whose memory the host can read is refused whatever else holds.
  bool const debug = appraisal.debug();
  if (!record(j, "policy_debug", !debug || policy.allow_debug,
              debug ? (policy.allow_debug ? "debug TD allowed by policy"
                                          : "the TD runs in debug mode (TDATTRIBUTES bit 0): its "
                                            "memory is readable by the host")
                    : "not a debug TD",
              errc::debug_td_refused))
    return j;

  if (appraisal.offline) {
    if (!record(j, "policy_tcb_status", policy.allow_offline,
                policy.allow_offline
                    ? "offline verification accepted by policy (TCB status unknown)"
                    : "verified without collateral: TCB status unknown, and the policy requires "
                      "collateral",
                errc::offline_not_allowed))
      return j;
  } else if (policy.tcb_mode != Policy::TcbMode::disabled) {
    auto const& allowed_list = policy.allowed_tcb_statuses;
    bool const allowed = std::find(allowed_list.begin(), allowed_list.end(),
                                   appraisal.tcb_status) != allowed_list.end();
    std::string detail =
        "TCB status " + std::string(to_string(appraisal.tcb_status)) +
        (allowed ? " is allowed"
                 : " is not in the allowed list (" + status_list(allowed_list) + ")");
    if (!allowed && policy.tcb_mode == Policy::TcbMode::warn) {
      VerificationStep step{"policy_tcb_status", true, detail + "; tolerated (tcb mode warn)"};
      j.steps.push_back(step);
      j.tolerated.push_back(std::move(step));
    } else if (!record(j, "policy_tcb_status", allowed, std::move(detail),
                       errc::tcb_status_not_allowed)) {
      return j;
    }
  }

  if (!policy.allowed_mrtds.empty()) {
    auto const& mrtd = appraisal.mr_td;
    bool const trusted = std::find(policy.allowed_mrtds.begin(), policy.allowed_mrtds.end(),
                                   mrtd) != policy.allowed_mrtds.end();
    if (!record(j, "policy_mrtd", trusted,
                "MRTD " + detail::hex_encode(mrtd) +
                    (trusted ? " is trusted" : " is not in the trusted list"),
                errc::mrtd_not_trusted))
      return j;
  }

  for (std::size_t i = 0; i < 4; ++i) {
    auto const& expected = policy.expected_rtmrs[i];
    if (!expected) continue;
    auto const& actual = appraisal.rtmr[i];
    bool const match = actual == *expected;
    if (!record(j, "policy_rtmr" + std::to_string(i), match,
                "RTMR" + std::to_string(i) + " " + detail::hex_encode(actual) +
                    (match ? " matches" : " differs from the expected " + detail::hex_encode(*expected)),
                errc::rtmr_mismatch))
      return j;
  }

  if (policy.max_collateral_age && !appraisal.offline) {
    auto const limit = " (limit " + std::to_string(policy.max_collateral_age->count()) + " s)";
    if (!appraisal.collateral_issued_at) {
      // An appraiser that does not say how old its collateral was cannot meet a limit on it.
      record(j, "policy_collateral_age", false,
             "the appraisal does not say when its collateral was issued" + limit,
             errc::collateral_too_old);
      return j;
    }
    auto const age =
        std::chrono::duration_cast<std::chrono::seconds>(now - *appraisal.collateral_issued_at);
    if (!record(j, "policy_collateral_age", age <= *policy.max_collateral_age,
                "collateral issued " + std::to_string(age.count()) + " s ago" + limit,
                errc::collateral_too_old))
      return j;
  }
  return j;
}

result<void> judge(Policy const& policy, Verdict& verdict, TimePoint now) {
  if (!verdict.accepted()) {
    if (verdict.error.failed()) return verdict.error;
    auto const* failure = verdict.first_failure();
    return Error(errc::malformed_signature_data, failure ? failure->detail : "verdict not accepted");
  }
  auto judgement = judge(policy, appraisal_from_verdict(verdict), now);
  verdict.steps.insert(verdict.steps.end(), judgement.steps.begin(), judgement.steps.end());
  if (judgement.accepted()) return {};
  verdict.error = judgement.error;
  return judgement.error;
}

}  // namespace ee::tdx
