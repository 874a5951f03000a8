#pragma once
/// @file Error codes of TDX quote parsing and verification. Values are stable: new codes are
/// appended, never renumbered. The id of each is "tdx.<name>".
#include <easyenclave/error.hpp>

namespace ee::tdx {

enum class errc {
  quote_truncated = 1,              ///< fewer bytes than a declared length requires      -> invalid_input
  unsupported_version,              ///< header version not 4 or 5                        -> invalid_input
  not_a_td_quote,                   ///< an SGX quote (version 3, or tee_type != 0x81)    -> invalid_input
  unsupported_attestation_key_type, ///< not ECDSA-256-with-P-256 (type 2)                -> invalid_input
  unsupported_body_type,            ///< v5 body type other than 2 (TD 1.0) or 3 (TD 1.5) -> invalid_input
  body_size_mismatch,               ///< v5 body size does not match its type             -> invalid_input
  unsupported_certification_data,   ///< outer type not 6 or nested type not 5 (PEM chain) -> invalid_input
  malformed_signature_data,         ///< declared sizes inside the signature data disagree -> invalid_input
  // DCAP verification and collateral (verify.hpp, collateral.hpp).
  malformed_collateral,       ///< collateral document/CRL/bundle malformed  -> invalid_input
  bad_certificate,            ///< a certificate or PEM chain does not parse -> invalid_input
  bad_quote_signature,        ///< attestation-key signature fails           -> unauthenticated
  pck_chain_untrusted,        ///< PCK chain broken or not at pinned root    -> unauthenticated
  certificate_expired,        ///< a certificate past notAfter at `now`      -> unauthenticated
  certificate_not_yet_valid,  ///< a certificate before notBefore at `now`   -> unauthenticated
  certificate_revoked,        ///< a certificate is in its issuer's CRL      -> forbidden
  bad_qe_report_signature,    ///< PCK-key signature over QE report fails    -> unauthenticated
  qe_report_binding_mismatch, ///< QE report data does not bind the key      -> unauthenticated
  bad_collateral_signature,   ///< TCB info/QE identity/CRL signature bad    -> unauthenticated
  collateral_expired,         ///< TCB info/QE identity/CRL past nextUpdate  -> upstream_failure
  collateral_not_yet_valid,   ///< issueDate/thisUpdate later than `now`     -> upstream_failure
  crl_issuer_mismatch,        ///< CRL not by the certificate's issuer       -> unauthenticated
  fmspc_mismatch,             ///< TCB info FMSPC/PCE-ID differ from PCK's   -> forbidden
  qe_identity_mismatch,       ///< QE report does not match QE identity      -> forbidden
  tdx_module_mismatch,        ///< TDX module not matched by the TCB info    -> forbidden
  tcb_level_not_supported,    ///< no TCB level matches the platform         -> forbidden
  pck_extension_malformed,    ///< PCK certificate SGX extension malformed   -> invalid_input
  collateral_chain_untrusted, ///< collateral issuer chain misses the root   -> unauthenticated
  collateral_mismatch,        ///< not TDX collateral (SGX, QE not TD_QE)    -> invalid_input
  // Quote providers (provider.hpp, simulator.hpp).
  tsm_unavailable,            ///< no configfs-tsm (not a TDX guest?)        -> unavailable
  tsm_failed,                 ///< configfs-tsm produced no quote            -> upstream_failure
  simulator_failed,           ///< simulator PKI, files or signing failed    -> upstream_failure
  // Policy (policy.hpp): the quote verified, but the policy refuses it.
  tcb_status_not_allowed,     ///< TCB status outside the allowed list       -> forbidden
  offline_not_allowed,        ///< verified without collateral, not allowed  -> forbidden
  debug_td_refused,           ///< TD in debug mode                          -> forbidden
  mrtd_not_trusted,           ///< MRTD not in the trusted list              -> forbidden
  rtmr_mismatch,              ///< an RTMR differs from its expected value   -> forbidden
  collateral_too_old,         ///< collateral older than the policy allows   -> forbidden
  // Collateral fetching (fetcher.hpp).
  collateral_not_found,       ///< PCS/PCCS has no collateral (unknown FMSPC) -> not_found
  collateral_fetch_failed,    ///< PCS/PCCS failed or answered badly         -> upstream_failure
};
error_code make_error_code(errc e) noexcept;

}  // namespace ee::tdx

template <>
struct boost::system::is_error_code_enum<ee::tdx::errc> : std::true_type {};
