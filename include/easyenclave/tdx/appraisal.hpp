#pragma once
/// @file The one appraisal value both attestation paths produce: local DCAP verification of a
/// quote (`tdx::verify`, then `appraisal_from_verdict`) and an Intel Trust Authority token
/// (`jwt::verify_ita_token`). A policy judges an Appraisal without knowing which path made it.
///
/// It lives in tdx/ because it describes a TD and its platform (measurements, TCB status), and
/// because the jwt/ module builds on tdx/ while tdx/ must not depend on jwt/.
#include <easyenclave/tdx/collateral.hpp>
#include <easyenclave/tdx/quote.hpp>
#include <easyenclave/tdx/verify.hpp>

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ee::tdx {

/// Who appraised the evidence.
enum class Appraiser {
  local_dcap = 1,         ///< this library, `tdx::verify` against Intel collateral
  intel_trust_authority,  ///< Intel Trust Authority, via its signed attestation token
};

/// "local_dcap" / "intel_trust_authority".
constexpr std::string_view to_string(Appraiser a) noexcept {
  return a == Appraiser::intel_trust_authority ? "intel_trust_authority" : "local_dcap";
}

/// What is known about an attested TD after its evidence was appraised. Plain data; every field
/// has a default. Produced only from verified evidence: an Appraisal is never built from an
/// unverified quote or token.
struct Appraisal {
  Appraiser appraised_by = Appraiser::local_dcap;
  /// "TDX" (the only attester type accepted today).
  std::string attester_type = "TDX";
  /// MRTD: the measurement of the TD's initial memory (firmware), what policies pin.
  Measurement mr_td{};
  /// RTMR0..3.
  std::array<Measurement, 4> rtmr{};
  /// REPORTDATA: 64 bytes chosen by the TD, where freshness (nonce) and key bindings live.
  ReportData report_data{};
  /// TDATTRIBUTES (bit 0 debug, bit 28 SEPT_VE_DISABLE) and XFAM, as in the TD report.
  Bytes8 td_attributes{};
  Bytes8 xfam{};
  /// The TDX module: TEE_TCB_SVN, MRSEAM, MRSIGNERSEAM.
  Bytes16 tee_tcb_svn{};
  Measurement mr_seam{};
  Measurement mr_signer_seam{};
  Measurement mr_config_id{};
  Measurement mr_owner{};
  Measurement mr_owner_config{};
  /// The platform's TCB status, the tcbDate of its matched level, and the Intel security
  /// advisories that apply. `unknown` when the appraiser could not evaluate it (offline DCAP).
  TcbStatus tcb_status = TcbStatus::unknown;
  std::optional<TimePoint> tcb_date{};
  std::vector<std::string> advisory_ids{};
  /// Local DCAP verification without collateral: signatures and the PCK chain only, so the TCB
  /// status was not evaluated (`tcb_status` is unknown). Never set for ITA appraisals.
  bool offline = false;
  /// When the collateral the appraiser used was issued (the latest issueDate/thisUpdate of TCB
  /// info, QE identity and CRLs); unset when not known (offline, or an ITA token).
  std::optional<TimePoint> collateral_issued_at{};
  /// When the appraisal was made (the verification clock, or the token's iat).
  TimePoint appraised_at{};
  /// Until when the appraiser vouches for it (the token's exp; unset for local appraisals, whose
  /// freshness is that of the collateral).
  std::optional<TimePoint> valid_until{};

  /// TDATTRIBUTES bit 0: the TD's memory is readable by the host.
  bool debug() const noexcept { return (td_attributes[0] & 0x01) != 0; }
};

/// The Appraisal of an accepted local verification. `verdict` should be accepted (check first);
/// the TCB fields are copied as the verdict has them (unknown offline). Never throws (except
/// bad_alloc).
inline Appraisal appraisal_from_verdict(Verdict const& verdict) {
  Appraisal a;
  a.appraised_by = Appraiser::local_dcap;
  auto const& r = verdict.td_report;
  a.mr_td = r.mr_td;
  a.rtmr = r.rtmr;
  a.report_data = r.report_data;
  a.td_attributes = r.td_attributes;
  a.xfam = r.xfam;
  a.tee_tcb_svn = r.tee_tcb_svn;
  a.mr_seam = r.mr_seam;
  a.mr_signer_seam = r.mr_signer_seam;
  a.mr_config_id = r.mr_config_id;
  a.mr_owner = r.mr_owner;
  a.mr_owner_config = r.mr_owner_config;
  a.tcb_status = verdict.tcb_status;
  if (verdict.tcb_date != TimePoint{}) a.tcb_date = verdict.tcb_date;
  a.advisory_ids = verdict.advisory_ids;
  a.offline = verdict.offline;
  if (!verdict.offline) a.collateral_issued_at = verdict.collateral_issued_at;
  a.appraised_at = verdict.checked_at;
  return a;
}

}  // namespace ee::tdx
