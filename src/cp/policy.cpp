// Judging an appraisal: the checks of tdx::judge (which works on a local Verdict), restated over
// the Appraisal both attestation paths produce, plus the per-node-size trusted MRTD list.
#include <easyenclave/cp/policy.hpp>
#include <easyenclave/encoding.hpp>

#include <algorithm>
#include <string>

namespace ee::cp {

std::string_view to_string(NonceMode m) noexcept {
  switch (m) {
    case NonceMode::required: return "required";
    case NonceMode::optional: return "optional";
    case NonceMode::disabled: return "disabled";
  }
  return "required";
}

std::optional<NonceMode> parse_nonce_mode(std::string_view text) noexcept {
  for (auto m : {NonceMode::required, NonceMode::optional, NonceMode::disabled}) {
    if (to_string(m) == text) return m;
  }
  return std::nullopt;
}

std::string_view to_string(OwnerProofMode m) noexcept {
  switch (m) {
    case OwnerProofMode::required: return "required";
    case OwnerProofMode::optional: return "optional";
    case OwnerProofMode::disabled: return "disabled";
  }
  return "required";
}

std::optional<OwnerProofMode> parse_owner_proof_mode(std::string_view text) noexcept {
  for (auto m : {OwnerProofMode::required, OwnerProofMode::optional, OwnerProofMode::disabled}) {
    if (to_string(m) == text) return m;
  }
  return std::nullopt;
}

std::string_view to_string(AppraisalMode m) noexcept {
  switch (m) {
    case AppraisalMode::any: return "any";
    case AppraisalMode::ita: return "ita";
    case AppraisalMode::local: return "local";
  }
  return "any";
}

std::optional<AppraisalMode> parse_appraisal_mode(std::string_view text) noexcept {
  for (auto m : {AppraisalMode::any, AppraisalMode::ita, AppraisalMode::local}) {
    if (to_string(m) == text) return m;
  }
  return std::nullopt;
}

result<std::vector<PolicyWarning>> judge(AttestationPolicy const& policy, tdx::Appraisal const& appraisal,
                                         std::string_view node_size,
                                         std::span<registry::TrustedMeasurement const> trusted,
                                         bool trust_any_mrtd) {
  std::vector<PolicyWarning> warnings;

  if (appraisal.debug() && !policy.allow_debug) {
    return Error(tdx::errc::debug_td_refused, "the TD runs with the debug attribute set");
  }

  if (policy.tcb_mode != tdx::Policy::TcbMode::disabled) {
    auto const& allowed = policy.allowed_tcb_statuses;
    if (std::find(allowed.begin(), allowed.end(), appraisal.tcb_status) == allowed.end()) {
      std::string detail = "TCB status " + std::string(tdx::to_string(appraisal.tcb_status)) +
                           " is not allowed (allowed:";
      for (auto s : allowed) detail += " " + std::string(tdx::to_string(s));
      detail += ")";
      if (policy.tcb_mode == tdx::Policy::TcbMode::strict) {
        return Error(tdx::errc::tcb_status_not_allowed, detail);
      }
      warnings.push_back({"tcb_status", detail});
    }
  }

  auto const mrtd = hex_encode(appraisal.mr_td);
  if (!trust_any_mrtd) {
    bool const is_trusted = std::any_of(trusted.begin(), trusted.end(), [&](auto const& m) {
      return m.mrtd == mrtd && m.kind == "agent" && (m.node_size.empty() || m.node_size == node_size);
    });
    if (!is_trusted) {
      return Error(tdx::errc::mrtd_not_trusted, "MRTD " + mrtd + " is not trusted for node size '" +
                                                    std::string(node_size) + "'");
    }
  }

  for (std::size_t i = 0; i < 4; ++i) {
    auto const& expected = policy.expected_rtmrs[i];
    if (expected && *expected != appraisal.rtmr[i]) {
      return Error(tdx::errc::rtmr_mismatch, "RTMR" + std::to_string(i) + " is " + hex_encode(appraisal.rtmr[i]) +
                                                 ", expected " + hex_encode(*expected));
    }
  }
  return warnings;
}

}  // namespace ee::cp
