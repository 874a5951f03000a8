#include <easyenclave/tdx/error.hpp>

#include "detail/error_category.hpp"

namespace ee::tdx {
namespace {
using detail::CodeInfo;
constexpr auto ii = condition::invalid_input;
constexpr auto ua = condition::unauthenticated;
constexpr auto fb = condition::forbidden;
constexpr auto uf = condition::upstream_failure;
constexpr CodeInfo kTdxCodes[] = {
    {static_cast<int>(errc::quote_truncated), "quote_truncated", "quote is shorter than its declared lengths", ii},
    {static_cast<int>(errc::unsupported_version), "unsupported_version", "quote version is not 4 or 5", ii},
    {static_cast<int>(errc::not_a_td_quote), "not_a_td_quote", "not a TDX quote", ii},
    {static_cast<int>(errc::unsupported_attestation_key_type), "unsupported_attestation_key_type",
     "attestation key type is not ECDSA P-256", ii},
    {static_cast<int>(errc::unsupported_body_type), "unsupported_body_type", "quote body type is not a TD report", ii},
    {static_cast<int>(errc::body_size_mismatch), "body_size_mismatch", "quote body size does not match its type", ii},
    {static_cast<int>(errc::unsupported_certification_data), "unsupported_certification_data",
     "certification data type is not supported", ii},
    {static_cast<int>(errc::malformed_signature_data), "malformed_signature_data",
     "sizes inside the quote signature data disagree", ii},
    {static_cast<int>(errc::malformed_collateral), "malformed_collateral", "collateral does not parse", ii},
    {static_cast<int>(errc::bad_certificate), "bad_certificate", "certificate does not parse", ii},
    {static_cast<int>(errc::bad_quote_signature), "bad_quote_signature",
     "quote signature does not verify with the attestation key", ua},
    {static_cast<int>(errc::pck_chain_untrusted), "pck_chain_untrusted",
     "PCK certificate chain does not lead to the trusted root", ua},
    {static_cast<int>(errc::certificate_expired), "certificate_expired", "certificate has expired", ua},
    {static_cast<int>(errc::certificate_not_yet_valid), "certificate_not_yet_valid",
     "certificate is not yet valid", ua},
    {static_cast<int>(errc::certificate_revoked), "certificate_revoked", "certificate is revoked", fb},
    {static_cast<int>(errc::bad_qe_report_signature), "bad_qe_report_signature",
     "QE report signature does not verify with the PCK key", ua},
    {static_cast<int>(errc::qe_report_binding_mismatch), "qe_report_binding_mismatch",
     "QE report data does not bind the attestation key", ua},
    {static_cast<int>(errc::bad_collateral_signature), "bad_collateral_signature",
     "collateral signature does not verify", ua},
    {static_cast<int>(errc::collateral_expired), "collateral_expired", "collateral has expired", uf},
    {static_cast<int>(errc::collateral_not_yet_valid), "collateral_not_yet_valid",
     "collateral is not yet valid", uf},
    {static_cast<int>(errc::crl_issuer_mismatch), "crl_issuer_mismatch",
     "CRL is not issued by the certificate's issuer", ua},
    {static_cast<int>(errc::fmspc_mismatch), "fmspc_mismatch",
     "TCB info is for another platform (FMSPC or PCE-ID)", fb},
    {static_cast<int>(errc::qe_identity_mismatch), "qe_identity_mismatch",
     "quoting enclave does not match the QE identity", fb},
    {static_cast<int>(errc::tdx_module_mismatch), "tdx_module_mismatch",
     "TDX module does not match the TCB info", fb},
    {static_cast<int>(errc::tcb_level_not_supported), "tcb_level_not_supported",
     "no TCB level matches the platform", fb},
    {static_cast<int>(errc::pck_extension_malformed), "pck_extension_malformed",
     "PCK certificate SGX extension is malformed", ii},
    {static_cast<int>(errc::collateral_chain_untrusted), "collateral_chain_untrusted",
     "collateral issuer chain does not lead to the trusted root", ua},
    {static_cast<int>(errc::collateral_mismatch), "collateral_mismatch",
     "collateral is not TDX collateral", ii},
    {static_cast<int>(errc::tsm_unavailable), "tsm_unavailable",
     "configfs-tsm is not available (not a TDX guest, or the kernel lacks TSM reports)",
     condition::unavailable},
    {static_cast<int>(errc::tsm_failed), "tsm_failed", "configfs-tsm did not produce a quote", uf},
    {static_cast<int>(errc::simulator_failed), "simulator_failed", "the quote simulator failed",
     uf},
    {static_cast<int>(errc::tcb_status_not_allowed), "tcb_status_not_allowed",
     "TCB status not allowed by policy", condition::forbidden},
    {static_cast<int>(errc::offline_not_allowed), "offline_not_allowed",
     "verification without collateral not allowed by policy", condition::forbidden},
    {static_cast<int>(errc::debug_td_refused), "debug_td_refused", "debug TD refused by policy",
     condition::forbidden},
    {static_cast<int>(errc::mrtd_not_trusted), "mrtd_not_trusted", "MRTD not trusted", condition::forbidden},
    {static_cast<int>(errc::rtmr_mismatch), "rtmr_mismatch", "RTMR differs from the expected value",
     condition::forbidden},
    {static_cast<int>(errc::collateral_too_old), "collateral_too_old", "collateral older than policy allows",
     condition::forbidden},
    {static_cast<int>(errc::collateral_not_found), "collateral_not_found",
     "no collateral is published for this platform", condition::not_found},
    {static_cast<int>(errc::collateral_fetch_failed), "collateral_fetch_failed",
     "fetching collateral failed", uf},
};
}  // namespace

error_code make_error_code(errc e) noexcept {
  static detail::TableCategory const category("tdx", kTdxCodes);
  return {static_cast<int>(e), category};
}

}  // namespace ee::tdx
