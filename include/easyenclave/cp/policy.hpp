#pragma once
/// @file How the control plane judges an agent's appraised evidence: which appraisers it
/// accepts, how the nonce is checked, which TCB statuses pass, the RTMR baseline, and which
/// MRTDs are trusted (per node size). Pure: no I/O, the trusted list is a parameter.
#include <easyenclave/error.hpp>
#include <easyenclave/registry/types.hpp>
#include <easyenclave/tdx/appraisal.hpp>
#include <easyenclave/tdx/policy.hpp>

#include <array>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace ee::cp {

/// Whether registrations must carry a nonce the CP issued. Production requires it; the CP
/// refuses to start otherwise unless in dev mode.
enum class NonceMode {
  required,  ///< every registration and re-attestation binds an issued, unexpired nonce
  optional,  ///< a nonce, when sent, must be valid; evidence without one is accepted (dev)
  disabled,  ///< nonces are not checked (dev only)
};
std::string_view to_string(NonceMode m) noexcept;
std::optional<NonceMode> parse_nonce_mode(std::string_view text) noexcept;

/// Whether an agent must prove its owner label with an owner's bootstrap token. Production
/// requires it; the CP refuses to start otherwise unless in dev mode.
enum class OwnerProofMode {
  required,  ///< a new vm_name, or a new key without the recorded key's signature, needs a token
  optional,  ///< a token, when sent, must be valid; without one the owner stays a claim (dev)
  disabled,  ///< tokens are not read; the owner is whatever the agent says (dev only)
};
std::string_view to_string(OwnerProofMode m) noexcept;
std::optional<OwnerProofMode> parse_owner_proof_mode(std::string_view text) noexcept;

/// Which evidence a registration may carry.
enum class AppraisalMode {
  any,    ///< a raw quote is verified locally when sent, else the ITA token
  ita,    ///< only Intel Trust Authority tokens
  local,  ///< only raw quotes, verified here with DCAP
};
std::string_view to_string(AppraisalMode m) noexcept;
std::optional<AppraisalMode> parse_appraisal_mode(std::string_view text) noexcept;

struct AttestationPolicy {
  AppraisalMode appraisal = AppraisalMode::any;
  NonceMode nonce_mode = NonceMode::required;
  tdx::Policy::TcbMode tcb_mode = tdx::Policy::TcbMode::strict;
  std::vector<tdx::TcbStatus> allowed_tcb_statuses{tdx::TcbStatus::up_to_date};
  /// TDs with the debug attribute expose their memory to the host: refused unless set.
  bool allow_debug = false;
  /// Expected RTMR0..3; an empty optional is not checked.
  std::array<std::optional<tdx::Measurement>, 4> expected_rtmrs{};
};

/// A problem the policy tolerated (tcb_mode warn), for the log and the record.
struct PolicyWarning {
  std::string check{};
  std::string detail{};
};

/// Judges `appraisal` for an agent of `node_size` with `tdx::judge` (tdx/policy.hpp): `policy`'s
/// TCB mode and statuses, debug attribute and RTMRs, and as its MRTD allow-list the `trusted`
/// MRTDs of kind "agent" for that node size (an entry with an empty node_size matches every
/// size). An empty trusted list trusts nothing: the CP refuses to start that way outside dev
/// mode, and in dev mode passes `trust_any_mrtd`.
/// @returns the tolerated warnings (check "tcb_status" under tcb_mode warn), or
///          condition::forbidden: tdx::errc::debug_td_refused, tcb_status_not_allowed,
///          mrtd_not_trusted (its message names the node size), rtmr_mismatch. Never throws
///          (except bad_alloc).
result<std::vector<PolicyWarning>> judge(AttestationPolicy const& policy, tdx::Appraisal const& appraisal,
                                         std::string_view node_size,
                                         std::span<registry::TrustedMeasurement const> trusted,
                                         bool trust_any_mrtd = false);

}  // namespace ee::cp
