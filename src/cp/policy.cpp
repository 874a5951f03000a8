// The control plane's policy: tdx::judge of the Appraisal both attestation paths produce, with
// the per-node-size trusted MRTD list from the store as its MRTD allow-list.
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
  tdx::Policy p;
  p.tcb_mode = policy.tcb_mode;
  p.allowed_tcb_statuses = policy.allowed_tcb_statuses;
  p.allow_debug = policy.allow_debug;
  p.expected_rtmrs = policy.expected_rtmrs;
  // The CP-specific part: the MRTDs trusted for agents of this node size become the judge's
  // allow-list. tdx::Policy reads an empty list as "any", the CP as "none".
  if (!trust_any_mrtd) {
    for (auto const& m : trusted) {
      if (m.kind != "agent" || !(m.node_size.empty() || m.node_size == node_size)) continue;
      auto bytes = hex_decode(m.mrtd);
      if (!bytes || bytes->size() != tdx::Measurement{}.size()) continue;  // the store keeps 96 hex
      tdx::Measurement mrtd{};
      std::copy(bytes->begin(), bytes->end(), mrtd.begin());
      p.allowed_mrtds.push_back(mrtd);
    }
  }
  // The collateral age is the only check that reads the clock, and the CP's policy sets none:
  // the appraisal's own time serves.
  auto judgement = tdx::judge(p, appraisal, appraisal.appraised_at);
  if (judgement.accepted() && !trust_any_mrtd && p.allowed_mrtds.empty()) {
    judgement.error = Error(tdx::errc::mrtd_not_trusted, "MRTD " + hex_encode(appraisal.mr_td) +
                                                             " is not in the trusted list (none for this node size)");
  }
  if (!judgement.accepted()) {
    if (judgement.error == tdx::errc::mrtd_not_trusted) {
      return judgement.error.with_context("node size '" + std::string(node_size) + "'");
    }
    return judgement.error;
  }
  std::vector<PolicyWarning> warnings;
  for (auto const& step : judgement.tolerated) {
    auto check = std::string_view(step.name);
    if (check.starts_with("policy_")) check.remove_prefix(7);
    warnings.push_back({std::string(check), step.detail});
  }
  return warnings;
}

}  // namespace ee::cp
